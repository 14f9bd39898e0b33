"""The engine: runs a plan's steps as their needs finish, a bounded number at a time, and tells listeners.

Waiting is event-driven: the loop sleeps in `asyncio.wait` until a step task finishes; steps themselves
wait on watches and pipes. Every transition is journaled before it is announced, so a listener never
shows a state the journal would not resume from.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from stonks_tui.engine.events import (
    Event,
    LogLine,
    Outcome,
    PlanFinished,
    PlanStarted,
    StepFinished,
    StepStarted,
    WorkloadStatus,
)
from stonks_tui.engine.plan import Plan
from stonks_tui.engine.speculation import Ahead, worth_it
from stonks_tui.engine.step import CheckResult, Done, Step, StepContext
from stonks_tui.errors import NeedsOperator, StonksError
from stonks_tui.journal import DONE, FAILED, INTERRUPTED, NEEDS_OPERATOR, RUNNING, Journal

Listener = Callable[[Event], None]
_FINISHED_OK: frozenset[str] = frozenset({"ok", "unchanged"})


@dataclass
class RunSummary:
    ok: bool
    interrupted: bool
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    detached: bool = False  # an attached client left; the run goes on in the engine process
    vanished: bool = False  # the engine process went away without saying how the run ended (killed)

    @property
    def exit_code(self) -> int:
        if self.detached:
            return 0
        if self.interrupted:
            return 130
        return 0 if self.ok else 1


class Engine:
    def __init__(self, plan: Plan, ctx: StepContext, journal: Journal, *, concurrency: int = 4,
                 log_dir: Path | None = None, listeners: list[Listener] | None = None,
                 settle_timeout: float = 30.0, one_picture: Callable[[bool], None] | None = None) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.plan = plan
        self.ctx = ctx
        self.journal = journal
        self.concurrency = concurrency
        self.settle_timeout = settle_timeout  # after an apply: how long its check may take to agree
        self.log_dir = log_dir
        self._listeners: list[Listener] = list(listeners or [])
        self._running: dict[asyncio.Task[Outcome], str] = {}
        self._cancelled = False
        self._log_files: dict[str, IO[str]] = {}
        # Ask every check at once when the last run finished them all (speculation.py); off: strictly in order.
        self.speculate = True
        self._ahead: Ahead | None = None
        self._one_picture = one_picture  # the clients' shared reads while checks are asked ahead (on/off)

    # -- listeners ----------------------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _emit(self, event: Event) -> None:
        for listener in list(self._listeners):
            listener(event)

    # -- control ------------------------------------------------------------------------------------------
    def cancel(self) -> None:
        """Stop starting steps and cancel the running ones (they end `interrupted`). Call on the loop."""
        self._cancelled = True
        for task in self._running:
            task.cancel()

    @property
    def busy(self) -> bool:
        """Is a step still running (or still recording how it ended)?"""
        return any(not task.done() for task in self._running)

    def log_path(self, step_id: str) -> Path | None:
        return self.log_dir / f"{step_id}.log" if self.log_dir else None

    # -- running ------------------------------------------------------------------------------------------
    async def run(self) -> RunSummary:
        started = time.monotonic()
        ids = list(self.plan.order)
        self.journal.recover_interrupted()
        speculate = self.speculate and worth_it(self.journal, ids)
        self.journal.start_run(ids)
        for sid, rec in self.journal.steps.items():
            self.ctx.outputs.setdefault(sid, {}).update(rec.outputs)
        self._emit(PlanStarted(plan=self.plan.name, step_ids=tuple(ids)))

        summary = RunSummary(ok=False, interrupted=False)
        outcomes = summary.outcomes
        pending = list(ids)
        if speculate:
            self._ahead = Ahead([self.plan.by_id[sid] for sid in ids], self._step_context, len(ids),
                                one_picture=self._one_picture)
        try:
            while True:
                self._block_dependants(pending, outcomes)
                if not self._cancelled:
                    for sid in self._ready(pending, outcomes):
                        if len(self._running) >= self.concurrency:
                            break
                        pending.remove(sid)
                        self._running[asyncio.create_task(self._run_step(sid), name=sid)] = sid
                if not self._running:
                    break
                done, _ = await asyncio.wait(self._running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    sid = self._running.pop(task)
                    if task.cancelled():
                        # Cancelled before its first line ran (a cancel right as it was started): nothing of it
                        # ran, its journal record is as it was. It used to end the engine with a CancelledError —
                        # and the client with exit 1 instead of 130.
                        outcomes[sid] = "interrupted"
                        self._emit(StepFinished(step_id=sid, outcome="interrupted", error="interrupted before it "
                                                "started", hint="run the same command again to resume"))
                    else:
                        outcomes[sid] = task.result()
        finally:
            # Only reached with tasks left if run() itself was cancelled: take them down with us.
            for task in self._running:
                task.cancel()
            if self._running:
                await asyncio.gather(*self._running, return_exceptions=True)
            if self._ahead is not None:
                await self._ahead.close()
                self._ahead = None
            for fh in self._log_files.values():
                fh.close()
            self._log_files.clear()

        summary.interrupted = self._cancelled or any(o == "interrupted" for o in outcomes.values())
        summary.ok = not summary.interrupted and all(outcomes.get(s) in _FINISHED_OK for s in ids)
        summary.errors = {sid: rec.last_error or "" for sid, rec in self.journal.steps.items()
                          if outcomes.get(sid) in ("failed", "needs-operator")}
        status = "interrupted" if summary.interrupted else ("done" if summary.ok else "failed")
        self.journal.finish_run(status)
        counts: dict[str, int] = {}
        for outcome in outcomes.values():
            counts[outcome] = counts.get(outcome, 0) + 1
        counts["not-started"] = len(ids) - len(outcomes)
        self._emit(PlanFinished(plan=self.plan.name, ok=summary.ok, interrupted=summary.interrupted,
                                counts=counts, duration=time.monotonic() - started))
        return summary

    def _ready(self, pending: list[str], outcomes: dict[str, Outcome]) -> list[str]:
        return [sid for sid in pending
                if all(outcomes.get(n) in _FINISHED_OK for n in self.plan.by_id[sid].needs)]

    def _block_dependants(self, pending: list[str], outcomes: dict[str, Outcome]) -> None:
        """A step whose need failed will never run in this attempt; say so once, then drop it."""
        changed = True
        while changed:
            changed = False
            for sid in list(pending):
                bad = [n for n in self.plan.by_id[sid].needs
                       if outcomes.get(n) in ("failed", "blocked", "interrupted", "needs-operator")]
                if bad:
                    pending.remove(sid)
                    outcomes[sid] = "blocked"
                    self._emit(StepFinished(step_id=sid, outcome="blocked",
                                            error=f"not started: {bad[0]} did not finish"))
                    changed = True

    async def _run_step(self, sid: str) -> Outcome:
        step = self.plan.by_id[sid]
        t0 = time.monotonic()
        try:
            taken = await self._ahead.take(sid) if self._ahead is not None else None
        except asyncio.CancelledError:
            taken = None
            self._cancelled = True
        if not (taken is not None and isinstance(taken[0], Done)):
            # A step found done by its check asked ahead changes nothing: its journal record stays done (one write
            # at its end), instead of a `running` written and rewritten within milliseconds (~7 ms each).
            self.journal.mark(sid, RUNNING)
        self._emit(StepStarted(step_id=sid, title=step.title, attempt=self.journal.record(sid).attempts))
        outcome: Outcome
        try:
            if self._cancelled:
                raise asyncio.CancelledError
            if taken is not None:
                result, ctx, ahead_log = taken
                ahead_log.start(lambda line: self._log(sid, line))  # what its check logged ahead, then live
            else:
                ctx = self._step_context(sid, lambda line: self._log(sid, line))
                result = await step.check(ctx)
            if isinstance(result, Done):
                outcome = "ok" if step.check_is_the_work else "unchanged"
                if result.detail:
                    ctx.log(result.detail if step.check_is_the_work else f"already done: {result.detail}")
            else:
                ctx.log(f"to do: {result.reason}")
                if self._ahead is not None:
                    self._ahead.stop()  # the world changes from here: no check asked ahead holds any more
                await step.apply(ctx)
                # Trust but verify: a step whose own check still disagrees did not do its job — once what a
                # cluster takes seconds to do has had them (a volume re-binding, a controller catching up).
                after = await step.check(ctx)
                after = await self._settled(step, ctx, after)
                if not isinstance(after, Done):
                    # Usually a change still under way (a deletion behind a finalizer, a controller not done).
                    raise StonksError(f"{sid} finished but its check still says: {after.reason}",
                                      hint="something may still be finishing (a deletion behind a finalizer, a "
                                           "controller catching up): see the step log, then run again")
                outcome = "ok"
        except asyncio.CancelledError:
            duration = time.monotonic() - t0
            self.journal.mark(sid, INTERRUPTED, error="interrupted before it finished", duration=duration)
            self._emit(StepFinished(step_id=sid, outcome="interrupted", duration=duration,
                                    error="interrupted before it finished",
                                    hint="run the same command again to resume"))
            return "interrupted"
        except NeedsOperator as exc:
            return self._fail(sid, t0, exc.message, exc.hint, outcome="needs-operator")
        except StonksError as exc:
            return self._fail(sid, t0, exc.message, exc.hint)
        except Exception as exc:  # a bug, not an operator mistake: keep the traceback in the step's log
            for line in traceback.format_exception(exc):
                self._log(sid, line.rstrip("\n"), to_screen=False)
            log = self.log_path(sid)
            return self._fail(sid, t0, f"unexpected {type(exc).__name__}: {exc}",
                              f"this is a bug in stonks-tui; the traceback is in {log}" if log else
                              "this is a bug in stonks-tui")
        duration = time.monotonic() - t0
        # A step found already done changed nothing: its record goes with the next write (the next step that
        # works, or the run's end) — 19 writes with two fsyncs each, one after another on the loop, were a tenth
        # of a no-op install. Lost in a crash, it costs the next run one check, which finds it done again.
        self.journal.mark(sid, DONE, duration=duration, outputs=ctx._new_outputs, save=outcome != "unchanged")
        self.ctx.outputs.setdefault(sid, {}).update(ctx._new_outputs)
        self._emit(StepFinished(step_id=sid, outcome=outcome, duration=duration))
        return outcome

    async def _settled(self, step: Step, ctx: StepContext, result: CheckResult) -> CheckResult:
        """Ask the check again, backing off, until it agrees or `settle_timeout` has passed."""
        deadline, pause, said = time.monotonic() + self.settle_timeout, 0.25, False
        while not isinstance(result, Done) and time.monotonic() < deadline:
            if not said:
                ctx.log(f"waiting for the cluster: {result.reason}")
                said = True
            await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 2.0)
            result = await step.check(ctx)
        return result

    def _step_context(self, sid: str, log: Callable[[str], None]) -> StepContext:
        return self.ctx.for_step(sid, log=log, workload=lambda kind, name, ready, wanted: self._emit(
            WorkloadStatus(step_id=sid, kind=kind, name=name, ready=ready, wanted=wanted)))

    def _fail(self, sid: str, t0: float, message: str, hint: str, outcome: Outcome = "failed") -> Outcome:
        duration = time.monotonic() - t0
        message, hint = self.ctx.redact(message), self.ctx.redact(hint)
        state = NEEDS_OPERATOR if outcome == "needs-operator" else FAILED
        self.journal.mark(sid, state, error=message, hint=hint, duration=duration)
        self._emit(StepFinished(step_id=sid, outcome=outcome, duration=duration, error=message, hint=hint))
        return outcome

    def _log(self, sid: str, text: str, *, to_screen: bool = True) -> None:
        text = self.ctx.redact(text)
        lines = text.splitlines() or [""]
        fh = self._log_file(sid)
        if fh is not None:  # one write and one flush per call: a call may carry a whole chunk of helm output
            stamp = time.strftime("%H:%M:%S")
            fh.write("".join(f"{stamp} {line}\n" for line in lines))
            fh.flush()
        if to_screen:
            for line in lines:
                self._emit(LogLine(step_id=sid, line=line))

    def _log_file(self, sid: str) -> IO[str] | None:
        if self.log_dir is None:
            return None
        fh = self._log_files.get(sid)
        if fh is None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            from stonks_tui.fsutil import open_append

            fh = open_append(self.log_dir / f"{sid}.log")  # closed in run()
            self._log_files[sid] = fh
        return fh
