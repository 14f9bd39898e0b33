"""Interruptions: SIGINT/SIGTERM stop cleanly (exit 130, running steps `interrupted`); kill -9 mid-install
leaves a journal that parses and a world that the next run finishes against."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import PYTHON


def env(speed: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_")}
    e.update({"STONKS_SIM_SPEED": speed, "PYTHONUNBUFFERED": "1"})
    return e


def start(state: Path, speed: str) -> subprocess.Popen:
    return subprocess.Popen([PYTHON, "-m", "stonks_tui", "--state-dir", str(state), "--demo", "install", "--yes",
                             "--quiet"], env=env(speed), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_line(proc: subprocess.Popen, needle: str, timeout: float = 60) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    for line in proc.stdout:
        if needle in line:
            return
        assert time.monotonic() < deadline, f"{needle!r} not seen"
    pytest.fail(f"process ended before {needle!r}")


def journal(state: Path) -> dict:
    return json.loads((state / "stonks-demo" / "install.json").read_text())


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_cleanly_and_resume_finishes(tmp_path: Path, sig: signal.Signals) -> None:
    proc = start(tmp_path, "1")  # real delays, so helm installs are mid-flight when the signal lands
    wait_for_line(proc, "… argocd")
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out[-1500:]
    # The hint names the command that works here: this state dir and the demo, as they were given.
    assert f"Run `stonks-tui --state-dir {tmp_path} --demo install` again to resume" in out
    states = {k: v["state"] for k, v in journal(tmp_path)["steps"].items()}
    assert "interrupted" in states.values() and journal(tmp_path)["run"]["status"] == "interrupted"
    done_before = {k for k, v in states.items() if v == "done"}
    again = subprocess.run([PYTHON, "-m", "stonks_tui", "--state-dir", str(tmp_path), "--demo", "install", "--yes",
                            "--quiet"], env=env("0"), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout[-2000:]
    assert all(v["state"] == "done" for v in journal(tmp_path)["steps"].values())
    # What was done before was only re-checked, not re-applied.
    for sid in done_before:
        assert f"✓ {sid}" in again.stdout and "(already done)" in again.stdout.split(f"✓ {sid}", 1)[1].split("\n")[0]


def test_kill_9_mid_install_then_finish(tmp_path: Path) -> None:
    """A SIGKILL of the engine process itself (the client's goes with it here, like a lost machine)."""
    proc = start(tmp_path, "1")
    wait_for_line(proc, "… woodpecker ")
    time.sleep(0.3)
    engine = json.loads((tmp_path / "stonks-demo" / "engine.json").read_text())["pid"]
    os.kill(engine, signal.SIGKILL)
    proc.kill()
    proc.wait()
    data = journal(tmp_path)  # always parses
    assert any(v["state"] == "running" for v in data["steps"].values())  # the dead run could not say more
    again = subprocess.run([PYTHON, "-m", "stonks_tui", "--state-dir", str(tmp_path), "--demo", "install", "--yes",
                            "--quiet"], env=env("0"), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout[-2000:]
    assert "(attempt 2)" in again.stdout  # the interrupted steps ran again
    assert all(v["state"] == "done" for v in journal(tmp_path)["steps"].values())


def test_ctrl_c_while_the_engine_starts_cancels_the_run(tmp_path: Path) -> None:
    """Ctrl-C right after "preflight: N checks passed" — while the engine process was starting — printed
    "interrupted" and exited 130, and the install went on in the engine. Now the signal is kept and acted on once
    this client is attached: the run is cancelled (or, sent before the engine exists, never starts)."""
    proc = start(tmp_path, "1")
    wait_for_line(proc, "preflight: ")
    log = tmp_path / "stonks-demo" / "engine.log"
    deadline = time.monotonic() + 30
    while not log.exists() and time.monotonic() < deadline:  # the engine process is being started now
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out[-1500:]
    path = tmp_path / "stonks-demo" / "install.json"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # an engine left running would carry on and finish the install
        engine = tmp_path / "stonks-demo" / "engine.json"
        if not engine.exists() or not (tmp_path / "stonks-demo" / "engine.sock").exists():
            break
        time.sleep(0.2)
    time.sleep(3)
    status = journal(tmp_path)["run"]["status"] if path.exists() else "never started"
    assert status in ("interrupted", "never started"), (status, out[-1500:])
