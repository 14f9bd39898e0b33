"""The state directory is private and a refused instance changes nothing (issue 15, points 7 and 11)."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import PYTHON
from tests.leaks import engines_gone


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
    engines_gone(state)  # it lingers a moment, removing its socket and record, after its client has returned
    loose = [f"{stat.filemode(p.lstat().st_mode)} {p.relative_to(state)}" for p in [state, *state.rglob("*")]
             if not p.is_symlink() and p.lstat().st_mode & 0o077]
    assert not loose, loose[:20]  # step logs, cache/, journals, the demo world: 0600 files, 0700 directories
    # Links planted where the tool writes (a step log, git's askpass helper) are never written through.
    victim = tmp_path / "victim"
    victim.write_text("not the tool's\n")
    planted = [state / "stonks-demo" / "logs" / "install" / "verify.log", *state.rglob("stonks-git-askpass.sh")]
    assert len(planted) == 2
    for link in planted:
        link.unlink()
        link.symlink_to(victim)
    again = cli(state, "install", "--yes", "--quiet")
    assert victim.read_text() == "not the tool's\n"
    assert again.returncode == 1 and "verify.log is a symbolic link: nothing is written through it" in again.stdout
    assert not planted[1].is_symlink()  # the askpass helper is written whole and renamed over the link


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
    first = _slow_install_running(state, stderr=subprocess.STDOUT)
    kubeconfig = state / "demo" / "kubeconfig"
    before = kubeconfig.read_bytes() if kubeconfig.exists() else b""
    second = cli(state, "install", "--yes", "--quiet")
    assert second.returncode == 3, second.stdout + second.stderr
    assert "another stonks-tui" in second.stderr
    assert (kubeconfig.read_bytes() if kubeconfig.exists() else b"") == before
    out, _ = first.communicate(timeout=300)
    assert first.returncode == 0, out[-3000:]


def _slow_install_running(state: Path, *, stderr: int) -> subprocess.Popen:
    """A demo install at a slow simulator speed, once its journal says it runs."""
    proc = subprocess.Popen([PYTHON, "-m", "stonks_tui", "--state-dir", str(state), "--demo", "install", "--yes",
                             "--quiet"], env=_env(STONKS_SIM_SPEED="0.3"), stdout=subprocess.PIPE, stderr=stderr,
                            text=True)
    journal = state / "stonks-demo" / "install.json"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not (journal.exists() and json.loads(journal.read_text() or "{}")
                                               .get("run", {}).get("status") == "running"):
        time.sleep(0.1)
    return proc


def _tmpfs(path: Path, size: str) -> None:
    path.mkdir(mode=0o700)
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                                            str(path)], capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a small or read-only file system")


def _unmount(path: Path) -> None:
    for _ in range(50):  # the engine process lingers a moment for other clients after its run
        if subprocess.run(["umount", str(path)], capture_output=True).returncode == 0:
            return
        time.sleep(0.2)
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_a_full_or_read_only_state_dir_is_a_message_and_the_next_run_resumes(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    _tmpfs(disk, "40m")
    try:
        state = disk / "state"
        assert cli(state, "install", "--yes", "--quiet").returncode == 0
        # The disk fills up (logs, another program).
        with open(disk / "filler", "wb") as filler, contextlib.suppress(OSError):
            while True:
                filler.write(b"\0" * (1 << 20))
        full = cli(state, "install", "--yes", "--quiet")
        assert full.returncode == 2, full.stdout + full.stderr
        assert "No space left on device" in full.stderr and "df -h" in full.stderr
        assert "Traceback" not in full.stdout + full.stderr
        assert json.loads((state / "stonks-demo" / "install.json").read_bytes())["run"]  # intact, still a journal
        (disk / "filler").unlink()
        resumed = cli(state, "install", "--yes", "--quiet")
        assert resumed.returncode == 0, resumed.stdout[-2000:]
        for _ in range(100):  # once the engine process, lingering for other clients, has let go of its files
            if subprocess.run(["mount", "-o", "remount,ro", str(disk)], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the file system stayed busy: something still writes there")
        for command in (("install", "--yes"), ("plan",)):  # the demo's world is written as it runs
            refused = cli(state, *command)
            assert refused.returncode == 2, (command, refused.stdout + refused.stderr)
            assert "Read-only file system" in refused.stderr and "Traceback" not in refused.stderr, command
        for command in (("check",), ("status",)):  # what only reads works from a read-only state dir
            assert cli(state, *command).returncode == 0, command
    finally:
        _unmount(disk)


def test_a_disk_that_fills_mid_run_ends_every_client_with_the_message(tmp_path: Path) -> None:
    """The engine's own failure (here: no space for its journal) reached only engine.log; the client ended with
    exit 1 and nothing said. Every client now says it, with the engine's exit code (2), and the run resumes."""
    disk = tmp_path / "disk"
    _tmpfs(disk, "60m")
    try:
        state = disk / "state"
        run = _slow_install_running(state, stderr=subprocess.PIPE)
        follower = subprocess.Popen([PYTHON, "-m", "stonks_tui", "--state-dir", str(state), "--demo", "attach",
                                     "--plain"], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
        info = state / "stonks-demo" / "engine.json"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # both clients attached before the disk fills
            with contextlib.suppress(OSError, ValueError):
                if len(json.loads(info.read_text()).get("clients") or []) >= 2:
                    break
            time.sleep(0.05)
        with open(disk / "filler", "wb") as filler, contextlib.suppress(OSError):
            while True:
                filler.write(b"\0" * (1 << 20))
        out, err = run.communicate(timeout=120)
        f_out, f_err = follower.communicate(timeout=60)
        for code, said in ((run.returncode, out + err), (follower.returncode, f_out + f_err)):
            assert code == 2, said[-3000:]
            assert "No space left on device" in said and "df -h" in said, said[-3000:]
            assert "Traceback" not in said
        (disk / "filler").unlink()
        deadline = time.monotonic() + 60
        while True:  # the failed engine lingers a moment for its clients, holding the demo's world
            resumed = cli(state, "install", "--yes", "--quiet")
            if resumed.returncode != 3 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    finally:
        _unmount(disk)
