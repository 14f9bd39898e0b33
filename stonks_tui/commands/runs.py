"""install and teardown (headless, through the engine process or in this one), the engine process itself
(engine-serve) and attach: the commands that run a plan or follow one."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stonks_tui.commands import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from stonks_tui.commands.session import Session, confirm_at_terminal, context_of, state_dir_for
from stonks_tui.words import count


def run_plan(args: argparse.Namespace, plan_for: str) -> int:
    import asyncio

    from stonks_tui.console import ConsolePrinter
    from stonks_tui.errors import UsageError

    if not args.yes and not sys.stdin.isatty():  # before the keyring is opened: refused at once, not seconds later
        raise UsageError(f"{plan_for} needs a confirmation and standard input is not a terminal",
                         hint=f"pass --yes to run the {plan_for} without asking")
    typed_pvs = _typed_pv_names(args) if plan_for == "teardown" and args.delete_pvs else []
    session = Session(args, background_unlock=True)
    try:
        runner = session.runner()
        plan = runner.plan(plan_for, delete_pvs=getattr(args, "delete_pvs", False))
        if not args.yes and not confirm_at_terminal(f"Run the {plan.name} plan ({len(plan)} steps) on context "
                                         f"{session.context}?"):
            print("Nothing was changed.")
            return EXIT_FAILED  # a decision, not bad input
        from stonks_tui.journal import ContextLock, Journal, journal_path

        with ContextLock(session.state, session.context):
            # Another instance on this context is refused (exit 3) before any check or question, and a journal
            # this run cannot use is set aside now (exit 2, once), before preflight reads it.
            Journal.open(journal_path(runner.state_dir, runner.context, plan_for), plan_for, runner.context,
                         locked=True)
        if plan_for == "teardown" and args.delete_pvs:
            runner.extra["confirmed_pv_names"] = typed_pvs
        session.runtime.assume_yes = bool(args.yes)
        if getattr(args, "clear_arc_finalizers", False):
            session.runtime.confirm = lambda question: True
        elif not args.yes and sys.stdin.isatty():
            session.runtime.confirm = confirm_at_terminal
            runner.asks_operator = True  # the engine asks this terminal (or whichever client attaches) mid-run
        if not args.foreground:
            session.use_engine_process(runner)
            runner.prestart(plan)  # its start (~0.6 s) beside preflight; it runs nothing until it is handed over
        if plan_for == "install" and not args.skip_preflight:
            results = asyncio.run(runner.preflight())
            for r in results:
                print(session.redactor(r.line()))
            failed = [r for r in results if r.status == "fail"]
            if failed:
                print(f"preflight: {len(failed)} of {len(results)} checks failed; nothing was applied.")
                return EXIT_FAILED
            print(f"preflight: {len(results)} checks passed" +
                  (f" ({count(sum(r.status == 'warn' for r in results), 'warning')})" if any(
                      r.status == "warn" for r in results) else ""))
        printer = ConsolePrinter(verbose=not args.quiet)
        if not args.foreground:
            if runner.asks_operator and not args.detach:
                from stonks_tui.console import TerminalQuestions

                runner.on_question = TerminalQuestions(runner.answer, printer=printer)
            if args.detach:
                pid = runner.start_detached(plan)
                info = _engine_info(runner)
                print(f"{plan_for} started in the background: run {info.get('run_id', '?')}, engine pid {pid}. "
                      f"Follow it: {session.command('attach')}; its state: {session.command('status')}")
                return EXIT_OK
            runner.on_interrupt = cancel_or_detach(printer) if sys.stdin.isatty() else None
        async def run_and_settle():  # type: ignore[no-untyped-def]
            summary = await runner.run(plan, [printer], install_signals=True)
            if not summary.detached:
                await runner.settled()  # the engine has left (and released the demo's world) before we return
            return summary

        return _report_end(session, runner, plan_for, asyncio.run(run_and_settle()))
    finally:
        session.close()


def _engine_info(runner) -> dict:  # type: ignore[no-untyped-def]
    from stonks_tui.service.protocol import read_info

    return read_info(runner.context_dir()) or {}


def _report_end(session: Session, runner, plan_for: str, summary) -> int:  # type: ignore[no-untyped-def]
    if summary.detached:
        print(f"Detached: the {plan_for} goes on in the engine process. Follow it: {session.command('attach')}")
    elif summary.vanished:
        print(f"The engine process went away before the {plan_for} ended (was it killed?). Run "
              f"{session.command(plan_for)} again to resume; journal: {runner.journal(plan_for).path}")
        return EXIT_FAILED
    elif summary.exit_code == EXIT_INTERRUPTED:
        print(f"Interrupted. Run {session.command(plan_for)} again to resume; journal: "
              f"{runner.journal(plan_for).path}")
    return summary.exit_code


def cancel_or_detach(printer: Any) -> Callable[[], str]:
    """Ctrl-C in a client on a terminal: the run is not this process's to lose by accident. The run's lines are
    held while the question waits (they scrolled it away), then printed."""

    def ask() -> str:
        printer.hold()
        try:
            answer = input("\nCtrl-C: [c]ancel the run, or [d]etach and let it go on? [d] ").strip().lower()
        except (EOFError, KeyboardInterrupt):
            return "cancel"
        finally:
            printer.release()
        return "cancel" if answer.startswith("c") else "detach"

    return ask


def _typed_pv_names(args: argparse.Namespace) -> list[str]:
    """The PV names the operator typed to confirm their deletion (never inferred, never defaulted). Anything short
    of every name, exactly, is refused before the teardown starts (exit 2): nothing is removed on a half answer."""
    from stonks_tui.errors import UsageError
    from stonks_tui.inventory import PIPELINE_PVS

    if args.confirm_pv_names:
        typed = [n.strip() for n in args.confirm_pv_names.split(",") if n.strip()]
    elif not sys.stdin.isatty():
        typed = []
    else:
        print("Deleting PersistentVolumes removes the cluster's record of where the data is (the NFS data itself "
              "stays). To confirm, type each PV name:")
        typed = []
        for name in PIPELINE_PVS:
            try:
                typed.append(input(f"  {name}: ").strip())
            except EOFError:
                break
    missing = [n for n in PIPELINE_PVS if n not in typed]
    unknown = [n for n in typed if n not in PIPELINE_PVS]
    if missing or unknown:
        said = f"not typed: {', '.join(missing)}" if missing else ""
        said += ("; " if said and unknown else "") + (f"not a pipeline PV: {', '.join(unknown)}" if unknown else "")
        raise UsageError(f"teardown --delete-pvs needs every PV's name typed to confirm ({said}); nothing was "
                         "changed", hint="--confirm-pv-names " + ",".join(PIPELINE_PVS) + " (or type them on a "
                                         "terminal); without --delete-pvs the PVs and their data are kept")
    return typed


START_LINE_WAIT = 900.0  # an engine started ahead of its run waits this long for its client's start line


def _warm_imports() -> None:
    """What a run imports — the engine, the steps and checks, the clients, the kubernetes library (0.3 s) — before
    the engine waits for its start line: started ahead of its run, it is ready when the run is handed over. Not the
    library's typed CoreV1Api (0.35 s more of CPU, beside its client's preflight): nothing here uses it. httpx loads
    its transport (httpcore, anyio's asyncio backend) and ruamel.yaml is loaded by the repo step only when first
    used: in a run, that was ~0.1 s of CPU with every check of the run waiting on the same interpreter."""
    import anyio._backends._asyncio  # noqa: F401
    import httpcore  # noqa: F401
    import httpx  # noqa: F401
    import kubernetes.dynamic
    import kubernetes.stream.ws_client  # noqa: F401
    import ruamel.yaml  # noqa: F401

    import stonks_tui.checks.live
    import stonks_tui.checks.webhook_delivery
    import stonks_tui.clients.gitea
    import stonks_tui.clients.helm
    import stonks_tui.clients.kube
    import stonks_tui.clients.woodpecker
    import stonks_tui.plans
    import stonks_tui.runner
    import stonks_tui.service.server  # noqa: F401


def _read_start_line() -> str | None:
    """The start line from the client on stdin; None when stdin closed first (the client went away or had no run to
    hand over) or nothing came in START_LINE_WAIT. On a terminal (started by hand) there is none to read: ''.
    Once handed its line the engine writes to the log the line names (until then: engine-start.log)."""
    import select

    if sys.stdin.isatty():
        return ""
    ready, _, _ = select.select([sys.stdin], [], [], START_LINE_WAIT)
    line = sys.stdin.readline() if ready else ""
    if not line.endswith("\n"):
        return None
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        import json

        log = json.loads(line).get("log")
        if isinstance(log, str) and log:
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.close(fd)
    return line


def start_line(line: str) -> tuple[str | None, dict[str, str] | None]:
    """What the client hands the engine on its stdin: one JSON object (passphrase, the context's secrets). Its
    content is never repeated in a message: it holds secrets."""
    import json

    from stonks_tui.errors import UsageError

    if not line.strip():
        return None, None
    try:
        data = json.loads(line)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise UsageError("the engine process was started without its start line (it is started by install, "
                         "teardown and the wizard, never by hand)", hint="run stonks-tui install or teardown")
    secrets = data.get("secrets")
    handed = {str(k): str(v) for k, v in secrets.items()} if isinstance(secrets, dict) else None
    return str(data.get("passphrase") or "") or None, handed


def cmd_engine_serve(args: argparse.Namespace) -> int:
    """The engine process (started by install/teardown and the wizard, never by hand): runs one plan under the
    context lock and serves its events on the context's socket until the run has ended and its clients have read
    that. Its stdin brings the keyring's passphrase, one line (never argv or the environment)."""
    import asyncio

    from stonks_tui.journal import ContextLock
    from stonks_tui.service.server import EngineService

    _warm_imports()  # while its client runs preflight: the engine may be started ahead of its run
    line = _read_start_line()
    if line is None:
        return EXIT_OK  # its client went away before handing it a run: nothing was touched
    phrase, handed = start_line(line)
    session = Session(args, interactive=False, announce=False, passphrase=phrase, demo_wait=15.0,
                      background_unlock=True, handed=handed)
    try:
        runner = session.runner()
        plan = runner.plan(args.which, delete_pvs=args.delete_pvs)
        if args.delete_pvs:
            runner.extra["confirmed_pv_names"] = [n for n in args.confirm_pv_names.split(",") if n]
        session.runtime.assume_yes = bool(args.yes)
        if args.clear_arc_finalizers:
            session.runtime.confirm = lambda question: True

        lock = ContextLock(session.state, session.context)
        lock.acquire()  # before the socket: a refused engine touches nothing

        async def serve() -> int:
            service = EngineService(runner.context_dir(), plan.name, runner.cancel)
            runner.run_id = service.run_id
            if args.ask and not args.clear_arc_finalizers:
                session.runtime.confirm = service.ask  # the operator answers from a client (wizard, terminal)
            await service.start()
            code = EXIT_FAILED
            try:
                code = (await runner.run_here(plan, [service.broadcast], install_signals=True, locked=True)).exit_code
            except Exception as exc:
                code = _tell_clients(service, exc, runner.context_dir())
                raise  # and into engine.log, with its traceback when it is a bug
            finally:
                try:
                    # What the next run needs — the keyring written, the demo's world and the lock let go — is
                    # free before the clients hear the end: one that runs the next command at once is not refused.
                    session.close()
                    lock.release()
                except Exception as exc:
                    code = _tell_clients(service, exc, runner.context_dir())
                    raise
                finally:
                    await service.finish(code)
            return code

        try:
            return asyncio.run(serve())
        finally:
            lock.release()
    finally:
        session.close()


def _tell_clients(service: Any, exc: Exception, context_dir: Path) -> int:
    """The engine's own failure as the operator's message, sent to every client; its exit code."""
    from stonks_tui.errors import StonksError, storage_error

    error = storage_error(exc) or (exc if isinstance(exc, StonksError) else None)
    if error is None:
        error = StonksError(f"the engine process failed: {type(exc).__name__}: {exc}",
                            hint=f"its log, with the traceback: {context_dir / 'engine.log'}; the next run resumes "
                                 "where this one stopped")
    service.fatal(error.message, error.hint, error.exit_code)
    return error.exit_code


def cmd_attach(args: argparse.Namespace) -> int:
    import asyncio

    from stonks_tui.console import ConsolePrinter
    from stonks_tui.runner import Runner
    from stonks_tui.service.protocol import live_engine

    context = context_of(args)
    state = state_dir_for(args)
    runner = Runner(None, context, state, None, demo=args.demo)  # type: ignore[arg-type]
    info = live_engine(runner.context_dir())
    if info is None:
        print(f"No run is live for context {context}. `stonks-tui status` shows the last one.")
        return EXIT_FAILED
    if sys.stdout.isatty() and sys.stdin.isatty() and not args.plain:
        from stonks_tui.commands.wizard import cmd_wizard

        return cmd_wizard(args)  # on a terminal: the wizard, which opens on the live run (its backlog, then live)
    print(f"attached to the {info.get('plan')} run {info.get('run_id')} (engine pid {info.get('pid')})",
          file=sys.stderr)
    runner.notes = lambda text: print(f"note: {text}")
    runner.on_interrupt = lambda: "detach"  # Ctrl-C in `attach` leaves the run alone
    printer = ConsolePrinter(verbose=not args.quiet)
    if sys.stdin.isatty():
        from stonks_tui.console import TerminalQuestions

        runner.on_question = TerminalQuestions(runner.answer, printer=printer)  # a question is answered here
    async def attach_and_settle():  # type: ignore[no-untyped-def]
        summary = await runner.attach([printer], install_signals=True, follower=True,
                                      pid=int(info.get("pid") or 0) or None)
        if not summary.detached:
            await runner.settled()
        return summary

    summary = asyncio.run(attach_and_settle())
    if summary.detached:
        print("Detached: the run goes on.")
    elif summary.vanished:
        print("The engine process went away before the run ended (was it killed?): run the plan again to resume.")
        return EXIT_FAILED
    return summary.exit_code
