"""The few calls a face needs: plans, describe, run (locked + journaled), cancel, verify, kept PVs.

Headless (no textual import): the wizard and the console both drive the engine through this, and tests can too.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stonks_tui.environment import concurrency
from stonks_tui.errors import StonksError
from stonks_tui.journal import ContextLock, Journal, journal_path, safe_name

if TYPE_CHECKING:  # the engine, plans and steps are imported when first used: the wizard's first frame is sooner
    from stonks_tui.engine.engine import Engine, Listener, RunSummary
    from stonks_tui.engine.plan import Plan
    from stonks_tui.engine.step import Change, StepContext
    from stonks_tui.settings import Settings


class Runner:
    def __init__(self, settings: Settings, context: str, state_dir: Path,
                 make_context: Callable[[], StepContext], *, demo: bool = False) -> None:
        self.settings = settings
        self.context = context
        self.state_dir = state_dir
        self.make_context = make_context
        self.demo = demo
        self.engine: Engine | None = None
        self.answers_path: Path | None = None  # where the wizard saves the operator's settings
        self.extra: dict[str, Any] = {}  # e.g. confirmed_pv_names, put into the step context
        # How many independent steps run at once; 1 reproduces the old scripts' one-at-a-time order.
        self.concurrency = concurrency()

    # -- plans and the journal ----------------------------------------------------------------------------
    def plan(self, kind: str, *, delete_pvs: bool = False) -> Plan:
        from stonks_tui.plans import install_plan, teardown_plan  # steps and clients: only once a plan is needed

        return install_plan(self.settings) if kind == "install" else teardown_plan(self.settings,
                                                                                 delete_pvs=delete_pvs)

    def journal(self, kind: str) -> Journal:
        """Read-only view (no lock): for Resume and status."""
        return Journal.open(journal_path(self.state_dir, self.context, kind), kind, self.context)

    def log_dir(self, kind: str) -> Path:
        return self.state_dir / safe_name(self.context) / "logs" / kind

    def _context(self, kind: str) -> StepContext:
        ctx = self.make_context()
        ctx.settings = self.settings  # the wizard's Settings screen may have replaced them
        ctx.clients.update(self.extra)
        for sid, rec in self.journal(kind).steps.items():
            ctx.outputs[sid] = dict(rec.outputs)
        return ctx

    async def _close(self, ctx: StepContext) -> None:
        rt = ctx.clients.get("runtime")
        if rt is not None:
            await rt.aclose()

    # -- describe -----------------------------------------------------------------------------------------
    async def describe(self, plan: Plan) -> list[tuple[str, list[Change] | str]]:
        """Each step and what it would change, or why it cannot tell."""
        ctx = self._context(plan.name)
        out: list[tuple[str, list[Change] | str]] = []
        try:
            for step in plan:
                try:
                    out.append((step.id, await step.describe(ctx.for_step(step.id, log=lambda _l: None))))
                except StonksError as exc:
                    out.append((step.id, ctx.redact(exc.message)))
        finally:
            await self._close(ctx)
        return out

    # -- run ----------------------------------------------------------------------------------------------
    async def run(self, plan: Plan, listeners: list[Listener], *, install_signals: bool = False) -> RunSummary:
        """Run under the context lock with the journal; LockHeld / JournalError propagate to the caller."""
        with ContextLock(self.state_dir, self.context):
            journal = Journal.open(journal_path(self.state_dir, self.context, plan.name), plan.name, self.context,
                                   locked=True)
            from stonks_tui.engine.engine import Engine

            ctx = self._context(plan.name)
            self.engine = Engine(plan, ctx, journal, log_dir=self.log_dir(plan.name), listeners=listeners,
                                 concurrency=self.concurrency)
            _ensure_io_threads()
            if install_signals:
                import signal

                loop = asyncio.get_running_loop()
                for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                    loop.add_signal_handler(sig, self.engine.cancel)
            try:
                return await self.engine.run()
            finally:
                await self._close(ctx)

    def cancel(self) -> None:
        if self.engine is not None:
            self.engine.cancel()

    # -- checks -------------------------------------------------------------------------------------------
    def torn_down(self) -> bool:
        """Was the latest finished run a teardown? Then `verify` checks what teardown promised to keep."""
        install, teardown = self.journal("install").run, self.journal("teardown").run
        if teardown.get("status") != "done":
            return False
        return not install.get("finished_at") or teardown.get("finished_at", "") > install.get("finished_at", "")

    async def verify(self) -> list[Any]:
        from stonks_tui.checks.live import verify

        ctx = self._context("install")
        try:
            torn = self.torn_down()
            # PVs the operator asked to delete (their names typed) are not "missing": say deleted, as asked.
            pvs_deleted = torn and "pvs-delete" in self.journal("teardown").steps
            return await verify(ctx, after_teardown=torn, pvs_deleted=pvs_deleted)
        finally:
            await self._close(ctx)

    async def preflight(self) -> list[Any]:
        from stonks_tui.checks.preflight import preflight

        ctx = self._context("install")
        try:
            return await preflight(ctx)
        finally:
            await self._close(ctx)

    async def kept_pvs(self) -> list[tuple[str, str]]:
        """(name, line) per pipeline PV that teardown keeps: NFS server:path, capacity, reclaim policy, status."""
        from stonks_tui.steps.common import runtime
        from stonks_tui.steps.teardown import describe_pv, existing_pvs

        ctx = self._context("teardown")
        try:
            return [(pv["metadata"]["name"], describe_pv(pv)) for pv in await existing_pvs(runtime(ctx).kube())]
        finally:
            await self._close(ctx)

    # -- what the wizard's forms need -------------------------------------------------------------------
    def secret_store(self) -> Any:
        """The keyring store the steps read (the wizard writes the operator's secrets into it)."""
        return self.make_context().secrets

    async def gitea_mode(self) -> str:
        """'installer' (Gitea will be initialised) or 'installed' (the admin is checked, or created)."""
        from stonks_tui.steps.common import runtime

        ctx = self._context("install")
        try:
            return await runtime(ctx).gitea(self.settings).mode()
        finally:
            await self._close(ctx)


_IO_LOOPS: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def _ensure_io_threads() -> None:
    """Blocking kube calls, and the readiness watches of concurrent helm steps (each holds a thread while it
    waits), share the loop's default executor. Its default size on a small node (cores + 4) is less than the
    watches an install holds at once, which would queue every other call behind them: give it 32, once."""
    from concurrent.futures import ThreadPoolExecutor

    loop = asyncio.get_running_loop()
    if loop not in _IO_LOOPS:
        loop.set_default_executor(ThreadPoolExecutor(max_workers=32, thread_name_prefix="stonks-io"))
        _IO_LOOPS.add(loop)
