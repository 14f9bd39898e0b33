"""How long the Settings screen takes to show its keys, in a real terminal (issue 26: it took 1–4 s; goal ≤ 0.5 s).

`stonks-tui --demo` runs in tmux at 80×24; from Prerequisites (all checks passed) Enter opens Settings, and the
clock stops when capture-pane shows the form's first field and its footer's `Save answers`. Escape goes back;
that is one run. The session stays up across runs (the operator's case: the screen opened again).

Usage: python -m bench.settings_keys [runs]
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.common import EXE, compile_package
from tests.tui.terminal import keys, screen, wait_text


def until_shown(name: str, *texts: str, timeout: float = 30) -> float:
    t0 = time.perf_counter()
    while True:
        shown = screen(name)
        if all(text in shown for text in texts):
            return time.perf_counter() - t0
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError(f"{texts!r} never appeared:\n{shown}")
        time.sleep(0.005)


def main() -> None:
    if shutil.which("tmux") is None:
        sys.exit("tmux is needed")
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_")}
    env["STONKS_SIM_SPEED"] = "0"
    compile_package()
    name = f"sk-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="sk-") as state:
        command = f"{EXE} --state-dir {Path(state)} --demo"
        subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "80", "-y", "24", command], check=True, env=env)
        try:
            wait_text(name, "Install — plan, confirm, apply")
            keys(name, "i")
            wait_text(name, "checks pass", "enter: next")
            times = []
            for _ in range(runs + 1):  # the first opening pays for imports: not counted
                keys(name, "Enter")
                times.append(until_shown(name, "woodpecker_host", "Save answers"))
                keys(name, "Escape")
                wait_text(name, "checks pass", "enter: next")
                time.sleep(0.3)
        finally:
            subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
    counted = times[1:]
    print(f"Settings keys shown (tmux 80×24, median of {runs}): {statistics.median(counted) * 1000:.0f} ms "
          f"(runs: {', '.join(f'{t * 1000:.0f}' for t in counted)}; first opening {times[0] * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
