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
from typing import TYPE_CHECKING

from stonks_tui import __version__

if TYPE_CHECKING:
    from stonks_tui.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stonks-tui", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"stonks-tui {__version__}")
    _global_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("install", parents=[common], help="run the install plan headless, one line per event")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--quiet", action="store_true", help="print step results only, not their log lines")
    p.add_argument("--clear-arc-finalizers", action="store_true",
                   help="if an ARC namespace hangs in Terminating on ARC's finalizers, clear exactly those")
    p.add_argument("--skip-preflight", action="store_true",
                   help="do not check the cluster, helm, Gitea, registry and NFS before applying")
    plan_p = sub.add_parser("plan", parents=[common], help="print each step and what it would change",
                            description="Print each step of the install (or the teardown) plan and what it would "
                                        "change on the cluster, without changing anything.")
    plan_p.add_argument("which", nargs="?", choices=("install", "teardown"), default="install",
                        help="the plan to show (default: install)")
    plan_p.add_argument("--delete-pvs", action="store_true", help="teardown: include deleting the pipeline PVs")
    sub.add_parser("status", parents=[common], help="print the journal: each step, its state, when, last error")
    sub.add_parser("check", parents=[common], help="offline checks of everything that would be applied")
    sub.add_parser("verify", parents=[common], help="live checks of the installed system")
    p = sub.add_parser("teardown", parents=[common], help="reverse the install; PersistentVolumes are kept")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--delete-pvs", action="store_true",
                   help="also delete the pipeline PVs (asks you to type their names; NFS data is never deleted)")
    p.add_argument("--confirm-pv-names", metavar="NAMES", default="",
                   help="with --delete-pvs off a terminal: the PV names, comma-separated, as typed confirmation")
    p.add_argument("--quiet", action="store_true", help="print step results only, not their log lines")
    p = sub.add_parser("secrets", parents=[common], help="list stored secrets (names only), rotate one, or forget all")
    p.add_argument("action", choices=["list", "rotate", "forget"], nargs="?", default="list")
    p.add_argument("name", nargs="?", default="", help="with rotate: the generated secret to renew")
    p.add_argument("--yes", action="store_true", help="with forget: do not ask")
    p = sub.add_parser("render", parents=[common], help="write every rendered manifest and values file to DIR")
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
                 announce: bool = True) -> None:
        from stonks_tui import state_dir
        from stonks_tui.kubecontext import resolve_context
        from stonks_tui.redact import Redactor
        from stonks_tui.steps.common import Runtime

        self.args = args
        self.state = state_dir_for(args)
        self.demo = None
        overrides = None
        kubeconfig = None
        if args.demo:
            from stonks_tui.demo import DEMO_CONTEXT, start_demo

            self.demo = start_demo(self.state)
            if announce:
                print(f"demo: simulated cluster, Gitea and helm on 127.0.0.1; state in {self.state}",
                      file=sys.stderr)
            overrides = self.demo.overrides
            kubeconfig = str(self.demo.world.kubeconfig)
            self.context = DEMO_CONTEXT
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
                                   env=dict(os.environ), demo=args.demo)
        except BaseException:
            self.close()
            raise

    def _open_secrets(self):  # type: ignore[no-untyped-def]
        from stonks_tui.secrets import open_store

        if self.demo is not None:
            from stonks_tui.demo import demo_passphrase, seed_demo_secrets

            store = open_store(self.state / "demo", self.context, self.redactor, isolated=True,
                               passphrase=demo_passphrase(), interactive=False)
            seed_demo_secrets(store, self.demo, self.settings.gitea_admin_user)
            return store
        return open_store(self.state, self.context, self.redactor, interactive=self.interactive)

    def unlock(self, passphrase: str) -> None:
        """Open the encrypted keyring with a passphrase typed into the wizard."""
        from stonks_tui.secrets import open_store

        self.secrets = open_store(self.state, self.context, self.redactor, passphrase=passphrase, interactive=False)

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
        return runner

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
        summary = asyncio.run(runner.run(plan, [ConsolePrinter(verbose=not args.quiet)], install_signals=True))
        if summary.exit_code == EXIT_INTERRUPTED:
            print(f"Interrupted. Run `stonks-tui {plan_for}` again to resume; journal: "
                  f"{runner.journal(plan_for).path}")
        return summary.exit_code
    finally:
        session.close()


def _typed_pv_names(args: argparse.Namespace) -> list[str]:
    """The PV names the operator typed to confirm their deletion (never inferred, never defaulted). Anything short
    of every name, exactly, is refused before the teardown starts (exit 2): nothing is removed on a half answer."""
    from stonks_tui.errors import UsageError
    from stonks_tui.steps.teardown import PIPELINE_PVS

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
    for plan_name in ("install", "teardown"):
        path = journal_path(state, context, plan_name)
        if not path.exists():
            continue
        journal = Journal.open(path, plan_name, context)
        shown = True
        run = journal.run
        print(f"{plan_name} on {context}: {run.get('status', '?')} (started {run.get('started_at')}, "
              f"pid {run.get('pid')} on {run.get('host')})")
        for sid, rec in journal.steps.items():
            when = rec.finished_at or rec.started_at or ""
            tries = f" after {rec.attempts} attempts" if rec.attempts > 1 else ""
            print(f"  {rec.state:<11} {sid:<28} {when}{tries}")
            if rec.last_error and rec.state != "done":
                print(f"              last error: {printable(rec.last_error)}")
                if rec.hint:
                    print(f"              hint: {printable(rec.hint)}")
    if not shown:
        print(f"No run recorded for context {context} (state dir {state}).")
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    import asyncio

    session = Session(args)
    try:
        runner = session.runner()
        plan = runner.plan(args.which, delete_pvs=args.which == "teardown" and args.delete_pvs)
        missing = 0
        for sid, changes in asyncio.run(runner.describe(plan)):
            if isinstance(changes, str):
                print(f"{sid}: cannot tell — {changes}")
                missing += 1
                continue
            todo = [c for c in changes if c.action != "unchanged"]
            print(f"{sid}: " + (f"{len(todo)} change(s)" if todo else "nothing to change"))
            for change in changes:
                print(f"    {session.redactor(str(change))}")
                for line in change.lines:
                    print(f"        {session.redactor(line)}")
        if missing:
            print(f"\n{missing} of {len(plan)} steps could not say what they would change.")
            return EXIT_FAILED
        return EXIT_OK
    finally:
        session.close()


def cmd_check(args: argparse.Namespace) -> int:
    from stonks_tui.checks.offline import offline_checks

    overrides = None
    if args.demo:  # the demo's clone and endpoints, without starting the world
        from stonks_tui.demo import demo_clone

        overrides = {"local_clone": str(demo_clone(state_dir_for(args))),
                     "gitea_public_url": "http://127.0.0.1:30300"}
    settings = load_valid_settings(args, overrides)
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

    settings = load_valid_settings(args)
    out = Path(args.out).expanduser()
    written = write_rendered(render(settings), out)
    for path in written:
        print(path)
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
                return EXIT_USAGE
            for name in store.list_names():
                store.delete(name)
            print(f"Forgot all secrets for {session.context}. Resources that use them in the cluster are untouched.")
            return EXIT_OK
        name = args.name
        if not name:
            from stonks_tui.errors import UsageError

            raise UsageError("secrets rotate needs the NAME of a generated secret",
                             hint="see `stonks-tui secrets list`")
        if KNOWN.get(name) != "generated" or name in ("woodpecker-oauth-client-id",):
            from stonks_tui.errors import UsageError

            raise UsageError(f"{name} is not a generated secret this tool can rotate",
                             hint="operator secrets (e.g. the Gitea admin password) change where they live")
        store.delete(name)
        if name.startswith("woodpecker-oauth"):  # without the id, the OAuth step rotates the app's secret
            store.delete("woodpecker-oauth-client-id")
        if name == "kargo-admin-password":
            store.delete("kargo-admin-password-hash")
        print(f"{name} forgotten: the next `stonks-tui install` makes a new one and applies it (the old one is "
              "replaced where it was used).")
        return EXIT_OK
    finally:
        session.close()  # the keyring is written (flushed) before the lock goes
        if lock is not None:
            lock.release()


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
        case "secrets":
            return cmd_secrets(args)
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


if __name__ == "__main__":
    raise SystemExit(main())
