"""Time to first drawn frame: `stonks-tui --demo` vs a bare Textual app showing one Static, both in tmux.

Each run starts a tmux session (80×24) running the command and polls `capture-pane` every 5 ms until the
screen shows the app's text: the Welcome screen's "Install — plan, confirm, apply" for stonks-tui, "bare app
ready" for the baseline. Runs alternate between the two (side by side). stonks-tui is measured warm (its demo
state exists, as for an operator coming back) and cold (a fresh state dir: the simulated world, the clone and
the keyring are created first).

Usage: python -m bench.first_frame [runs]
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

BARE = [sys.executable, str(Path(__file__).with_name("bare_app.py"))]


def first_frame(argv: list[str], marker: str, env: dict[str, str]) -> float:
    name = f"ff-{uuid.uuid4().hex[:8]}"
    command = " ".join(argv)
    t0 = time.perf_counter()
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "80", "-y", "24", command], check=True, env=env)
    try:
        while True:
            shown = subprocess.run(["tmux", "capture-pane", "-p", "-t", name], capture_output=True, text=True).stdout
            if marker in shown:
                return time.perf_counter() - t0
            if time.perf_counter() - t0 > 60:
                raise RuntimeError(f"{marker!r} never appeared:\n{shown}")
            time.sleep(0.005)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


def main() -> None:
    if shutil.which("tmux") is None:
        sys.exit("tmux is needed")
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_")}
    env["STONKS_SIM_SPEED"] = "0"
    compile_package()
    # A keeper session holds the tmux server up: no run pays for its start, and no run races its exit.
    keeper = f"ff-keeper-{uuid.uuid4().hex[:6]}"
    subprocess.run(["tmux", "new-session", "-d", "-s", keeper, "sleep 3600"], check=True)
    try:
        measure(runs, env)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", keeper], capture_output=True)


def measure(runs: int, env: dict[str, str]) -> None:
    warm_dir = Path(tempfile.mkdtemp(prefix="ff-warm-"))
    ours = [EXE, "--state-dir", str(warm_dir), "--demo"]
    first_frame(ours, "Install — plan, confirm, apply", env)  # creates the warm state
    bare, warm, cold = [], [], []
    for _ in range(runs):
        bare.append(first_frame(BARE, "bare app ready", env))
        warm.append(first_frame(ours, "Install — plan, confirm, apply", env))
        with tempfile.TemporaryDirectory(prefix="ff-cold-") as d:
            cold.append(first_frame([EXE, "--state-dir", d, "--demo"], "Install — plan, confirm, apply", env))
    shutil.rmtree(warm_dir, ignore_errors=True)
    b, w, c = statistics.median(bare), statistics.median(warm), statistics.median(cold)
    print(f"first frame in tmux (median of {runs}): bare Textual app {b * 1000:.0f} ms; stonks-tui --demo warm "
          f"{w * 1000:.0f} ms ({w / b:.2f}×), cold {c * 1000:.0f} ms ({c / b:.2f}×)")


if __name__ == "__main__":
    main()
