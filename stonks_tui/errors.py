"""Exceptions that carry an operator-facing message and a hint.

Every error a person can act on is one of these; the CLI turns them into a message and an exit code,
never a traceback.
"""

from __future__ import annotations

import errno


class StonksError(Exception):
    """Base: `message` says what is wrong, `hint` what to do about it."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(StonksError):
    """Bad input from the operator: a flag, an answers file, a setting. Exit 2."""

    exit_code = 2


class LockHeld(StonksError):
    """Another stonks-tui holds the lock for this cluster context. Exit 3."""

    exit_code = 3


class JournalError(StonksError):
    """The journal cannot be read (corrupt, foreign version). Exit 2: the operator must decide."""

    exit_code = 2


class StepFailed(StonksError):
    """A step could not do its work; the engine records it and stops its dependants."""


class NotImplementedStep(StepFailed):
    """A planned step whose implementation has not landed: it fails loudly, never pretends success."""


class NeedsOperator(StepFailed):
    """The step cannot go on without something only the operator can do; `hint` says exactly what."""


# A state directory (or the disk under it) that cannot take a write: full, read-only, over quota, not ours.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EACCES, errno.EPERM})


def storage_error(exc: BaseException) -> StonksError | None:
    """An OSError of a file system that refuses writes (or git saying it met one), as the operator's message
    (exit 2), else None. Nothing is lost on the way: every state file is written whole to a temporary file and
    renamed, or not at all."""
    import os
    import subprocess

    hint = ("free space on that file system (df -h) or make it writable, or point --state-dir (STONKS_STATE_DIR) "
            "elsewhere; what was written before is intact (state files are replaced whole), and the next run resumes")
    if isinstance(exc, subprocess.CalledProcessError):
        said = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else str(exc.stderr or "")
        for code in (errno.ENOSPC, errno.EROFS, errno.EDQUOT):
            if os.strerror(code) in said:
                return UsageError(f"{' '.join(map(str, exc.cmd[:2]))} failed: {os.strerror(code)}", hint=hint)
        return None
    if not isinstance(exc, OSError) or exc.errno not in STORAGE_ERRNOS:
        return None
    return UsageError(f"cannot use {exc.filename}: {exc.strerror}" if exc.filename else exc.strerror or str(exc),
                      hint=hint)
