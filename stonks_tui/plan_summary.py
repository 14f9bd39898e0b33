"""One line that sums a plan up, for the CLI and the wizard alike: what it would create, update and delete, in
how many steps, and what it could not tell."""

from __future__ import annotations

from dataclasses import dataclass, field

from stonks_tui.engine.step import Change
from stonks_tui.words import count


@dataclass
class PlanSummary:
    plan: str
    steps: int
    actions: dict[str, int] = field(default_factory=dict)  # create/update/delete -> how many
    steps_changing: int = 0
    unknown: list[str] = field(default_factory=list)  # steps that could not say

    @property
    def todo(self) -> int:
        return sum(self.actions.values())

    def line(self) -> str:
        if not self.todo and not self.unknown:
            return f"{self.plan} plan: nothing to change ({count(self.steps, 'step')} checked)"
        parts = [f"{n} to {action}" for action in ("create", "update", "delete") if (n := self.actions.get(action))]
        text = f"{self.plan} plan: {count(self.todo, 'change')}"
        if parts:
            text += f" ({', '.join(parts)})"
        text += f" in {count(self.steps_changing, 'step')} of {self.steps}"
        if self.unknown:
            n = len(self.unknown)
            text += f"; {count(n, 'step')} could not say what {'it' if n == 1 else 'they'} would change: " \
                    f"{', '.join(self.unknown)}"
        return text


def summarise(plan: str, rows: list[tuple[str, list[Change] | str]]) -> PlanSummary:
    summary = PlanSummary(plan=plan, steps=len(rows))
    for sid, changes in rows:
        if isinstance(changes, str):
            summary.unknown.append(sid)
            continue
        todo = [c for c in changes if c.action != "unchanged"]
        summary.steps_changing += bool(todo)
        for change in todo:
            summary.actions[change.action] = summary.actions.get(change.action, 0) + 1
    return summary
