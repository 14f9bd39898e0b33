"""What a step is: an idempotent unit of work with check / apply / describe."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from stonks_tui.errors import NotImplementedStep

if TYPE_CHECKING:
    from stonks_tui.redact import Redactor
    from stonks_tui.settings import Settings


@dataclass(frozen=True)
class Done:
    """The world is already as the step wants it."""

    detail: str = ""


@dataclass(frozen=True)
class NotDone:
    """The step has work to do, and why."""

    reason: str


CheckResult = Done | NotDone
Action = Literal["create", "update", "unchanged", "delete"]


@dataclass(frozen=True)
class Change:
    """One thing `apply` would change: an object, a release, a Gitea entity, a file."""

    action: Action
    kind: str
    name: str
    detail: str = ""
    lines: tuple[str, ...] = ()  # a unified diff, for files

    def __str__(self) -> str:
        tail = f"  ({self.detail})" if self.detail else ""
        return f"{self.action:<9} {self.kind} {self.name}{tail}"


class SecretStore(Protocol):
    """The narrow interface steps use for secrets; the keyring-backed store implements it."""

    def get(self, name: str) -> str | None: ...
    def set(self, name: str, value: str) -> None: ...
    def delete(self, name: str) -> None: ...
    def list_names(self) -> list[str]: ...


class MemorySecretStore:
    """Secrets for this process only (used where no keyring is configured yet, e.g. offline commands)."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        self._values: dict[str, str] = {}
        self._redactor = redactor

    def get(self, name: str) -> str | None:
        return self._values.get(name)

    def set(self, name: str, value: str) -> None:
        if self._redactor is not None:
            self._redactor.add(value)
        self._values[name] = value

    def delete(self, name: str) -> None:
        self._values.pop(name, None)

    def list_names(self) -> list[str]:
        return sorted(self._values)


@dataclass
class StepContext:
    """What a step may use. A step logs through `log` and never prints; it reads secrets via `secrets`."""

    settings: Settings
    secrets: SecretStore
    redact: Redactor
    log: Callable[[str], None] = lambda line: None
    # Non-secret outputs of earlier steps (from the journal), by step id; a step adds its own via `output`.
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Shared, lazily built clients (kube, helm, gitea...) keyed by name; steps use `client(...)`.
    clients: dict[str, Any] = field(default_factory=dict)
    step_id: str = ""
    # (kind, name, ready, wanted): a workload's readiness while a step waits on it (the wizard shows it).
    workload: Callable[[str, str, int, int], None] = lambda kind, name, ready, wanted: None
    _new_outputs: dict[str, Any] = field(default_factory=dict)

    def output(self, key: str, value: Any) -> None:
        self._new_outputs[key] = value

    def for_step(self, step_id: str, log: Callable[[str], None],
                 workload: Callable[[str, str, int, int], None] | None = None) -> StepContext:
        return StepContext(settings=self.settings, secrets=self.secrets, redact=self.redact, log=log,
                           outputs=self.outputs, clients=self.clients, step_id=step_id,
                           workload=workload or (lambda kind, name, ready, wanted: None))


class Step:
    """Base class. Subclasses set `id`, `title`, `needs` and implement the three methods."""

    id: str = ""
    title: str = ""
    needs: tuple[str, ...] = ()
    # Does describe() read the keyring? A plan asks the steps that do only once it is unlocked (in a thread), so
    # a step reading a secret never stalls the event loop while the others ask the cluster. A step marked False
    # that reads one anyway is still right, only slower.
    reads_secrets: bool = True
    # A step whose check is its whole work (the live checks): a passing check ran now and is its result ("ok",
    # "13 live checks pass"), not something found done before ("unchanged", "already done: …").
    check_is_the_work: bool = False

    def __init__(self, settings: Settings | None = None) -> None:
        # Plans build every step from the run's Settings; a step reads them here or through ctx.settings.
        self.settings = settings

    async def check(self, ctx: StepContext) -> CheckResult:
        raise NotImplementedStep(f"step {self.id} is not implemented yet",
                                 hint="this build of stonks-tui cannot perform it; nothing was changed")

    async def apply(self, ctx: StepContext) -> None:
        raise NotImplementedStep(f"step {self.id} is not implemented yet",
                                 hint="this build of stonks-tui cannot perform it; nothing was changed")

    async def describe(self, ctx: StepContext) -> list[Change]:
        raise NotImplementedStep(f"step {self.id} is not implemented yet")

    def __repr__(self) -> str:
        return f"<Step {self.id}>"
