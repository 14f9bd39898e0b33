"""Checks asked ahead: when the last run finished every step, this one is most likely a no-op, and its steps'
checks — read-only — are asked all at once instead of one dependency level after another.

A result is used only if no step has started to apply anything in this run by the time it is needed: then the
world it read is the world the step would read now. The moment something applies, every result not yet used is
dropped (and its check asked again in order, as without speculation). A check's log lines wait in a buffer until
its step starts, so the step's log reads as always; an error in a check ahead is dropped too (asked again).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from stonks_tui.engine.step import CheckResult, Step, StepContext


class DeferredLog:
    """A step's log while its check runs ahead: lines kept until the step starts, then passed on."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.target: Callable[[str], None] | None = None

    def __call__(self, line: str) -> None:
        if self.target is None:
            self.lines.append(line)
        else:
            self.target(line)

    def start(self, target: Callable[[str], None]) -> None:
        self.target = target
        lines, self.lines = self.lines, []
        for line in lines:
            target(line)


class Ahead:
    def __init__(self, steps: list[Step], make_ctx: Callable[[str, DeferredLog], StepContext], limit: int, *,
                 one_picture: Callable[[bool], None] | None = None) -> None:
        self.applied = False  # a step of this run started to apply: every result still ahead is stale
        # Readers of one picture of the world may share what they read (one `helm list`): until something applies.
        self._one_picture = one_picture
        if one_picture is not None:
            one_picture(True)
        self._gate = asyncio.Semaphore(limit)
        self._tasks: dict[str, tuple[asyncio.Task[CheckResult | None], StepContext, DeferredLog]] = {}
        for step in steps:
            log = DeferredLog()
            ctx = make_ctx(step.id, log)
            self._tasks[step.id] = (asyncio.create_task(self._ask(step, ctx), name=f"ahead:{step.id}"), ctx, log)

    async def _ask(self, step: Step, ctx: StepContext) -> CheckResult | None:
        async with self._gate:
            if self.applied:
                return None
            try:
                return await step.check(ctx)
            except Exception:  # asked again in order, where its error is reported as always
                return None

    async def take(self, sid: str) -> tuple[CheckResult, StepContext, DeferredLog] | None:
        """The check asked ahead for `sid`, with its context and log, if it is still true to use it."""
        entry = self._tasks.pop(sid, None)
        if entry is None or self.applied:
            return None
        task, ctx, log = entry
        result = await asyncio.shield(task)
        if result is None or self.applied:  # something started to apply while it was being asked
            return None
        return result, ctx, log

    def stop(self) -> None:
        """Something applies: the checks still ahead would read a world about to change."""
        self.applied = True
        if self._one_picture is not None:
            self._one_picture(False)
            self._one_picture = None
        for task, _, _ in self._tasks.values():
            task.cancel()
        self._tasks.clear()

    async def close(self) -> None:
        tasks = [task for task, _, _ in self._tasks.values()]
        self.stop()
        await asyncio.gather(*tasks, return_exceptions=True)


def worth_it(journal: Any, ids: list[str]) -> bool:
    """The last run finished and every step of this plan was done in it."""
    from stonks_tui.journal import DONE

    return journal.run.get("status") == "done" and all(
        sid in journal.steps and journal.steps[sid].state == DONE for sid in ids)
