"""Command line: `stonks-tui [global options] [COMMAND]`.

Only argparse and the standard library are imported at module level: `--help` and `--version` must not pay
for textual, kubernetes or httpx. Every command imports what it needs when it runs.

Exit codes: 0 success, 1 a step or check failed, 2 bad input or usage, 3 lock held, 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stonks_tui import __version__
from stonks_tui.words import count  # light (no imports): every command counts something

if TYPE_CHECKING:
    from stonks_tui.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool killed by it

DESCRIPTION = """\
Move a k3s cluster's CI/CD from GitHub (ARC runners + GHCR) to Gitea, Woodpecker CI and the local registry,
while Argo CD and Kargo keep deploying. Every step is idempotent and journaled: a run that dies resumes
where it stopped. With no command, the wizard opens.
"""

EPILOG = """\
exit codes: 0 success, 1 a step or check failed, 2 bad input or usage, 3 another instance holds the lock,
130 interrupted.  Settings come from --answers and STONKS_<SETTING> environment variables; secrets from the
keyring (never the answers file).
"""


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The same options before or after the command (`stonks-tui --demo plan` == `stonks-tui plan --demo`)."""
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--answers", metavar="FILE", type=Path, default=default,
                        help="YAML answers file with settings, no secrets (default: answers.yaml in the state dir, "
                             "which the wizard saves)")
    parser.add_argument("--state-dir", metavar="DIR", type=Path, default=default,
                        help="where the journal, logs and demo world live (default: XDG state dir)")
    parser.add_argument("--context", metavar="NAME", default=default,
                        help="kube context to act on (default: kubeconfig's current-context)")
    parser.add_argument("--demo", action="store_true", default=argparse.SUPPRESS if suppress else False,
                        help="run against an embedded simulated cluster on 127.0.0.1")


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--detach", action="store_true",
                   help="start the run in the background and return at once (follow it with `stonks-tui attach`)")
    p.add_argument("--foreground", action="store_true",
                   help="run in this process (it ends with this terminal); by default the run is done by an engine "
                        "process that outlives a dropped session")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stonks-tui", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"stonks-tui {__version__}")
    _global_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("install", parents=[common], help="run the install plan headless, one line per event",
                       description="Check the prerequisites, then run the install plan without the wizard: one line "
                                   "per step event. The run is done by an engine process that outlives this "
                                   "terminal; an interrupted run resumes where it stopped when run again.")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--quiet", action="store_true", help="print step results only, not their log lines")
    p.add_argument("--clear-arc-finalizers", action="store_true",
                   help="if an ARC namespace hangs in Terminating on ARC's finalizers, clear exactly those")
    p.add_argument("--skip-preflight", action="store_true",
                   help="do not check the cluster, helm, Gitea, registry and NFS before applying")
    _run_options(p)
    plan_p = sub.add_parser("plan", parents=[common], help="print each step and what it would change",
                            description="Print each step of the install (or the teardown) plan and what it would "
                                        "change on the cluster, without changing anything.")
    plan_p.add_argument("which", nargs="?", choices=("install", "teardown"), default="install",
                        help="the plan to show (default: install)")
    plan_p.add_argument("--delete-pvs", action="store_true", help="teardown: include deleting the pipeline PVs")
    sub.add_parser("status", parents=[common], help="print the journal: each step, its state, when, last error",
                   description="Print the last install and teardown runs from their journals: whether a run is live, "
                               "each step's state, when it changed and its last error.")
    sub.add_parser("check", parents=[common], help="offline checks of everything that would be applied",
                   description="Render every manifest, values file and pipeline from the settings and check them "
                               "offline (schemas, chart keys, the pipeline); nothing is contacted.")
    sub.add_parser("verify", parents=[common], help="live checks of the installed system",
                   description="Check the installed system live (read-only): Gitea, Woodpecker and its webhook, Argo "
                               "CD, Kargo, the registry, TLS, volumes. After a teardown: what it keeps.")
    p = sub.add_parser("teardown", parents=[common], help="reverse the install; PersistentVolumes are kept",
                       description="Remove what the install made — Kargo's resources and release, Argo CD, Woodpecker, "
                                   "the agents' cluster RBAC, the namespaces it created — and keep the pipeline "
                                   "PersistentVolumes (Retain) unless --delete-pvs and their typed names say "
                                   "otherwise. NFS data is never deleted.")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--delete-pvs", action="store_true",
                   help="also delete the pipeline PVs (asks you to type their names; NFS data is never deleted)")
    p.add_argument("--confirm-pv-names", metavar="NAMES", default="",
                   help="with --delete-pvs off a terminal: the PV names, comma-separated, as typed confirmation")
    p.add_argument("--quiet", action="store_true", help="print step results only, not their log lines")
    _run_options(p)
    p = sub.add_parser("attach", parents=[common], help="follow the live install or teardown (its log so far, then "
                                                        "live); exits with the run's exit code",
                       description="Follow the run the engine process is doing for this context: everything it has "
                                   "done so far, then live, until it ends. On a terminal this is the wizard on the "
                                   "live run; otherwise plain lines (a question the run asks is answered at the "
                                   "prompt when standard input is a terminal). Ctrl-C detaches (the run goes on).")
    p.add_argument("--quiet", action="store_true", help="print step results only, not their log lines")
    p.add_argument("--plain", action="store_true", help="plain lines even on a terminal (there it opens the wizard)")
    p = sub.add_parser("engine-serve", parents=[common])  # started by install/teardown, not by hand
    # argparse on 3.11 lists a help=SUPPRESS subcommand as "==SUPPRESS==": leave it out of the listing instead.
    sub._choices_actions = [a for a in sub._choices_actions if a.dest != "engine-serve"]
    p.add_argument("which", choices=("install", "teardown"))
    p.add_argument("--yes", action="store_true")
    p.add_argument("--delete-pvs", action="store_true")
    p.add_argument("--confirm-pv-names", default="")
    p.add_argument("--clear-arc-finalizers", action="store_true")
    p.add_argument("--ask", action="store_true", help="ask the clients mid-run questions (an operator is there)")
    p = sub.add_parser("secrets", parents=[common], help="list stored secrets (names only), rotate one, or forget all",
                       description="list: the names of the secrets kept for this context (never their values). "
                                   "rotate NAME: a generated secret is forgotten and made anew by the next install; "
                                   "one you give (woodpecker-token, registry-password, …) is replaced by the value "
                                   "in STONKS_<NAME> or typed at the prompt. forget: every secret of the context.")
    p.add_argument("action", choices=["list", "rotate", "forget"], nargs="?", default="list")
    p.add_argument("name", nargs="?", default="", help="with rotate: the secret to renew or replace")
    p.add_argument("--yes", action="store_true", help="with forget: do not ask")
    sub.add_parser("settings", parents=[common], help="print every setting with its value, as an answers file",
                   description="Print every setting, grouped, with its current value (answers file and "
                               "STONKS_<SETTING> variables applied) and what it is for: a valid answers file to start "
                               "from.")
    p = sub.add_parser("render", parents=[common], help="write every rendered manifest and values file to DIR",
                       description="Write every manifest, values file and the pipeline the install would apply to DIR, "
                                   "for review or GitOps; secrets appear as placeholders, never values.")
    p.add_argument("--out", metavar="DIR", type=Path, required=True, help="output directory")
    return parser


# ---------------------------------------------------------------------------------------------------------


def state_dir_for(args: argparse.Namespace) -> Path:
    """The state directory, created private or checked to be (state_dir.prepare): every command reads or writes it."""
    from stonks_tui import state_dir

    if args.state_dir is not None:
        return state_dir.prepare(Path(args.state_dir).expanduser())
    env = os.environ.get("STONKS_STATE_DIR")
    if env:
        return state_dir.prepare(Path(env).expanduser())
    from platformdirs import user_state_path

    return state_dir.prepare(user_state_path("stonks-tui"))


def answers_path(args: argparse.Namespace, *, existing: bool = False) -> Path | None:
    """--answers, else the wizard's saved answers in the state dir (when `existing`, only if it is there)."""
    if args.answers:
        return Path(args.answers)
    # The demo keeps its own (loopback) answers apart, so a real run never picks them up.
    saved = state_dir_for(args) / ("demo/answers.yaml" if getattr(args, "demo", False) else "answers.yaml")
    return saved if saved.exists() or not existing else None


def load_valid_settings(args: argparse.Namespace, overrides: dict | None = None) -> Settings:
    from stonks_tui.secrets import check_given_secrets
    from stonks_tui.settings import load_settings, require_valid

    check_given_secrets()
    settings = load_settings(answers_path(args, existing=True))
    if overrides:
        # --demo: every endpoint is the simulated one on 127.0.0.1, whatever the answers file says.
        settings = settings.replace(**overrides)
    require_valid(settings)
    return settings


def _confirm(question: str) -> bool:
    from stonks_tui.errors import UsageError

    if not sys.stdin.isatty():
        raise UsageError(f"{question.rstrip('?')}: cannot ask, standard input is not a terminal",
                         hint="pass --yes to run without confirmation")
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


class Session:
    """Everything a command needs to act on one cluster context: built once, closed once."""

    def __init__(self, args: argparse.Namespace, *, with_secrets: bool = True, interactive: bool | None = None,
                 announce: bool = True, passphrase: str | None = None, demo_wait: float = 0.0) -> None:
        from stonks_tui import state_dir
        from stonks_tui.kubecontext import resolve_context
        from stonks_tui.redact import Redactor
        from stonks_tui.runtime import Runtime

        self.args = args
        self.passphrase = passphrase
        self.state = state_dir_for(args)
        self.demo = None
        overrides = None
        kubeconfig = None
        if args.demo:
            from stonks_tui.demo import DEMO_CONTEXT, saved_overrides, start_demo
            from stonks_tui.errors import LockHeld
            from stonks_tui.journal import safe_name
            from stonks_tui.service.protocol import live_engine

            self.context = DEMO_CONTEXT
            try:
                self.demo = start_demo(self.state, wait=demo_wait)
                overrides = self.demo.overrides
                kubeconfig = str(self.demo.world.kubeconfig)
            except LockHeld:
                # The engine process runs a plan on the demo's world: a client (the wizard, attaching) waits for
                # it to finish before it takes the world back (use_engine_process); until then it reads its ports.
                if not with_secrets or live_engine(self.state / safe_name(DEMO_CONTEXT)) is None:
                    raise
                overrides = saved_overrides(self.state)
                kubeconfig = str(self.state / "demo" / "kubeconfig")
            if announce:
                print(f"demo: simulated cluster, Gitea and helm on 127.0.0.1; state in {self.state}",
                      file=sys.stderr)
        try:
            self.settings = load_valid_settings(args, overrides)
            if not args.demo:
                self.context = resolve_context(args.context)
            self.redactor = Redactor()
            self.secrets = None
            self.interactive = interactive
            if with_secrets:
                self.secrets = self._open_secrets()
            self.runtime = Runtime(context=self.context, kubeconfig=kubeconfig,
                                   state_dir=state_dir.context_dir(self.state, _safe(self.context)),
                                   env=dict(os.environ), demo=args.demo, command=self.command)
        except BaseException:
            self.close()
            raise

    def _open_secrets(self):  # type: ignore[no-untyped-def]
        from stonks_tui.secrets import open_store

        if self.args.demo:
            from stonks_tui.demo import demo_passphrase, passphrase_is_public, seed_demo_secrets

            phrase = self.passphrase or demo_passphrase()
            store = open_store(self.state / "demo", self.context, self.redactor, isolated=True, passphrase=phrase,
                               interactive=False, public_passphrase=passphrase_is_public(phrase))
            if self.demo is not None:  # else the engine process holds the demo's world (and seeded its keyring)
                seed_demo_secrets(store, self.demo, self.settings.gitea_admin_user)
            return store
        return open_store(self.state, self.context, self.redactor, interactive=self.interactive,
                          passphrase=self.passphrase)

    def unlock(self, passphrase: str) -> None:
        """Open the encrypted keyring with a passphrase typed into the wizard."""
        from stonks_tui.secrets import open_store

        self.secrets = open_store(self.state, self.context, self.redactor, passphrase=passphrase, interactive=False)
        self.passphrase = passphrase

    def step_context(self):  # type: ignore[no-untyped-def]
        from stonks_tui.engine.step import MemorySecretStore, StepContext

        ctx = StepContext(settings=self.settings, secrets=self.secrets or MemorySecretStore(self.redactor),
                          redact=self.redactor)
        ctx.clients["runtime"] = self.runtime
        return ctx

    def runner(self):  # type: ignore[no-untyped-def]
        from stonks_tui.runner import Runner

        runner = Runner(self.settings, self.context, self.state, self.step_context, demo=self.demo is not None)
        return self.fill(runner)

    def fill(self, runner):  # type: ignore[no-untyped-def]
        """Give a runner made before this session (the wizard's, drawn early) what it needs to act."""
        runner.settings = self.settings
        runner.make_context = self.step_context
        runner.answers_path = answers_path(self.args)
        runner.command = self.command
        return runner

    def command(self, name: str, *, ticks: bool = True) -> str:
        """`stonks-tui <name>` with the options this session was given, so a hint copied from here works here."""
        words = ["stonks-tui"]
        if getattr(self.args, "state_dir", None) is not None:
            words += ["--state-dir", str(self.args.state_dir)]
        if self.args.demo:
            words.append("--demo")
        elif getattr(self.args, "context", None):
            words += ["--context", self.args.context]
        if getattr(self.args, "answers", None):
            words += ["--answers", str(self.args.answers)]
        import shlex

        text = " ".join(shlex.quote(w) for w in [*words, *name.split()])
        return f"`{text}`" if ticks else text

    def use_engine_process(self, runner, *, keep_demo: bool = False) -> None:  # type: ignore[no-untyped-def]
        """Runs of `runner` go to an engine process (service/), which outlives this one. The demo's world moves
        there for the run (one world per directory); `keep_demo` brings it back here afterwards (the wizard)."""
        from stonks_tui.service.client import engine_argv, spawn

        def spawner(plan: str, options: dict) -> int:
            demo, self.demo = self.demo, None
            if demo is not None:  # the engine takes the world over; it waits for this process to let it go
                import threading

                threading.Timer(0.05, demo.stop).start()
            argv = engine_argv(self.args, plan, delete_pvs=bool(options.get("delete_pvs")),
                               confirmed_pv_names=options.get("confirmed_pv_names"),
                               assume_yes=self.runtime.assume_yes,
                               clear_arc_finalizers=bool(getattr(self.args, "clear_arc_finalizers", False)),
                               context=None if self.args.demo else self.context, ask=bool(options.get("ask")))
            phrase = self.passphrase or getattr(self.secrets, "passphrase", None)
            return spawn(runner.context_dir(), argv, phrase)

        def after_engine() -> None:
            if self.secrets is not None and hasattr(self.secrets, "reload"):
                self.secrets.reload()  # the engine stored new secrets (tokens it minted): read them
            if keep_demo and self.args.demo and self.demo is None:
                from stonks_tui.demo import start_demo

                self.demo = start_demo(self.state, wait=15.0)  # the engine lets it go before the run's end
                # A port the world had may have been taken while it was away (by any process binding port 0);
                # the world then listens elsewhere, and what this client reaches must follow it.
                self.settings = self.settings.replace(**self.demo.overrides)
                runner.settings = self.settings

        runner.spawner = spawner
        runner.after_engine = after_engine
        runner.notes = lambda text: print(f"note: {text}")

    def close(self) -> None:
        secrets = getattr(self, "secrets", None)
        if secrets is not None and hasattr(secrets, "flush"):
            secrets.flush()
        if self.demo is not None:
            self.demo.stop()
            self.demo = None


def _safe(context: str) -> str:
    from stonks_tui.journal import safe_name

    return safe_name(context)


def _run_plan(args: argparse.Namespace, plan_for: str) -> int:
    import asyncio

    from stonks_tui.console import ConsolePrinter
    from stonks_tui.errors import UsageError

    if not args.yes and not sys.stdin.isatty():  # before the keyring is opened: refused at once, not seconds later
        raise UsageError(f"{plan_for} needs a confirmation and standard input is not a terminal",
                         hint=f"pass --yes to run the {plan_for} without asking")
    typed_pvs = _typed_pv_names(args) if plan_for == "teardown" and args.delete_pvs else []
    session = Session(args)
    try:
        runner = session.runner()
        plan = runner.plan(plan_for, delete_pvs=getattr(args, "delete_pvs", False))
        if not args.yes and not _confirm(f"Run the {plan.name} plan ({len(plan)} steps) on context "
                                         f"{session.context}?"):
            print("Nothing was changed.")
            return EXIT_FAILED  # a decision, not bad input
        from stonks_tui.journal import ContextLock, Journal, journal_path

        with ContextLock(session.state, session.context):
            # Another instance on this context is refused (exit 3) before any check or question, and a journal
            # this run cannot use is set aside now (exit 2, once), before preflight reads it.
            Journal.open(journal_path(runner.state_dir, runner.context, plan_for), plan_for, runner.context,
                         locked=True)
        if plan_for == "install" and not args.skip_preflight:
            results = asyncio.run(runner.preflight())
            for r in results:
                print(session.redactor(r.line()))
            failed = [r for r in results if r.status == "fail"]
            if failed:
                print(f"preflight: {len(failed)} of {len(results)} checks failed; nothing was applied.")
                return EXIT_FAILED
            print(f"preflight: {len(results)} checks passed" +
                  (f" ({sum(r.status == 'warn' for r in results)} warnings)" if any(
                      r.status == "warn" for r in results) else ""))
        if plan_for == "teardown" and args.delete_pvs:
            runner.extra["confirmed_pv_names"] = typed_pvs
        session.runtime.assume_yes = bool(args.yes)
        if getattr(args, "clear_arc_finalizers", False):
            session.runtime.confirm = lambda question: True
        elif not args.yes and sys.stdin.isatty():
            session.runtime.confirm = _confirm
            runner.asks_operator = True  # the engine asks this terminal (or whichever client attaches) mid-run
        if not args.foreground:
            session.use_engine_process(runner)
            if runner.asks_operator and not args.detach:
                from stonks_tui.console import TerminalQuestions

                runner.on_question = TerminalQuestions(runner.answer)
            if args.detach:
                pid = runner.start_detached(plan)
                info = _engine_info(runner)
                print(f"{plan_for} started in the background: run {info.get('run_id', '?')}, engine pid {pid}. "
                      f"Follow it: {session.command('attach')}; its state: {session.command('status')}")
                return EXIT_OK
            runner.on_interrupt = _ask_cancel_or_detach if sys.stdin.isatty() else None
        async def run_and_settle():  # type: ignore[no-untyped-def]
            summary = await runner.run(plan, [ConsolePrinter(verbose=not args.quiet)], install_signals=True)
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


def _ask_cancel_or_detach() -> str:
    """Ctrl-C in a client on a terminal: the run is not this process's to lose by accident."""
    try:
        answer = input("\nCtrl-C: [c]ancel the run, or [d]etach and let it go on? [d] ").strip().lower()
    except (EOFError, KeyboardInterrupt):
        return "cancel"
    return "cancel" if answer.startswith("c") else "detach"


def cmd_engine_serve(args: argparse.Namespace) -> int:
    """The engine process (started by install/teardown and the wizard, never by hand): runs one plan under the
    context lock and serves its events on the context's socket until the run has ended and its clients have read
    that. Its stdin brings the keyring's passphrase, one line (never argv or the environment)."""
    import asyncio

    from stonks_tui.journal import ContextLock
    from stonks_tui.service.server import EngineService

    line = sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else ""
    session = Session(args, interactive=False, announce=False, passphrase=line or None, demo_wait=15.0)
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
            finally:
                # What the next run needs — the keyring written, the demo's world and the lock let go — is free
                # before the clients hear the end: one that runs the next command at once is not refused.
                session.close()
                lock.release()
                await service.finish(code)
            return code

        try:
            return asyncio.run(serve())
        finally:
            lock.release()
    finally:
        session.close()


def cmd_attach(args: argparse.Namespace) -> int:
    import asyncio

    from stonks_tui.console import ConsolePrinter
    from stonks_tui.runner import Runner
    from stonks_tui.service.protocol import live_engine

    context = _context_of(args)
    state = state_dir_for(args)
    runner = Runner(None, context, state, None, demo=args.demo)  # type: ignore[arg-type]
    info = live_engine(runner.context_dir())
    if info is None:
        print(f"No run is live for context {context}. `stonks-tui status` shows the last one.")
        return EXIT_FAILED
    if sys.stdout.isatty() and sys.stdin.isatty() and not args.plain:
        return cmd_wizard(args)  # on a terminal: the wizard, which opens on the live run (its backlog, then live)
    print(f"attached to the {info.get('plan')} run {info.get('run_id')} (engine pid {info.get('pid')})",
          file=sys.stderr)
    runner.notes = lambda text: print(f"note: {text}")
    runner.on_interrupt = lambda: "detach"  # Ctrl-C in `attach` leaves the run alone
    if sys.stdin.isatty():
        from stonks_tui.console import TerminalQuestions

        runner.on_question = TerminalQuestions(runner.answer)  # a question the run asks is answered here
    async def attach_and_settle():  # type: ignore[no-untyped-def]
        summary = await runner.attach([ConsolePrinter(verbose=not args.quiet)], install_signals=True,
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


def _context_of(args: argparse.Namespace) -> str:
    if args.demo:
        from stonks_tui.demo import DEMO_CONTEXT

        return DEMO_CONTEXT
    from stonks_tui.kubecontext import resolve_context

    return resolve_context(args.context)


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


def cmd_status(args: argparse.Namespace) -> int:
    from stonks_tui.journal import Journal, journal_path
    from stonks_tui.kubecontext import resolve_context
    from stonks_tui.redact import printable

    if args.demo:
        from stonks_tui.demo import DEMO_CONTEXT

        context = DEMO_CONTEXT
    else:
        context = resolve_context(args.context)
    state = state_dir_for(args)
    shown = False
    journals = []
    for plan_name in ("install", "teardown"):
        path = journal_path(state, context, plan_name)
        if path.exists():
            journals.append(Journal.open(path, plan_name, context))
    journals.sort(key=lambda j: (j.run.get("started_ts") or 0, str(j.run.get("started_at") or "")), reverse=True)
    live = _live_run(state, context)
    for index, journal in enumerate(journals):
        shown = True
        run = journal.run
        state_word = str(run.get("status", "?"))
        dead = state_word == "running" and (live is None or live.get("run_id") not in (None, run.get("id")))
        if dead:
            state_word = "interrupted (its process is gone; the next run resumes it)"
        elif state_word == "running" and live is not None:
            state_word = f"running — live, engine pid {live.get('pid')}; follow it: stonks-tui attach"
        latest = "latest run: " if index == 0 and len(journals) > 1 else ""
        print(f"{latest}{journal.plan} on {context}: {state_word}\n  run {run.get('id', '?')}, started "
              f"{run.get('started_at')}" + (f", finished {run.get('finished_at')}" if run.get("finished_at") else "")
              + f", pid {run.get('pid')} on {run.get('host')}")
        for sid, rec in journal.steps.items():
            when = rec.finished_at or rec.started_at or ""
            tries = f" after {rec.attempts} attempts" if rec.attempts > 1 else ""
            step_state = "interrupted" if dead and rec.state == "running" else rec.state
            print(f"  {step_state:<11} {sid:<28} {when}{tries}")
            if rec.last_error and rec.state != "done":
                print(f"              last error: {printable(rec.last_error)}")
                if rec.hint:
                    print(f"              hint: {printable(rec.hint)}")
    if not shown:
        print(f"No run recorded for context {context} (state dir {state}).")
    key = state / _safe(context) / "github-deploy-key.pub"
    if key.is_file():
        print(f"GitHub mirror deploy key (public; add it with write access on GitHub): {key}")
    return EXIT_OK


def _live_run(state: Path, context: str) -> dict | None:
    """The run being done now for this context: the engine process's record if its socket answers; for a run in a
    foreground process, the context lock being held says it is alive ({} then: no record)."""
    from stonks_tui.errors import LockHeld
    from stonks_tui.journal import ContextLock, safe_name
    from stonks_tui.service.protocol import live_engine

    info = live_engine(state / safe_name(context))
    if info is not None:
        return info
    if not (state / safe_name(context)).exists():
        return None
    try:
        with ContextLock(state, context):
            return None
    except LockHeld:
        return {}


def cmd_plan(args: argparse.Namespace) -> int:
    import asyncio

    session = Session(args)
    try:
        runner = session.runner()
        plan = runner.plan(args.which, delete_pvs=args.which == "teardown" and args.delete_pvs)
        from stonks_tui.plan_summary import summarise

        rows = asyncio.run(runner.describe(plan))
        for sid, changes in rows:
            if isinstance(changes, str):
                print(f"{sid}: cannot tell — {changes}")
                continue
            todo = [c for c in changes if c.action != "unchanged"]
            # What is already as wanted needs no listing — except what a teardown keeps, and why.
            kept = [c for c in changes if c.action == "unchanged" and c.detail.startswith("kept")]
            print(f"{sid}: " + (count(len(todo), "change") if todo else "nothing to change"))
            for change in todo + kept:
                print(f"    {session.redactor(str(change))}")
                for line in change.lines:
                    print(f"        {session.redactor(line)}")
        summary = summarise(plan.name, rows)
        print(f"\n{summary.line()}")
        return EXIT_FAILED if summary.unknown else EXIT_OK
    finally:
        session.close()


def cmd_settings(args: argparse.Namespace) -> int:
    import dataclasses

    import yaml

    from stonks_tui.settings import GROUP_TITLES, Settings, load_settings

    settings = load_settings(answers_path(args, existing=True))
    defaults = Settings()
    group = None
    for f in dataclasses.fields(Settings):
        if f.metadata.get("group") != group:
            print(("\n" if group else "") + f"# {GROUP_TITLES.get(f.metadata.get('group', ''), '')}")
            group = f.metadata.get("group")
        value = getattr(settings, f.name)
        line = yaml.safe_dump({f.name: value}, default_flow_style=False, allow_unicode=True).strip()
        changed = "" if value == getattr(defaults, f.name) else " (changed)"
        print(f"{line}  # {f.metadata.get('help', '')}{changed}")
    return EXIT_OK


def _offline_demo_overrides(args: argparse.Namespace) -> dict | None:
    """--demo for the commands that contact nothing (check, render): the demo's clone and endpoints, without
    starting its world."""
    if not args.demo:
        return None
    from stonks_tui.demo import demo_clone

    return {"local_clone": str(demo_clone(state_dir_for(args))), "gitea_public_url": "http://127.0.0.1:30300"}


def cmd_check(args: argparse.Namespace) -> int:
    from stonks_tui.checks.offline import offline_checks

    settings = load_valid_settings(args, _offline_demo_overrides(args))
    results = offline_checks(settings)
    for r in results:
        print(r.line())
    failed = sum(r.status == "fail" for r in results)
    print(f"\n{len(results)} checks: {failed} failed, {sum(r.status == 'warn' for r in results)} warnings")
    return EXIT_FAILED if failed else EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    import asyncio

    session = Session(args)
    try:
        runner = session.runner()
        if runner.torn_down():
            print("The last run was a teardown: checking what it keeps.")
        results = asyncio.run(runner.verify())
        for r in results:
            print(session.redactor(r.line()))
        failed = sum(r.status == "fail" for r in results)
        print(f"\n{len(results)} live checks: {failed} failed, {sum(r.status == 'warn' for r in results)} warnings")
        return EXIT_FAILED if failed else EXIT_OK
    finally:
        session.close()


def cmd_render(args: argparse.Namespace) -> int:
    from stonks_tui.render import render, write_rendered

    settings = load_valid_settings(args, _offline_demo_overrides(args))
    out = Path(args.out).expanduser()
    written = write_rendered(render(settings), out)
    from stonks_tui.steps.cluster import WoodpeckerAgentRbac, rbac_grants

    applied = set(WoodpeckerAgentRbac(settings).files)
    for path in written:
        rel = path.relative_to(out).as_posix() if path.is_relative_to(out) else str(path)
        other = rel.startswith("woodpecker/agent-rbac") and rel not in applied
        print(f"{path}  (the other rbac_mode's: not applied)" if other else path)
    print(f"agent RBAC: rbac_mode is {settings.rbac_mode}, so the install applies {', '.join(sorted(applied))}: "
          f"{rbac_grants(settings.rbac_mode)}.")
    print(f"{len(written)} files written to {out}. Secrets appear as <secret:NAME> placeholders: their values stay "
          "in the keyring and reach the cluster only when a step applies them.")
    return EXIT_OK


def cmd_secrets(args: argparse.Namespace) -> int:
    from stonks_tui.journal import ContextLock
    from stonks_tui.secrets import KNOWN

    session = Session(args)
    lock = None
    try:
        if args.action != "list":
            # forget / rotate change what a running install uses: refused (exit 3) while one holds the context
            lock = ContextLock(session.state, session.context)
            lock.acquire()
        store = session.secrets
        assert store is not None
        if args.action == "list":
            names = store.list_names()
            print(f"Secrets for context {session.context} in {store.where}:")
            for name in names:
                print(f"  {name:<34} {KNOWN.get(name, 'generated')}")
            if not names:
                print("  (none stored)")
            return EXIT_OK
        if args.action == "forget":
            if not args.yes and not _confirm(f"Forget every stored secret for context {session.context}?"):
                print("Nothing was forgotten.")
                return EXIT_FAILED  # declined: not bad input
            for name in store.list_names():
                store.delete(name)
            print(f"Forgot all secrets for {session.context}. Resources that use them in the cluster are untouched.")
            return EXIT_OK
        return _rotate(session, store, args.name)
    finally:
        session.close()  # the keyring is written (flushed) before the lock goes
        if lock is not None:
            lock.release()


def _rotate(session: Session, store: Any, name: str | None) -> int:
    """A generated secret is forgotten (the next install makes a new one and applies it); one the operator gives
    (a refused Woodpecker token, a changed registry password) is replaced by the value given now."""
    from stonks_tui.errors import UsageError
    from stonks_tui.secrets import ENV_FOR, KNOWN, check_given_secret

    rotatable = sorted(n for n in KNOWN if n != "woodpecker-oauth-client-id")
    names = "generated: " + ", ".join(n for n in rotatable if KNOWN[n] == "generated") + "; given by you: " + \
        ", ".join(n for n in rotatable if KNOWN[n] == "operator")
    if not name:
        raise UsageError("secrets rotate needs the NAME of a secret", hint=names)
    if name == "woodpecker-oauth-client-id":
        raise UsageError(f"{name} is Gitea's id for the OAuth app, not a secret to rotate",
                         hint="rotate woodpecker-oauth-client-secret: the app keeps its id, Gitea issues a new secret")
    if name not in KNOWN:
        raise UsageError(f"{name!r} is not a secret stonks-tui keeps", hint=names)
    if KNOWN[name] == "generated":
        store.delete(name)
        if name.startswith("woodpecker-oauth"):  # without the id, the OAuth step rotates the app's secret
            store.delete("woodpecker-oauth-client-id")
        if name == "kargo-admin-password":
            store.delete("kargo-admin-password-hash")
        print(f"{name} forgotten: the next {session.command('install')} makes a new one and applies it (the old "
              "one is replaced where it was used).")
        return EXIT_OK
    var = ENV_FOR[name]
    value = os.environ.get(var, "")
    if not value:
        if not sys.stdin.isatty():
            raise UsageError(f"secrets rotate {name}: give the new value in {var} (standard input is not a "
                             "terminal, so it cannot be typed)",
                             hint=f"{var}=<value> {session.command(f'secrets rotate {name}', ticks=False)}")
        import getpass

        value = getpass.getpass(f"new {name} (not shown): ").strip()
    check_given_secret(var if os.environ.get(var) else name, value)
    if any(c.isspace() for c in value):
        raise UsageError(f"{name}: the value given has spaces in it", hint="nothing was changed; give it again")
    store.set(name, value)
    print(f"{name} replaced in {store.where}: the next {session.command('install')} uses it"
          + (" (Woodpecker's activation resumes with it)" if name == "woodpecker-token" else "") + ".")
    return EXIT_OK


def cmd_wizard(args: argparse.Namespace) -> int:
    """The Textual wizard. Its first frame does not wait for the slow parts of start-up — the demo world and
    the keyring (an Argon2 derivation, ~0.5 s) — which are prepared in a thread while Welcome is drawn."""
    from stonks_tui.runner import Runner

    if args.demo:
        from stonks_tui.demo import DEMO_CONTEXT

        context = DEMO_CONTEXT
        print(f"demo: simulated cluster, Gitea and helm on 127.0.0.1; state in {state_dir_for(args)}",
              file=sys.stderr)  # now, before the wizard owns the terminal
    else:
        from stonks_tui.kubecontext import resolve_context

        context = resolve_context(args.context)
    runner = Runner(None, context, state_dir_for(args), None, demo=args.demo)  # type: ignore[arg-type]
    sessions: list[Session] = []

    def prepare(new_context: str | None = None) -> tuple[object, str]:
        """(unlock, where): `unlock` is set when the keyring needs the passphrase typed into the wizard.
        `new_context`: the operator picked another kube context on Welcome — a session for that one."""
        from stonks_tui.secrets import KeyringLocked

        if new_context is not None:
            args.context = new_context
            while sessions:
                sessions.pop().close()
        try:
            # interactive=False: never getpass(); if the keyring needs a passphrase the wizard asks (masked).
            session = Session(args, interactive=False, announce=False)
            unlock, where = None, ""
        except KeyringLocked as locked:
            if "does not unlock" in locked.message:
                raise  # STONKS_KEYRING_PASSPHRASE is set but wrong: say so rather than ask over it
            session = Session(args, with_secrets=False, announce=False)
            unlock, where = session.unlock, str(session.state / "secrets.cryptfile")
        sessions.append(session)
        session.fill(runner)
        # Installs and teardowns run in the engine process: a dropped session ends only this wizard.
        session.use_engine_process(runner, keep_demo=True)
        runner.notes = None
        return unlock, where

    from stonks_tui.app import StonksApp

    contexts: list[str] = []
    if not args.demo:
        from stonks_tui.kubecontext import list_contexts

        contexts = list_contexts()[0]
    app = StonksApp(runner, prepare=prepare, contexts=contexts)
    try:
        code = app.run()
    finally:
        for session in sessions:
            session.close()
    if app.startup_error is not None:
        raise app.startup_error  # reported like any command's error, after the terminal is restored
    return int(code or 0)


def dispatch(args: argparse.Namespace) -> int:
    match args.command:
        case "install":
            return _run_plan(args, "install")
        case "teardown":
            return _run_plan(args, "teardown")
        case "status":
            return cmd_status(args)
        case "plan":
            return cmd_plan(args)
        case "check":
            return cmd_check(args)
        case "verify":
            return cmd_verify(args)
        case "render":
            return cmd_render(args)
        case "settings":
            return cmd_settings(args)
        case "secrets":
            return cmd_secrets(args)
        case "attach":
            return cmd_attach(args)
        case "engine-serve":
            return cmd_engine_serve(args)
        case None:
            return cmd_wizard(args)
    raise AssertionError(args.command)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from stonks_tui.errors import StonksError

    try:
        from stonks_tui.environment import check_environment
        from stonks_tui.state_dir import private_umask

        private_umask()
        check_environment()
        return dispatch(args)
    except StonksError as exc:
        print(f"stonks-tui: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("stonks-tui: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `stonks-tui settings | head`: the reader has gone, which is not an error worth a traceback. Python would
        # print one more at exit flushing stdout, so stdout goes to /dev/null first.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    raise SystemExit(main())
