"""The journal: what each step of a plan did, on disk, so a run that dies resumes where it stopped.

One JSON file per kube context and plan (`<state>/<context>/install.json`), rewritten atomically on every
transition. A lock file per context keeps a second stonks-tui off the same cluster.
Nothing secret is ever written here: every error text passes through the redactor before it arrives.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stonks_tui.errors import JournalError, LockHeld
from stonks_tui.fsutil import atomic_write_text, remove_stale_temps

FORMAT = "stonks-tui-journal"
VERSION = 1

PENDING, RUNNING, DONE, FAILED, INTERRUPTED = "pending", "running", "done", "failed", "interrupted"
NEEDS_OPERATOR = "needs-operator"  # waiting for something only the operator can do (e.g. a Woodpecker token)
STATES = (PENDING, RUNNING, DONE, FAILED, INTERRUPTED, NEEDS_OPERATOR)


def safe_name(context: str) -> str:
    """A kube context name as a directory name, one to one: a name that is already safe is used as it is; any
    other gets a digest of the full name appended, so `a/b` and `a_b` (or two long names with a common prefix)
    never share a lock, a journal or logs."""
    import hashlib

    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", context).strip(".")
    if cleaned == context and 0 < len(context) <= 100 and not _DIGESTED.search(context):
        return context
    return f"{cleaned[:60] or 'context'}-{hashlib.sha256(context.encode()).hexdigest()[:12]}"


_DIGESTED = re.compile(r"-[0-9a-f]{12}$")


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime())


@dataclass
class StepRecord:
    state: str = PENDING
    attempts: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    duration: float | None = None
    last_error: str | None = None
    hint: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StepRecord:
        if not isinstance(data, dict):
            raise ValueError("a step record is not an object")
        rec = cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        if rec.state not in STATES:
            raise ValueError(f"unknown step state {rec.state!r}")
        # Every field has the type the engine uses: a hand-edited `"attempts": "x"` would otherwise crash each
        # later run at the same place.
        if type(rec.attempts) is not int or rec.attempts < 0:
            raise ValueError(f"attempts is {rec.attempts!r}, not a count")
        for name in ("started_at", "finished_at", "last_error", "hint"):
            if not isinstance(getattr(rec, name), str | None):
                raise ValueError(f"{name} is {getattr(rec, name)!r}, not text")
        if not (rec.duration is None or (isinstance(rec.duration, int | float) and not isinstance(rec.duration, bool))):
            raise ValueError(f"duration is {rec.duration!r}, not a number")
        if not isinstance(rec.outputs, dict):
            raise ValueError("outputs is not a mapping")
        return rec


class Journal:
    """In-memory view of the journal file; every mutation is written through atomically."""

    def __init__(self, path: Path, plan: str, context: str) -> None:
        self.path = path
        self.plan = plan
        self.context = context
        self.steps: dict[str, StepRecord] = {}
        self.run: dict[str, Any] = {}
        self.run_id: str | None = None  # given by the engine service; else made at start_run

    # -- loading ------------------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path, plan: str, context: str, *, locked: bool = False) -> Journal:
        """Load the journal (or start an empty one). Corrupt or foreign files are kept and reported.

        `locked`: the caller holds the context lock, so temp files of killed writers can be swept
        (a reader without the lock must not: the temp file may be a live writer's).
        """
        journal = cls(path, plan, context)
        if locked and path.parent.exists():
            remove_stale_temps(path)
        if not path.exists():
            return journal
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError("not a stonks-tui journal")
            if data.get("version") != VERSION:
                raise JournalError(
                    f"journal {path} has format version {data.get('version')!r}; this stonks-tui reads "
                    f"version {VERSION}",
                    hint="use the stonks-tui version that wrote it, or move the file aside to start afresh",
                )
            if data.get("plan", plan) != plan or data.get("context", context) != context:
                raise ValueError(f"it is the {data.get('plan')!r} journal of context {data.get('context')!r}, "
                                 f"not the {plan!r} journal of {context!r}")
            run = data.get("run") or {}
            if not isinstance(run, dict) or not all(isinstance(run.get(k), str | None)
                                                    for k in ("id", "started_at", "finished_at", "status", "host",
                                                              "undone_at")):
                raise ValueError("its run record is malformed")
            steps = data.get("steps") or {}
            if not isinstance(steps, dict):
                raise ValueError("its steps are not a mapping")
            journal.run = dict(run)
            journal.steps = {str(k): StepRecord.from_json(v) for k, v in steps.items()}
        except JournalError:
            raise
        except (ValueError, TypeError, UnicodeDecodeError, RecursionError, OSError) as exc:
            raise cls._unusable(path, str(exc) or type(exc).__name__, set_aside=locked) from None
        return journal

    @staticmethod
    def _unusable(path: Path, why: str, *, set_aside: bool) -> JournalError:
        """A journal we cannot use. A run (which holds the lock) sets it aside, once, so the next run starts with an
        empty journal; a read-only command only reports it and writes nothing."""
        if not set_aside:
            return JournalError(f"journal {path} cannot be used: {why}",
                                hint="the next install or teardown sets it aside and starts with an empty journal "
                                     "(steps re-check the cluster, so nothing done is done twice)")
        keep = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(path, keep)
        return JournalError(f"journal {path} cannot be used: {why}; it was moved to {keep}",
                            hint="run the same command again: it starts with an empty journal and the steps "
                                 "re-check the cluster, so nothing done is done twice")

    # -- mutation -----------------------------------------------------------------------------------------
    def record(self, step_id: str) -> StepRecord:
        return self.steps.setdefault(step_id, StepRecord())

    def recover_interrupted(self) -> list[str]:
        """Called with the lock held: a `running` step's process is gone, so it was interrupted."""
        changed = [sid for sid, rec in self.steps.items() if rec.state == RUNNING]
        for sid in changed:
            rec = self.steps[sid]
            rec.state = INTERRUPTED
            rec.last_error = rec.last_error or "the run that was executing this step stopped (killed or lost)"
        if changed:
            self.save()
        return changed

    def start_run(self, step_ids: list[str]) -> None:
        import uuid

        self.run = {"id": self.run_id or uuid.uuid4().hex[:12], "started_at": now_iso(), "finished_at": None,
                    "started_ts": time.time(), "pid": os.getpid(), "host": socket.gethostname(), "status": RUNNING}
        for sid in step_ids:
            self.record(sid)
        # Steps no longer in the plan are forgotten so `status` shows the plan as it is now.
        for sid in list(self.steps):
            if sid not in step_ids:
                del self.steps[sid]
        self.save()

    def finish_run(self, status: str) -> None:
        self.run["finished_at"] = now_iso()
        self.run["finished_ts"] = time.time()
        self.run["status"] = status
        self.save()

    def mark(self, step_id: str, state: str, *, error: str | None = None, hint: str | None = None,
             duration: float | None = None, outputs: dict[str, Any] | None = None, save: bool = True) -> None:
        """Record a step's new state; written at once unless `save` is False (it goes with the next write)."""
        rec = self.record(step_id)
        rec.state = state
        if state == RUNNING:
            rec.attempts += 1
            rec.started_at = now_iso()
            rec.finished_at = None
        else:
            rec.finished_at = now_iso()
        if state in (DONE,):
            rec.last_error = None
            rec.hint = None
        if error is not None:
            rec.last_error = error
            rec.hint = hint or None
        if duration is not None:
            rec.duration = round(duration, 3)
        if outputs:
            rec.outputs.update(outputs)
        if save:
            self.save()

    def undone(self, when: str) -> None:
        """A teardown finished after this install: no step's result holds any more. Each goes back to pending
        (its outputs kept: what the install made and may make again the same way), so `status` and the Resume
        screen never show a step done that the teardown undid."""
        if not self.steps:
            return
        for rec in self.steps.values():
            rec.state, rec.attempts, rec.last_error, rec.hint = PENDING, 0, None, None
            rec.started_at = rec.finished_at = rec.duration = None
        self.run["undone_at"] = when
        self.save()

    def unfinished(self) -> bool:
        """True when a run started and some step is not done: the wizard offers Resume."""
        return bool(self.steps) and any(r.state != DONE for r in self.steps.values()) and bool(self.run)

    def save(self) -> None:
        data = {"format": FORMAT, "version": VERSION, "plan": self.plan, "context": self.context,
                "run": self.run, "steps": {k: v.to_json() for k, v in self.steps.items()}}
        atomic_write_text(self.path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def journal_path(state_dir: Path, context: str, plan: str) -> Path:
    return state_dir / safe_name(context) / f"{plan}.json"


class ContextLock:
    """An exclusive, non-blocking flock per kube context; the holder's pid and host are written inside.

    flock is released by the kernel when the process dies, so a kill -9 never leaves a stale lock.
    """

    def __init__(self, state_dir: Path, context: str) -> None:
        self.path = state_dir / safe_name(context) / "lock"
        self._fd: int | None = None
        self._dir_fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # The lock is the context directory's own flock: deleting the `lock` file (operators delete "stale" locks)
        # cannot let a second instance in. The file only says who holds it; it is never followed through a link.
        dir_fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            fcntl.flock(dir_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._read_holder()
            os.close(dir_fd)
            raise LockHeld(
                f"another stonks-tui is working on this cluster context ({holder})",
                hint="wait for it to finish, or stop it; a killed run releases the lock by itself",
            ) from None
        self._dir_fd = dir_fd
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError:
            self.release()
            raise LockHeld(f"{self.path} is a link or not a file", hint="remove it; the state directory holds "
                                                                       "plain files only") from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "since": now_iso()}).encode())
        os.fsync(fd)
        self._fd = fd

    def held(self) -> bool:
        """Does a process hold this context now? A probe that writes nothing (status: is a foreground run alive?)."""
        try:
            dir_fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            return False
        try:
            fcntl.flock(dir_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(dir_fd)  # closing the descriptor releases a flock taken through it
        return False

    def _read_holder(self) -> str:
        with contextlib.suppress(OSError, ValueError):
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
            try:
                info = json.loads(os.read(fd, 4096).decode() or "{}")
            finally:
                os.close(fd)
            return f"pid {info.get('pid')} on {info.get('host')} since {info.get('since')}"
        return "holder unknown"

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None
        if self._dir_fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._dir_fd, fcntl.LOCK_UN)
            os.close(self._dir_fd)
            self._dir_fd = None

    def __enter__(self) -> ContextLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
