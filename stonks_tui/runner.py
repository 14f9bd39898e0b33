"""The few calls a face needs: plans, describe, run (locked + journaled), cancel, verify, kept PVs.

Headless (no textual import): the wizard and the console both drive the engine through this, and tests can too.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stonks_tui.environment import concurrency
from stonks_tui.errors import StonksError
from stonks_tui.journal import ContextLock, Journal, journal_path, safe_name
from stonks_tui.words import bare_command

if TYPE_CHECKING:  # the engine, plans and steps are imported when first used: the wizard's first frame is sooner
    from stonks_tui.engine.engine import Engine, Listener, RunSummary
    from stonks_tui.engine.plan import Plan
    from stonks_tui.engine.step import Change, StepContext
    from stonks_tui.settings import Settings


def started_after(run: dict[str, Any], other: dict[str, Any]) -> bool:
    """Did `run` start after `other` finished? (An install begun after a teardown is the latest word, even one
    killed midway: its Resume is offered, Verify checks the install.)"""
    if not run.get("started_at"):
        return False
    if isinstance(run.get("started_ts"), int | float) and isinstance(other.get("finished_ts"), int | float):
        return run["started_ts"] >= other["finished_ts"]
    return str(run.get("started_at")) > str(other.get("finished_at") or "")


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
        # Set by a face that runs plans in the engine process (service/): spawner(plan, options) starts it and
        # returns its pid; after_engine() runs once it has exited (the demo's world comes back to this process).
        self.spawner: Callable[[str, dict[str, Any]], int] | None = None
        self.prestarter: Callable[[str, dict[str, Any]], None] | None = None  # the same, ahead of the run
        self.after_engine: Callable[[], None] | None = None
        self.connection: Any = None  # the attached engine process, while attached
        # "`stonks-tui … <name>`" with the session's options, for hints the faces show (set by the session).
        self.command: Callable[..., str] = bare_command
        self.notes: Callable[[str], None] | None = None  # what the engine says to its clients (a cancel by another)
        self.on_interrupt: Callable[[], str] | None = None  # Ctrl-C in an attached client: "cancel" or "detach"
        # The engine's questions to the operator mid-run (a pending release, ARC's finalizers) and their answers:
        # a face that can ask the operator sets this and answers with answer(); without it they are notes.
        self.on_question: Callable[[dict[str, Any]], None] | None = None
        # Does the run this face starts ask its questions (an operator is there: the wizard, a prompt), or take
        # each as no at once (headless: the step fails with its hint)?
        self.asks_operator = False
        self.run_id: str | None = None  # the engine service's id for the run it runs in this process
        self._settling: asyncio.Future[None] | None = None  # the engine process leaving after a run
        self._attached: asyncio.Future[Any] | None = None  # the last attach's read of the engine's stream

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
    async def settled(self) -> None:
        """Wait until the last engine process has let go (the lock, the keyring, the demo's world back here)."""
        attached = self._attached
        if attached is not None and not attached.done():
            with contextlib.suppress(BaseException):
                await asyncio.shield(attached)
        settling = self._settling
        if settling is not None:
            # Every caller waits for the same settling (a second one used to find nothing to wait for while the
            # first still waited for the demo's world to come back, and read a world that was not there).
            await asyncio.shield(settling)
            if self._settling is settling:
                self._settling = None

    async def describe(self, plan: Plan) -> list[tuple[str, list[Change] | str]]:
        """Each step and what it would change, or why it cannot tell."""
        await self.settled()
        ctx = self._context(plan.name)
        # Read-only, so every step asks at once (bounded like the engine's runs): a no-op plan on the real tier
        # spent 1.9 s asking one step after another, most of it waiting on the API server, helm and Gitea.
        gate = asyncio.Semaphore(max(self.concurrency, 8))

        # The keyring may still be unlocking: waited for in one thread (not on the loop, nor in one pool thread per
        # step: those would queue the cluster reads behind them).
        unlocked = asyncio.ensure_future(asyncio.to_thread(self._secrets_known, ctx))
        rt = ctx.clients.get("runtime")
        if rt is not None:
            rt.one_picture(True)  # all at one instant: one `helm list` for every step that asks

        async def one(step: Any) -> list[Change] | str:
            if step.reads_secrets:
                await asyncio.shield(unlocked)
            async with gate:
                try:
                    return await step.describe(ctx.for_step(step.id, log=lambda _l: None))
                except StonksError as exc:
                    return exc.message

        try:
            answers = await asyncio.gather(*(one(step) for step in plan))
        finally:
            if rt is not None:
                rt.one_picture(False)  # the runtime outlives this plan (the wizard runs with it next)
            await self._close(ctx)
        await unlocked  # every stored secret in the redactor before a text is shown
        return [(step.id, ctx.redact(a) if isinstance(a, str) else a) for step, a in zip(plan, answers, strict=True)]

    @staticmethod
    def _secrets_known(ctx: StepContext) -> None:
        """Every stored secret in the redactor before a text is shown (the keyring may still be unlocking)."""
        wait = getattr(ctx.secrets, "wait_loaded", None)
        if wait is not None:
            wait()

    # -- run ----------------------------------------------------------------------------------------------
    def context_dir(self) -> Path:
        return self.state_dir / safe_name(self.context)

    async def run(self, plan: Plan, listeners: list[Listener], *, install_signals: bool = False) -> RunSummary:
        """Run the plan: in the engine process when a spawner is set (the run outlives this process), else here."""
        await self.settled()
        # A keyring unlocking in the background is done (or its refusal said) before a run starts anywhere.
        await asyncio.to_thread(self._secrets_known, self.make_context())
        if self.spawner is None:
            return await self.run_here(plan, listeners, install_signals=install_signals)
        # From here an engine process may exist: a Ctrl-C (or SIGTERM) while it starts is kept and acted on as
        # soon as this client is attached — it used to end only this process (exit 130) while the run went on.
        early: list[int] = []
        if install_signals:
            import signal

            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, early.append, sig)
        try:
            pid = await asyncio.to_thread(self.start_detached, plan)
        finally:
            if install_signals:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)
        return await self.attach(listeners, install_signals=install_signals, pid=pid, early=early)

    def start_detached(self, plan: Plan) -> int:
        """Start the engine process on `plan` (its pid); what it needs beyond the plan's name goes with it."""
        assert self.spawner is not None
        return self.spawner(plan.name, self._engine_options(plan))

    def prestart(self, plan: Plan) -> None:
        """Start the engine process for `plan` ahead of its run (while preflight runs here): its interpreter and
        imports, ~0.6 s, are then not on the run's path. It waits for its start line; unused, it goes away."""
        if self.prestarter is not None:
            self.prestarter(plan.name, self._engine_options(plan))

    def _engine_options(self, plan: Plan) -> dict[str, Any]:
        return {"delete_pvs": any(step.id == "pvs-delete" for step in plan),
                "confirmed_pv_names": list(self.extra.get("confirmed_pv_names") or []), "ask": self.asks_operator}

    async def attach(self, listeners: list[Listener], *, install_signals: bool = False,
                     pid: int | None = None, follower: bool = False, early: list[int] | None = None) -> RunSummary:
        """Follow the engine process's run (its backlog, then live) until it ends or this client detaches.
        A `follower` (attach) going away — SIGTERM, SIGHUP — only detaches: the run is cancelled only when asked."""
        from stonks_tui.engine.engine import RunSummary
        from stonks_tui.service.client import EngineConnection, wait_gone
        from stonks_tui.service.protocol import read_info

        if pid is None:  # attaching to a run started elsewhere: its engine's pid, to wait for its exit at the end
            pid = int((read_info(self.context_dir()) or {}).get("pid") or 0) or None
        self.connection = conn = EngineConnection(self.context_dir())

        def settle() -> None:
            # The engine let go of what a next command needs (lock, keyring, the demo's world) before it sent the
            # end; it only lingers for other clients. Reap it if it is ours, without waiting.
            if pid is not None:
                wait_gone(pid, timeout=0)
            if self.after_engine is not None:
                self.after_engine()

        def settle_soon() -> None:
            # The stream ended by itself — with the run's end, or the engine gone without one (killed, or its
            # last line lost): either way the demo's world comes back here and the keyring is read again (a face
            # went on without a world when only a clean end brought it back). Not awaited: the face shows the end
            # at once, and what needs the world waits (settled). Set before this task ends, so whoever sees it
            # done finds the settling (set by the face's continuation, it could be missed: Verify then read a
            # stale keyring). Not on a detach or a face going away (cancelled): the run goes on there.
            self._settling = asyncio.ensure_future(asyncio.to_thread(settle))

        async def follow() -> Any:
            try:
                seen = await conn.attach(listeners, self.notes, self._question)
            except (ConnectionError, OSError):
                settle_soon()
                raise
            except asyncio.CancelledError:
                # A face that moves on once the run has ended (Enter on "teardown finished" before the engine's
                # stream closed) is no detach: the run is over and the world comes back here all the same.
                if conn.finished:
                    settle_soon()
                raise
            settle_soon()
            return seen

        task = asyncio.ensure_future(follow())
        self._attached = task  # a face may show the end before the engine has let go: settled() waits for this
        loop = asyncio.get_running_loop()
        detached = False
        asking: set[asyncio.Future[None]] = set()

        def detach() -> None:
            nonlocal detached
            detached = True
            task.cancel()

        def interrupt() -> None:
            if self.on_interrupt is None:
                conn.cancel()
                return

            async def ask() -> None:
                choice = await asyncio.to_thread(self.on_interrupt)  # type: ignore[arg-type]
                conn.cancel() if choice == "cancel" else detach()

            question = asyncio.ensure_future(ask())
            asking.add(question)
            question.add_done_callback(asking.discard)

        if install_signals:
            import signal

            loop.add_signal_handler(signal.SIGINT, interrupt)
            loop.add_signal_handler(signal.SIGTERM, detach if follower else conn.cancel)
            loop.add_signal_handler(signal.SIGHUP, detach)  # the terminal went: this client goes, the run does not
            for sig in early or ():  # what arrived while the engine was starting, as if it arrived now
                interrupt() if sig == signal.SIGINT else (detach() if follower else conn.cancel())
        try:
            seen = await task
        except asyncio.CancelledError:
            if not detached:
                raise
            return RunSummary(ok=False, interrupted=False, detached=True)
        except (ConnectionError, OSError):  # the engine went before or while we attached: it was killed
            return RunSummary(ok=False, interrupted=False, vanished=True)
        finally:
            self.connection = None
            if install_signals:
                import signal

                for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                    loop.remove_signal_handler(sig)
        if seen.fatal is not None:  # the engine itself failed (a full disk): this client says so, with its code
            raise seen.fatal
        return RunSummary(ok=seen.ok, interrupted=seen.interrupted, outcomes=seen.outcomes,  # type: ignore[arg-type]
                          errors=seen.errors, vanished=seen.exit_code is None)

    async def run_here(self, plan: Plan, listeners: list[Listener], *, install_signals: bool = False,
                       locked: bool = False) -> RunSummary:
        """Run under the context lock (`locked`: the caller holds it) with the journal; LockHeld / JournalError
        propagate to the caller."""
        with contextlib.nullcontext() if locked else ContextLock(self.state_dir, self.context):
            journal = Journal.open(journal_path(self.state_dir, self.context, plan.name), plan.name, self.context,
                                   locked=True)
            journal.run_id = self.run_id
            from stonks_tui.engine.engine import Engine

            ctx = self._context(plan.name)
            await asyncio.to_thread(self._secrets_known, ctx)  # every secret in the redactor before a step logs
            self.engine = Engine(plan, ctx, journal, log_dir=self.log_dir(plan.name), listeners=listeners,
                                 concurrency=self.concurrency, one_picture=_one_picture(ctx))
            _ensure_io_threads()
            if install_signals:
                import signal

                loop = asyncio.get_running_loop()
                for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                    loop.add_signal_handler(sig, self.engine.cancel)
            try:
                summary = await self.engine.run()
            finally:
                await self._close(ctx)
            if plan.name == "teardown" and summary.ok:  # under the same lock: the install's steps are undone
                install = Journal.open(journal_path(self.state_dir, self.context, "install"), "install",
                                       self.context, locked=True)
                install.undone(journal.run.get("finished_at") or "")
            return summary

    def _question(self, msg: dict[str, Any]) -> None:
        if self.on_question is not None:
            self.on_question(msg)
        elif self.notes is not None:
            from stonks_tui.service.client import question_note

            self.notes(question_note(msg, self.command("attach")))

    def answer(self, qid: str, yes: bool) -> None:
        """The operator's answer to the engine's question `qid` (the first client to answer decides)."""
        if self.connection is not None:
            self.connection.answer(qid, yes)

    def cancel(self) -> None:
        if self.connection is not None:
            self.connection.cancel()
            return
        if self.engine is not None:
            self.engine.cancel()

    # -- checks -------------------------------------------------------------------------------------------
    def torn_down(self) -> bool:
        """Was the latest finished run a teardown? Then `verify` checks what teardown promised to keep."""
        install, teardown = self.journal("install").run, self.journal("teardown").run
        return teardown.get("status") == "done" and not started_after(install, teardown)

    async def verify(self) -> list[Any]:
        await self.settled()
        from stonks_tui.checks.live import verify

        ctx = self._context("install")
        try:
            torn = self.torn_down()
            # PVs the operator asked to delete (their names typed) are not "missing": say deleted, as asked.
            pvs_deleted = torn and "pvs-delete" in self.journal("teardown").steps
            results = await verify(ctx, after_teardown=torn, pvs_deleted=pvs_deleted)
        finally:
            await self._close(ctx)
        await asyncio.to_thread(self._secrets_known, ctx)
        return results

    async def delivery(self, promote: str | None, report: Any) -> list[Any]:
        """verify --delivery: the chain from a pipeline to beta (and `promote`'s stage when asked)."""
        await self.settled()
        from stonks_tui.checks.delivery import prove

        ctx = self._context("install")
        try:
            links = await prove(ctx, report, promote=promote)
        finally:
            await self._close(ctx)
        if promote:  # what was asked and what Kargo answered, beside the break-glasses, for `status`
            import json
            import time

            from stonks_tui.commands.delivery import operator

            outcome = next((link for link in links if link.name == promote), None)
            if outcome is not None:
                entry = {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "stage": promote,
                         "by": operator(), "action": "promoted" if outcome.status == "pass" else "refused",
                         "reason": outcome.detail[:300]}
                with open(self.state_dir / safe_name(self.context) / "break-glass.jsonl", "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(entry) + "\n")
        return links

    async def break_glass(self, stage: str, *, by: str, reason: str, minutes: int, now: Any) -> dict:
        """Open (or, minutes=0, end) the market-hours gate of `stage`: the ConfigMap the gate's expression reads."""
        await self.settled()
        from stonks_tui.inventory import MANAGED_BY
        from stonks_tui.market_hours import AUDIT_KEY, BREAK_GLASS_CONFIGMAP, audit_trail, with_break_glass
        from stonks_tui.runtime import runtime

        ctx = self._context("install")
        try:
            kube = runtime(ctx).kube()
            project = self.settings.kargo_project
            live = await kube.get("v1", "ConfigMap", BREAK_GLASS_CONFIGMAP, project)
            data = with_break_glass((live or {}).get("data"), stage, by=by, reason=reason, minutes=minutes, now=now)
            await kube.apply({"apiVersion": "v1", "kind": "ConfigMap",
                              "metadata": {"name": BREAK_GLASS_CONFIGMAP, "namespace": project,
                                           "labels": {MANAGED_BY[0]: MANAGED_BY[1]}},
                              "data": data})
            entry = audit_trail({AUDIT_KEY: data[AUDIT_KEY]})[-1]
            # Beside the journals too, for `status` (which reads no cluster): this machine's break-glasses.
            import json

            audit = self.state_dir / safe_name(self.context) / "break-glass.jsonl"
            with open(audit, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry) + "\n")
            return entry
        finally:
            await self._close(ctx)

    async def _read(self, kind: str, read: Callable[[StepContext], Awaitable[Any]]) -> Any:
        """`read` with a step context of the `kind` plan, once the last engine has let go; closed after."""
        await self.settled()
        ctx = self._context(kind)
        try:
            return await read(ctx)
        finally:
            await self._close(ctx)

    async def preflight(self) -> list[Any]:
        from stonks_tui.checks.preflight import preflight

        return await self._read("install", preflight)

    async def kept_pvs(self) -> list[tuple[str, str]]:
        """(name, line) per pipeline PV that teardown keeps: NFS server:path, capacity, reclaim policy, status."""
        from stonks_tui.inventory import describe_pv, existing_pvs
        from stonks_tui.runtime import runtime

        async def read(ctx: StepContext) -> list[tuple[str, str]]:
            return [(pv["metadata"]["name"], describe_pv(pv)) for pv in await existing_pvs(runtime(ctx).kube())]

        return await self._read("teardown", read)

    async def teardown_namespaces(self) -> tuple[list[str], list[tuple[str, str]]]:
        """What the teardown would do with the namespaces now: (deleted, [(kept, why)]) — the plan's own answer."""
        from stonks_tui.inventory import teardown_namespaces

        return await self._read("teardown", teardown_namespaces)

    # -- what the wizard's forms need -------------------------------------------------------------------
    def secret_store(self) -> Any:
        """The keyring store the steps read (the wizard writes the operator's secrets into it)."""
        return self.make_context().secrets

    async def gitea_mode(self) -> str:
        """'installer' (Gitea will be initialised) or 'installed' (the admin is checked, or created)."""
        from stonks_tui.runtime import runtime

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


def _one_picture(ctx: StepContext) -> Callable[[bool], None] | None:
    """While a run's checks are asked ahead, all at once (engine/speculation.py), they read the cluster as one
    picture: one `helm list` for the three release steps and ARC's, not four (~0.12 s of CPU each, on a machine
    the cluster shares). Their answers are dropped the moment anything applies, and so is what they shared."""
    rt = ctx.clients.get("runtime")
    return None if rt is None else rt.one_picture
