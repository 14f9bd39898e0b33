"""Events the engine emits. Plain dataclasses: the TUI wraps them in messages, the console prints them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

Outcome = Literal["ok", "unchanged", "failed", "blocked", "interrupted", "needs-operator"]


@dataclass(frozen=True)
class Event:
    at: float = field(default_factory=time.time, kw_only=True)


@dataclass(frozen=True)
class PlanStarted(Event):
    plan: str
    step_ids: tuple[str, ...]


@dataclass(frozen=True)
class StepStarted(Event):
    step_id: str
    title: str
    attempt: int


@dataclass(frozen=True)
class LogLine(Event):
    step_id: str
    line: str


@dataclass(frozen=True)
class WorkloadStatus(Event):
    """A workload a step waits on: `ready` of `wanted` replicas (the wizard's workloads pane)."""

    step_id: str
    kind: str
    name: str
    ready: int
    wanted: int


@dataclass(frozen=True)
class StepFinished(Event):
    """`ok`: applied; `unchanged`: check said done; `blocked`: a need failed; `interrupted`: cancelled."""

    step_id: str
    outcome: Outcome
    duration: float = 0.0
    error: str = ""
    hint: str = ""


@dataclass(frozen=True)
class PlanFinished(Event):
    plan: str
    ok: bool
    interrupted: bool
    counts: dict[str, int]
    duration: float
