"""A real terminal: the installed `stonks-tui --demo` in tmux at 80×24, driven by keys, read by capture-pane.

One session: Welcome → Prerequisites → Settings → Credentials → Plan → Progress, killed (SIGKILL) in the middle of
the install; started again, it opens on the Resume screen, resumes to Done, then tears down keeping the PVs.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.tui.terminal import keys, new_session, start_install, wait_row, wait_text

EXE = Path(sys.executable).parent / "stonks-tui"
pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def engine_info(state: Path, timeout: float = 60) -> dict:
    """The engine process's own record (engine.json): its pid and the pids of the clients attached to it."""
    import json

    path = state / "stonks-demo" / "engine.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            info = json.loads(path.read_text())
            if info.get("clients"):
                return info
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise AssertionError("no engine with an attached wizard recorded itself")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}/stat").exists() else "X"
    return status not in ("Z", "X")


def test_install_killed_midway_resumes_to_done_then_teardown_keeps_pvs(tmp_path: Path) -> None:
    name = f"stonks-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_")}
    env["STONKS_SIM_SPEED"] = "0"
    command = f"{EXE} --state-dir {tmp_path} --demo; echo EXITED=$?"
    new_session("-s", name, "-x", "80", "-y", "24", "bash --norc --noprofile", env=env)
    try:
        keys(name, command, "Enter")
        start_install(name)
        shown = wait_row(name, "✓", "namespaces")  # some steps done, the install still running
        assert "install finished" not in shown
        info = engine_info(tmp_path)
        os.kill(info["pid"], signal.SIGKILL)  # the engine itself dies: its journal is what the next start resumes
        os.kill(info["clients"][0], signal.SIGKILL)
        wait_text(name, "EXITED=137")

        keys(name, "clear; " + command, "Enter")
        shown = wait_text(name, "did not finish", "interrupted")
        assert "Resume" in shown
        keys(name, "r")
        wait_text(name, "install finished")
        keys(name, "Enter")
        shown = wait_text(name, "Done.")
        assert "✗" not in shown
        keys(name, "Escape")
        wait_text(name, "Install — plan, confirm, apply")
        keys(name, "t")
        shown = wait_text(name, "PersistentVolumes kept:", "pipeline-woodpecker-pv")
        # the namespaces the run will delete, as its own step sorts them (three were named, five deleted)
        assert "the namespaces woodpecker, argocd, kargo, stonks-beta," in " ".join(shown.split()), shown
        keys(name, "y")
        wait_text(name, "teardown finished")
        keys(name, "Enter")
        shown = wait_text(name, "kept-pvs")
        assert "✗" not in shown
        keys(name, "q")
        wait_text(name, "EXITED=0", timeout=20)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


def test_a_dropped_session_ends_the_wizard_and_the_install_goes_on_to_done(tmp_path: Path) -> None:
    """Issue 16: `tmux kill-session` (SIGHUP) used to leave the wizard alive for minutes (and cancel the install).
    Now the wizard — identified by the pid it told the engine, not by pgrep — goes at once, the engine finishes the
    install, and a new session's wizard attaches to the live run with its backlog, then shows it finished."""
    import json

    name = f"stonks-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_")}
    env["STONKS_SIM_SPEED"] = "0.3"  # slow enough that the install is mid-flight when the session drops
    new_session("-s", name, "-x", "80", "-y", "24",
                f"{EXE} --state-dir {tmp_path} --demo", env=env)
    try:
        start_install(name)
        wait_row(name, "✓", "namespaces")
        info = engine_info(tmp_path)
        wizard = info["clients"][0]
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)  # the terminal goes: SIGHUP
    deadline = time.monotonic() + 10
    while alive(wizard):
        assert time.monotonic() < deadline, "the wizard outlived its terminal"
        time.sleep(0.1)
    assert alive(info["pid"]), "the engine went with the terminal"
    path = tmp_path / "stonks-demo" / "install.json"
    assert json.loads(path.read_text())["run"]["status"] == "running"

    second = f"stonks-{uuid.uuid4().hex[:8]}"
    new_session("-s", second, "-x", "120", "-y", "40",
                f"{EXE} --state-dir {tmp_path} --demo", env=env)
    try:
        shown = wait_text(second, "install finished", timeout=180)
        assert "✗" not in shown
    finally:
        subprocess.run(["tmux", "kill-session", "-t", second], capture_output=True)
    journal = json.loads(path.read_text())
    assert journal["run"]["status"] == "done", {s: r["state"] for s, r in journal["steps"].items()}


@pytest.mark.parametrize(("rel", "content", "needle"), [
    ("stonks-demo/install.json", '{"format": "stonks-tui-journal", "version": 1, "steps": {"a": {"state": "done", '
                                 '"attempts": "x"}}}', "attempts is 'x'"),
    ("demo/secrets.cryptfile", "this is not a keyring\n", "is not an encrypted keyring"),
])
def test_the_wizard_reports_a_damaged_state_file_like_the_cli(tmp_path: Path, rel: str, content: str,
                                                              needle: str) -> None:
    """Issue 15.6: a corrupt journal gave a full-screen crash dump with frame locals and exit 0; a keyring file that
    is not one froze Welcome. Now: the terminal restored, the message and hint, exit 2."""
    state = tmp_path / "state"
    (state / rel).parent.mkdir(parents=True, mode=0o700)
    state.chmod(0o700)
    (state / rel).write_text(content)
    name = f"stonks-bad-{uuid.uuid4().hex[:8]}"
    env = " ".join(f"{k}={v}" for k, v in {"STONKS_SIM_SPEED": "0", "TERM": "xterm-256color"}.items())
    script = (f"env -u STONKS_KEYRING_PASSPHRASE {env} {EXE} --state-dir {state} --demo 2> {tmp_path}/err.txt; "
              f"echo $? > {tmp_path}/rc.txt; sleep 30")
    new_session("-s", name, "-x", "80", "-y", "24", "sh", "-c", script)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "rc.txt").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        err = (tmp_path / "err.txt").read_text()
        assert (tmp_path / "rc.txt").read_text().strip() == "2", err
        assert needle in err and "hint:" in err, err
        assert "Traceback" not in err and "locals" not in err.lower(), err
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


def test_the_keys_panel_opens_and_closes_on_three_screens(tmp_path: Path) -> None:
    """Issue 26: `?` opened Textual's generic panel (`← Scroll Left`, `^c Copy selected text`…), which a second
    `?` did not close. In a real terminal at 80×24: Welcome, Prerequisites and Settings each list their own keys;
    the panel closes with the key that opened it and with escape (in a form, where `?` is typed, F1 opens it)."""
    name = f"stonks-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_")}
    env["STONKS_SIM_SPEED"] = "0"
    new_session("-s", name, "-x", "80", "-y", "24",
                f"{EXE} --state-dir {tmp_path} --demo", env=env)

    def panel(opened_by: str, title: str, *words: str) -> str:
        keys(name, opened_by)
        shown = wait_text(name, f"Keys — {title}", "close this panel", *words, timeout=30)
        for textual_word in ("Scroll Left", "Copy selected text", "Page Left", "Toggle"):
            assert textual_word not in shown, shown
        return shown

    def closed() -> None:
        deadline = time.monotonic() + 10
        while "close this panel" in subprocess.run(["tmux", "capture-pane", "-p", "-t", name], capture_output=True,
                                                   text=True).stdout:
            assert time.monotonic() < deadline, "the keys panel did not close"
            time.sleep(0.1)

    try:
        wait_text(name, "Install — plan, confirm, apply")
        panel("?", "Welcome", "Install", "Teardown", "Quit")
        keys(name, "?")
        closed()
        keys(name, "i")
        wait_text(name, "checks pass", "enter: next")
        panel("?", "Prerequisites", "Re-check", "Settings", "Next")
        keys(name, "Escape")
        closed()
        wait_text(name, "checks pass")  # escape closed the panel only, not the screen under it
        keys(name, "Enter")
        wait_text(name, "Settings —", "Save answers")
        panel("F1", "Settings", "Save answers", "next / previous field")
        keys(name, "F1")
        closed()
        shown = wait_text(name, "Settings —")
        assert "?" not in shown.split("woodpecker_host", 1)[1].split("\n", 1)[0]  # nothing typed into the field
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
