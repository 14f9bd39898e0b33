"""Journal: atomic writes survive kill -9, the lock keeps a second instance out, corrupt files are kept."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stonks_tui.errors import JournalError, LockHeld
from stonks_tui.journal import DONE, INTERRUPTED, RUNNING, ContextLock, Journal, journal_path, safe_name

WRITER = """
import sys
from pathlib import Path
from stonks_tui.journal import Journal
j = Journal(Path(sys.argv[1]), "install", "ctx")
ids = [f"step-{i}" for i in range(40)]
j.start_run(ids)
n = 0
print("ready", flush=True)
while True:
    n += 1
    j.mark(ids[n % 40], "running" if n % 2 else "done", error="x" * (n % 500), outputs={"n": n})
"""


def test_kill_9_writer_in_a_loop_leaves_a_parsable_journal(tmp_path: Path) -> None:
    path = tmp_path / "install.json"
    for i in range(12):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(0.01 + (i % 4) * 0.013)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        data = json.loads(path.read_text())  # never half-written
        assert data["format"] == "stonks-tui-journal" and len(data["steps"]) == 40
    # Killed writes may leave temp files; the next open (under the lock) sweeps them.
    Journal.open(path, "install", "ctx", locked=True)
    assert [p.name for p in tmp_path.iterdir()] == ["install.json"]


def test_running_left_by_a_dead_process_becomes_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "install.json"
    j = Journal(path, "install", "ctx")
    j.start_run(["a", "b"])
    j.mark("a", DONE)
    j.mark("b", RUNNING)
    again = Journal.open(path, "install", "ctx")
    assert again.recover_interrupted() == ["b"]
    assert again.steps["b"].state == INTERRUPTED and again.steps["a"].state == DONE
    assert Journal.open(path, "install", "ctx").steps["b"].state == INTERRUPTED


def test_corrupt_journal_is_reported_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "install.json"
    path.write_text('{"format": "stonks-tui-journal", "version": 1, "steps": {"a": {"state": ')
    for _ in range(3):  # a reader (status, the wizard's first screen) reports it and writes nothing
        with pytest.raises(JournalError) as err:
            Journal.open(path, "install", "ctx")
        assert str(path) in err.value.message and "cannot be used" in err.value.message
    assert path.read_text().endswith('"state": ') and not list(tmp_path.glob("install.json.corrupt-*"))
    with pytest.raises(JournalError, match="moved to"):  # a run sets it aside, once
        Journal.open(path, "install", "ctx", locked=True)
    assert not path.exists() and len(list(tmp_path.glob("install.json.corrupt-*"))) == 1
    assert Journal.open(path, "install", "ctx", locked=True).steps == {}  # the next run starts afresh


BAD_RECORDS = [
    ({"a": {"state": "done", "attempts": "x"}}, "attempts"),
    ({"a": {"state": "done", "attempts": -1}}, "attempts"),
    ({"a": {"state": "failed", "last_error": {"x": 1}}}, "last_error"),
    ({"a": {"state": "done", "duration": "slow"}}, "duration"),
    ({"a": {"state": "done", "outputs": ["k"]}}, "outputs is not a mapping"),
    ({"a": "done"}, "not an object"),
    (["a"], "not a mapping"),
]


@pytest.mark.parametrize(("steps", "needle"), BAD_RECORDS)
def test_a_journal_with_wrong_types_is_unusable_not_a_crash(tmp_path: Path, steps: object, needle: str) -> None:
    path = tmp_path / "install.json"
    path.write_text(json.dumps({"format": "stonks-tui-journal", "version": 1, "steps": steps}))
    with pytest.raises(JournalError, match=needle):
        Journal.open(path, "install", "ctx")


def test_a_journal_of_another_context_or_plan_is_not_reused(tmp_path: Path) -> None:
    path = tmp_path / "install.json"
    path.write_text(json.dumps({"format": "stonks-tui-journal", "version": 1, "plan": "install", "context": "prod",
                                "run": {}, "steps": {}}))
    with pytest.raises(JournalError, match="journal of context 'prod'"):
        Journal.open(path, "install", "homelab")
    with pytest.raises(JournalError, match="'install' journal"):
        Journal.open(path, "teardown", "prod")


def test_foreign_version_is_refused_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "install.json"
    path.write_text(json.dumps({"format": "stonks-tui-journal", "version": 99, "steps": {}}))
    with pytest.raises(JournalError, match="version 99"):
        Journal.open(path, "install", "ctx")
    assert json.loads(path.read_text())["version"] == 99


def test_unknown_state_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "install.json"
    path.write_text(json.dumps({"format": "stonks-tui-journal", "version": 1, "steps": {"a": {"state": "bogus"}}}))
    with pytest.raises(JournalError, match="bogus"):
        Journal.open(path, "install", "ctx")


HOLDER = """
import sys, time
from pathlib import Path
from stonks_tui.journal import ContextLock
lock = ContextLock(Path(sys.argv[1]), "homelab")
lock.acquire()
print("locked", flush=True)
time.sleep(60)
"""


def test_lock_contention_names_the_holder_and_frees_on_kill(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"locked"
        with pytest.raises(LockHeld) as err:
            ContextLock(tmp_path, "homelab").acquire()
        assert f"pid {proc.pid}" in err.value.message and err.value.exit_code == 3
        # Another context is not blocked.
        other = ContextLock(tmp_path, "other")
        other.acquire()
        other.release()
    finally:
        proc.kill()
        proc.wait()
    with ContextLock(tmp_path, "homelab"):  # kill -9 released the flock
        pass


def test_context_names_become_safe_file_names(tmp_path: Path) -> None:
    assert safe_name("arn:aws:eks:us-east-1:1:cluster/x").startswith("arn_aws_eks_us-east-1_1_cluster_x-")
    assert safe_name("../../etc").startswith("_.._etc-")
    assert safe_name("homelab") == "homelab"  # a name that is safe already stays readable
    assert journal_path(tmp_path, "a/b", "install").parent.parent == tmp_path


@pytest.mark.parametrize(("one", "other"), [("a/b", "a_b"), ("x:y", "x_y"), ("a" * 120 + "1", "a" * 120 + "2"),
                                            ("ctx", "ctx-" + "0" * 12), (".hidden", "hidden")])
def test_different_contexts_never_share_a_directory(tmp_path: Path, one: str, other: str) -> None:
    """Issue 15: `a/b` and `a_b` shared one lock and journal — one refused while the other ran, and one's journal
    was replayed against the other's secrets."""
    assert safe_name(one) != safe_name(other)
    with ContextLock(tmp_path, one), ContextLock(tmp_path, other):
        pass


def test_the_lock_survives_its_file_being_deleted_and_never_follows_a_link(tmp_path: Path) -> None:
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    (tmp_path / "homelab").mkdir()
    (tmp_path / "homelab" / "lock").symlink_to(victim)
    with pytest.raises(LockHeld, match="is a link"):
        ContextLock(tmp_path, "homelab").acquire()
    assert victim.read_text() == "keep me"  # not truncated through the planted link
    (tmp_path / "homelab" / "lock").unlink()
    with ContextLock(tmp_path, "homelab") as held:
        held.path.unlink()  # an operator removes the "stale" lock file
        with pytest.raises(LockHeld):
            ContextLock(tmp_path, "homelab").acquire()


def test_asking_whether_a_context_is_held_writes_nothing(tmp_path: Path) -> None:
    """status probes the lock to tell a live foreground run from a dead one: the holder's record stays as written."""
    assert not ContextLock(tmp_path, "homelab").held()  # no directory yet: nobody
    with ContextLock(tmp_path, "homelab") as lock:
        record = lock.path.read_bytes()
        assert ContextLock(tmp_path, "homelab").held()
        assert lock.path.read_bytes() == record
    assert not ContextLock(tmp_path, "homelab").held()
    ContextLock(tmp_path, "homelab").acquire()  # the probe let go: the lock can be taken


def test_journal_file_mode_is_private(tmp_path: Path) -> None:
    j = Journal(tmp_path / "install.json", "install", "ctx")
    j.start_run(["a"])
    assert os.stat(tmp_path / "install.json").st_mode & 0o777 == 0o600
