"""Kill anywhere: SIGKILL the headless demo install at random moments, then run it until it finishes.

Shared by the fast test (tests/reliability/test_kill_anywhere.py) and the long mode (bench/kill_anywhere.py).
After every kill the journal must parse; the finished world must equal an uninterrupted run's (world_state.py
says what is ignored); no secret may be found anywhere (tests/leaks.py), on the terminal included.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.leaks import assert_no_secret_leaked, engine_pids
from tests.reliability.world_state import differences, world_state


def demo_env(speed: str = "0") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_") and k != "PYTHON_KEYRING_BACKEND"}
    env.update({"STONKS_SIM_SPEED": speed, "PYTHONUNBUFFERED": "1"})
    return env


def install_argv(state: Path) -> list[str]:
    return [sys.executable, "-m", "stonks_tui", "--state-dir", str(state), "--demo", "install", "--yes", "--quiet"]


def uninterrupted(state: Path, env: dict[str, str]) -> dict:
    done = subprocess.run(install_argv(state), env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:]
    return world_state(state / "demo")


@dataclass
class Outcome:
    kills: int = 0
    runs: int = 0
    captured: list[str] = field(default_factory=list)
    aimed: list[str] = field(default_factory=list)  # the steps a kill landed inside (kill_inside)


def kill_engine(state: Path) -> None:
    """SIGKILL the engine process running this state dir's demo install, if one runs (its own record says which)."""
    import contextlib
    import signal

    # By its command line, not only its record: a kill can land while the client is starting it (no record yet).
    for pid in engine_pids(state):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def kill_anywhere(state: Path, env: dict[str, str], kills: int, seed: int, window: float = 10.0) -> Outcome:
    """`kills` runs each killed after a random delay in [0.3, window) s (a run that finished first counts as a
    run, not a kill), then runs until one finishes; checks the journal after every kill."""

    rng = random.Random(seed)
    out = Outcome()
    while out.kills < kills:
        proc = subprocess.Popen(install_argv(state), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
        time.sleep(rng.uniform(0.3, window))
        _kill_and_check(state, proc, out)
        if proc.returncode == 0:
            break  # finished before the kill: the world is complete, further kills only re-check
    return _finish(state, env, out)


def _kill_and_check(state: Path, proc: subprocess.Popen, out: Outcome) -> bool:
    """Kill the run (if it still runs), keep what it printed, check the journal parses. True if a kill landed."""
    from stonks_tui.journal import Journal, journal_path

    out.runs += 1
    killed = proc.poll() is None
    if killed:
        kill_engine(state)  # the engine process does the run (issue 16): it is what a kill must hit
        proc.kill()
        out.kills += 1
    text, _ = proc.communicate(timeout=120)
    out.captured.append(text)
    path = journal_path(state, "stonks-demo", "install")
    if path.exists():
        Journal.open(path, "install", "stonks-demo")  # parses, or raises JournalError naming the file
    return killed


def _finish(state: Path, env: dict[str, str], out: Outcome) -> Outcome:
    for _ in range(3):
        done = subprocess.run(install_argv(state), env=env, capture_output=True, text=True, timeout=600)
        out.runs += 1
        out.captured.append(done.stdout + done.stderr)
        if done.returncode == 0:
            return out
    raise AssertionError(f"the install never finished after {out.kills} kills (inside {out.aimed}):\n"
                         f"{out.captured[-1][-3000:]}")


def _step_state(state: Path, step: str) -> str:
    import json

    from stonks_tui.journal import journal_path

    try:
        data = json.loads(journal_path(state, "stonks-demo", "install").read_text())
    except (OSError, ValueError):
        return ""
    return str(((data.get("steps") or {}).get(step) or {}).get("state", ""))


def kill_inside(state: Path, env: dict[str, str], steps: list[str], seed: int, within: float = 0.25) -> Outcome:
    """For each step in turn: run the install (a resume, after the first) until the journal says that step is
    running, then SIGKILL the engine within `within` s of its start — a kill inside every step named, not only
    between steps. A step that finishes before the kill lands, or is done already, is passed by. Then runs until
    one finishes; the journal is checked after every kill."""

    rng = random.Random(seed)
    out = Outcome()
    for step in steps:
        if _step_state(state, step) == "done":
            continue
        proc = subprocess.Popen(install_argv(state), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
        deadline = time.monotonic() + 120
        while proc.poll() is None and _step_state(state, step) != "running" and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, within))
        if _kill_and_check(state, proc, out):
            out.aimed.append(step)
    return _finish(state, env, out)


def check_final(state: Path, reference: dict, outcome: Outcome) -> None:
    diff = differences(reference, world_state(state / "demo"))
    assert not diff, "the world differs from an uninterrupted run's:\n" + "\n".join(diff[:20])
    assert_no_secret_leaked(state, "".join(outcome.captured))
