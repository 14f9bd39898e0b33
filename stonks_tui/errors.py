"""Exceptions that carry an operator-facing message and a hint.

Every error a person can act on is one of these; the CLI turns them into a message and an exit code,
never a traceback.
"""

from __future__ import annotations


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
