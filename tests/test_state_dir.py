"""The state directory is private and a refused instance changes nothing (issue 15, points 7 and 11)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import PYTHON


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_") and k != "PYTHON_KEYRING_BACKEND"}
    env.update({"STONKS_SIM_SPEED": "0", "PYTHONUNBUFFERED": "1", **extra})
    return env


def cli(state: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "stonks_tui", "--state-dir", str(state), "--demo", *args], env=_env(**extra),
                          capture_output=True, text=True, timeout=300)


def test_everything_the_tool_writes_is_private(tmp_path: Path) -> None:
    state = tmp_path / "state"
    r = cli(state, "install", "--yes", "--quiet")
    assert r.returncode == 0, r.stdout[-2000:]
    loose = [f"{stat.filemode(p.lstat().st_mode)} {p.relative_to(state)}" for p in [state, *state.rglob("*")]
             if not p.is_symlink() and p.lstat().st_mode & 0o077]
    assert not loose, loose[:20]  # step logs, cache/, journals, the demo world: 0600 files, 0700 directories


@pytest.mark.parametrize("how", ["group-writable", "another user's"])
def test_a_state_dir_others_control_is_refused(tmp_path: Path, how: str) -> None:
    state = tmp_path / "state"
    state.mkdir()
    if how == "group-writable":
        state.chmod(0o770)
    else:
        if os.geteuid() != 0:
            pytest.skip("needs root to give the directory to another user")
        os.chown(state, 65534, 65534)
    r = cli(state, "check")
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"state directory {state}" in r.stderr and "Traceback" not in r.stderr
    assert list(state.iterdir()) == []  # nothing written into it


def test_a_refused_second_demo_instance_changes_nothing(tmp_path: Path) -> None:
    """The second `--demo install` used to start its own world (rewriting the kubeconfig and world file) before
    it was refused; the first install then failed with "cluster unreachable"."""
    state = tmp_path / "state"
    first = subprocess.Popen([PYTHON, "-m", "stonks_tui", "--state-dir", str(state), "--demo", "install", "--yes",
                              "--quiet"], env=_env(STONKS_SIM_SPEED="0.3"), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    journal = state / "stonks-demo" / "install.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (journal.exists() and json.loads(journal.read_text() or "{}")
                                               .get("run", {}).get("status") == "running"):
        time.sleep(0.2)
    kubeconfig = state / "demo" / "kubeconfig"
    before = kubeconfig.read_bytes() if kubeconfig.exists() else b""
    second = cli(state, "install", "--yes", "--quiet")
    assert second.returncode == 3, second.stdout + second.stderr
    assert "another stonks-tui" in second.stderr
    assert (kubeconfig.read_bytes() if kubeconfig.exists() else b"") == before
    out, _ = first.communicate(timeout=300)
    assert first.returncode == 0, out[-3000:]
