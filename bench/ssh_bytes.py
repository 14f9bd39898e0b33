"""Bytes over SSH: what the wizard writes to its terminal during a full demo install, and per minute idle.

The installed `stonks-tui --demo` runs in tmux (80×24); `tmux pipe-pane` copies every byte the program writes
to the pane into a file, which is what an SSH session would carry. Driven by keys through Welcome →
Prerequisites → Settings → Credentials → Plan → Progress; reported: bytes for the whole session up to
"install finished", the install alone (from Enter on the plan), then the bytes written in 60 s idle on the
finished progress screen.

Usage: BENCH_SIM_SPEED=0.2 python -m bench.ssh_bytes [idle_seconds]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.common import EXE, compile_package
from tests.tui.terminal import keys, start_install, wait_text


def main() -> None:
    if shutil.which("tmux") is None:
        sys.exit("tmux is needed")
    idle = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    compile_package()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_")}
    env["STONKS_SIM_SPEED"] = os.environ.get("BENCH_SIM_SPEED", "0.2")
    name = f"bytes-{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "pane.bytes"
        subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "80", "-y", "24", "bash --norc --noprofile"],
                       check=True, env=env)
        try:
            subprocess.run(["tmux", "pipe-pane", "-o", "-t", name, f"cat >> {out}"], check=True)
            keys(name, f"{EXE} --state-dir {d}/state --demo", "Enter")
            start_install(name)  # the byte count of the install alone starts at its last key, Enter on the plan
            before_install = out.stat().st_size
            wait_text(name, "install finished", timeout=300)
            time.sleep(1)  # the last frames
            total = out.stat().st_size
            time.sleep(idle)
            idle_bytes = out.stat().st_size - total
            keys(name, "C-q")
        finally:
            subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
    print(f"bytes to the terminal (80×24, STONKS_SIM_SPEED={env['STONKS_SIM_SPEED']}): whole session to "
          f"'install finished' {total / 1024:.0f} KiB, of which the install {(total - before_install) / 1024:.0f} "
          f"KiB; idle on the progress screen {idle_bytes} bytes in {idle:.0f} s "
          f"({idle_bytes * 60 / idle:.0f} bytes/min)")


if __name__ == "__main__":
    main()
