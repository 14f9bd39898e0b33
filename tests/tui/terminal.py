"""Driving the installed wizard in tmux: read the pane, wait for text or a step's row, press keys, and the
key path from Welcome to a started install. Used by tests/tui/test_terminal.py and bench/ssh_bytes.py."""

from __future__ import annotations

import subprocess
import time


def screen(name: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", name], capture_output=True, text=True).stdout


def wait_text(name: str, *texts: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while True:
        shown = screen(name)
        if all(text in shown for text in texts):
            return shown
        if time.monotonic() > deadline:
            raise AssertionError(f"{texts!r} never appeared; screen:\n{shown}")
        time.sleep(0.1)


def wait_row(name: str, mark: str, step: str, timeout: float = 120) -> str:
    """Wait until the step list shows `step` with `mark` (a row of the table, whatever its spacing)."""
    deadline = time.monotonic() + timeout
    while True:
        shown = screen(name)
        if any(mark in line and f" {step} " in line for line in shown.splitlines()):
            return shown
        if time.monotonic() > deadline:
            raise AssertionError(f"{mark} {step} never appeared; screen:\n{shown}")
        time.sleep(0.1)


def keys(name: str, *pressed: str) -> None:
    subprocess.run(["tmux", "send-keys", "-t", name, *pressed], check=True)


def start_install(name: str) -> None:
    """From Welcome to a running install: Prerequisites (all pass), Settings as they are, Credentials (the demo
    keyring holds the admin password), Plan, Enter."""
    wait_text(name, "Install — plan, confirm, apply")
    keys(name, "i")
    wait_text(name, "checks pass", "enter: next")
    keys(name, "Enter")
    wait_text(name, "Settings —")
    keys(name, "C-n")
    wait_text(name, "Gitea credentials", "not initialised yet")
    keys(name, "C-n")
    wait_text(name, "enter starts")
    keys(name, "Enter")


def new_session(*args: str, env: dict[str, str] | None = None) -> None:
    """`tmux new-session -d ARGS`, asked again when it loses a race with a tmux server that is exiting (another
    test's last session just ended): `new-session` then fails with exit 1 (seen under load, two workers)."""
    for attempt in range(3):
        done = subprocess.run(["tmux", "new-session", "-d", *args], env=env, capture_output=True, text=True)
        if done.returncode == 0:
            return
        time.sleep(0.5 * (attempt + 1))
    raise AssertionError(f"tmux new-session failed: {done.stderr}")
