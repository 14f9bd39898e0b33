"""A plan: a named DAG of steps, validated once (unknown needs, duplicates, cycles)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from stonks_tui.engine.step import Step


class PlanError(ValueError):
    """A programming error in a plan's shape; never caused by operator input."""


@dataclass
class Plan:
    name: str
    steps: list[Step]

    def __post_init__(self) -> None:
        self.by_id: dict[str, Step] = {}
        for step in self.steps:
            if not step.id:
                raise PlanError(f"a step of plan {self.name} has no id")
            if step.id in self.by_id:
                raise PlanError(f"plan {self.name} has two steps named {step.id}")
            self.by_id[step.id] = step
        for step in self.steps:
            for need in step.needs:
                if need not in self.by_id:
                    raise PlanError(f"step {step.id} needs {need}, which is not in plan {self.name}")
        self.order = self._topological()

    def _topological(self) -> list[str]:
        """Kahn's algorithm in declaration order, so equal-rank steps keep the author's order."""
        remaining = {s.id: set(s.needs) for s in self.steps}
        order: list[str] = []
        while remaining:
            ready = [sid for sid, needs in remaining.items() if not needs]
            if not ready:
                raise PlanError(f"plan {self.name} has a dependency cycle among {sorted(remaining)}")
            for sid in ready:
                del remaining[sid]
                order.append(sid)
            for needs in remaining.values():
                needs.difference_update(ready)
        return order

    def __iter__(self) -> Iterator[Step]:
        return (self.by_id[sid] for sid in self.order)

    def __len__(self) -> int:
        return len(self.steps)

    def dependants(self, step_id: str) -> set[str]:
        """Every step that needs `step_id`, directly or not."""
        out: set[str] = set()
        frontier = [step_id]
        while frontier:
            current = frontier.pop()
            for step in self.steps:
                if current in step.needs and step.id not in out:
                    out.add(step.id)
                    frontier.append(step.id)
        return out
