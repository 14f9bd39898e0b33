"""The last install step: the live checks; any failure fails the step (warnings are logged)."""

from __future__ import annotations

import asyncio
import time

from stonks_tui.checks.live import verify
from stonks_tui.engine.step import Change, CheckResult, NotDone, Step, StepContext
from stonks_tui.errors import StepFailed
from stonks_tui.words import count


class Verify(Step):
    id, title, needs = "verify", "Verify the installed system", ("woodpecker-activate", "kargo-resources")
    reads_secrets = False
    check_is_the_work = True  # "ok: 13 live checks pass" each run, never "already done"
    settle_seconds = 90.0  # how long a failure a controller may still be working through is waited for

    async def check(self, ctx: StepContext) -> CheckResult:
        self._results = await verify(ctx)
        failed = [r for r in self._results if r.status == "fail"]
        if failed:
            return NotDone("; ".join(f"{r.name}: {r.reason}" for r in failed))
        for r in self._results:
            ctx.log(r.line())
        from stonks_tui.engine.step import Done

        return Done(f"{len(self._results)} live checks pass")

    async def apply(self, ctx: StepContext) -> None:
        results = getattr(self, "_results", None) or await verify(ctx)
        # Right after the install a certificate may not be issued yet, a volume not re-bound, pods starting: the
        # checks ran seconds too early at other speeds. Those are waited for, bounded; any other failure is not.
        deadline, pause = time.monotonic() + self.settle_seconds, 0.5
        while True:
            failed = [r for r in results if r.status == "fail"]
            if not failed or not all(r.settling for r in failed) or time.monotonic() >= deadline:
                break
            ctx.log("waiting for: " + "; ".join(f"{r.name}: {r.reason}" for r in failed))
            await asyncio.sleep(pause)
            pause = min(pause * 1.5, 5.0)
            results = await verify(ctx)
        for r in results:
            ctx.log(r.line())
        failed = [r for r in results if r.status == "fail"]
        if failed:
            raise StepFailed(f"{count(len(failed), 'live check')} failed: " + "; ".join(f"{r.name}: {r.reason}"
                                                                                for r in failed),
                             hint=failed[0].fix or "see the step log")

    async def describe(self, ctx: StepContext) -> list[Change]:
        return [Change("unchanged", "Check", "live checks", "read-only: run after the install")]
