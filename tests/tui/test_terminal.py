"""A real terminal: the installed `stonks-tui --demo` in tmux at 80×24, driven by keys, read by capture-pane."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

EXE = Path(sys.executable).parent / "stonks-tui"
pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def screen(name: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", name], capture_output=True, text=True).stdout


def wait_text(name: str, text: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while True:
        shown = screen(name)
        if text in shown:
            return shown
        assert time.monotonic() < deadline, f"{text!r} never appeared; screen:\n{shown}"
        time.sleep(0.2)


def test_demo_install_over_a_terminal(tmp_path: Path) -> None:
    name = f"stonks-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_")}
    command = f"STONKS_SIM_SPEED=0 {EXE} --state-dir {tmp_path} --demo; echo EXITED=$?; sleep 30"
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "80", "-y", "24", command], check=True, env=env)
    try:
        wait_text(name, "Install — plan, confirm, apply")
        subprocess.run(["tmux", "send-keys", "-t", name, "i"], check=True)
        wait_text(name, "enter starts")
        subprocess.run(["tmux", "send-keys", "-t", name, "Enter"], check=True)
        wait_text(name, "install finished")
        subprocess.run(["tmux", "send-keys", "-t", name, "Enter"], check=True)
        shown = wait_text(name, "Done.")
        assert "arc-removed" in shown and "✗" not in shown
        subprocess.run(["tmux", "send-keys", "-t", name, "q"], check=True)
        wait_text(name, "EXITED=0", timeout=20)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
