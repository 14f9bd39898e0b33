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
    from stonks_tui.engine.plan import Plan
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
                        help="YAML answers file with settings (no secrets)")
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
    sub.add_parser("plan", parents=[common], help="print each step and what it would change")
    sub.add_parser("status", parents=[common], help="print the journal: each step, its state, when, last error")
    sub.add_parser("check", parents=[common], help="offline checks of everything that would be applied")
    sub.add_parser("verify", parents=[common], help="live checks of the installed system")
    p = sub.add_parser("teardown", parents=[common], help="reverse the install; PersistentVolumes are kept")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--delete-pvs", action="store_true",
                   help="also delete the pipeline PVs (asks you to type their names; NFS data is never deleted)")
    p.add_argument("--quiet", action="store_true", help="print step results only, not their log lines")
    p = sub.add_parser("render", parents=[common], help="write every rendered manifest and values file to DIR")
    p.add_argument("--out", metavar="DIR", type=Path, required=True, help="output directory")
    return parser


# ---------------------------------------------------------------------------------------------------------


def state_dir_for(args: argparse.Namespace) -> Path:
    if args.state_dir is not None:
        return Path(args.state_dir).expanduser()
    env = os.environ.get("STONKS_STATE_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_state_path

    return user_state_path("stonks-tui")


def load_valid_settings(args: argparse.Namespace) -> Settings:
    from stonks_tui.settings import load_settings, require_valid

    settings = load_settings(args.answers)
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


def _run_plan(args: argparse.Namespace, plan_for: str) -> int:
    import asyncio
    import signal

    from stonks_tui.console import ConsolePrinter
    from stonks_tui.engine.engine import Engine
    from stonks_tui.engine.step import MemorySecretStore, StepContext
    from stonks_tui.journal import ContextLock, Journal, journal_path, safe_name
    from stonks_tui.kubecontext import resolve_context
    from stonks_tui.plans import install_plan, teardown_plan
    from stonks_tui.redact import Redactor

    settings = load_valid_settings(args)
    context = resolve_context(args.context)
    plan: Plan = (install_plan(settings) if plan_for == "install"
                  else teardown_plan(settings, delete_pvs=args.delete_pvs))
    if not args.yes and not _confirm(f"Run the {plan.name} plan ({len(plan)} steps) on context {context}?"):
        print("Nothing was changed.")
        return EXIT_USAGE
    state = state_dir_for(args)
    with ContextLock(state, context):
        journal = Journal.open(journal_path(state, context, plan.name), plan.name, context, locked=True)
        redactor = Redactor()
        ctx = StepContext(settings=settings, secrets=MemorySecretStore(redactor), redact=redactor)
        engine = Engine(plan, ctx, journal, log_dir=state / safe_name(context) / "logs" / plan.name,
                        listeners=[ConsolePrinter(verbose=not args.quiet)])

        async def main() -> int:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(sig, engine.cancel)
            summary = await engine.run()
            return summary.exit_code

        code = asyncio.run(main())
        if code == EXIT_INTERRUPTED:
            print(f"Interrupted. Run `stonks-tui {plan_for}` again to resume; journal: {journal.path}")
        return code


def cmd_status(args: argparse.Namespace) -> int:
    from stonks_tui.journal import Journal, journal_path
    from stonks_tui.kubecontext import resolve_context

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
                print(f"              last error: {rec.last_error}")
                if rec.hint:
                    print(f"              hint: {rec.hint}")
    if not shown:
        print(f"No run recorded for context {context} (state dir {state}).")
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    import asyncio

    from stonks_tui.engine.step import MemorySecretStore, StepContext
    from stonks_tui.errors import StonksError
    from stonks_tui.plans import install_plan
    from stonks_tui.redact import Redactor

    settings = load_valid_settings(args)
    plan = install_plan(settings)
    redactor = Redactor()
    ctx = StepContext(settings=settings, secrets=MemorySecretStore(redactor), redact=redactor)

    async def describe_all() -> int:
        missing = 0
        for step in plan:
            try:
                changes = await step.describe(ctx.for_step(step.id, log=lambda _l: None))
            except StonksError as exc:
                print(f"{step.id}: cannot tell — {redactor(exc.message)}")
                missing += 1
                continue
            print(f"{step.id}: " + ("nothing to change" if all(c.action == "unchanged" for c in changes)
                                     else f"{sum(c.action != 'unchanged' for c in changes)} change(s)"))
            for change in changes:
                print(f"    {redactor(str(change))}")
        return missing

    missing = asyncio.run(describe_all())
    if missing:
        print(f"\n{missing} of {len(plan)} steps could not say what they would change.")
        return EXIT_FAILED
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from stonks_tui.settings import load_settings, validate

    settings = load_settings(args.answers)
    errors = validate(settings)
    for err in errors:
        print(f"FAIL settings.{err.field}: {err.message}")
    print(f"settings: {len(errors)} problem(s)" if errors else "settings: all valid")
    return EXIT_FAILED if errors else EXIT_OK


def cmd_not_built(what: str) -> int:
    from stonks_tui.errors import UsageError

    raise UsageError(f"{what} is not part of this build of stonks-tui yet",
                     hint="`stonks-tui status`, `plan` and `install` work; see the README for what has landed")


def dispatch(args: argparse.Namespace) -> int:
    if args.demo:
        return cmd_not_built("--demo (the simulated world)")
    match args.command:
        case "install":
            return _run_plan(args, "install")
        case "teardown":
            if args.delete_pvs:
                return cmd_not_built("teardown --delete-pvs")
            return _run_plan(args, "teardown")
        case "status":
            return cmd_status(args)
        case "plan":
            return cmd_plan(args)
        case "check":
            return cmd_check(args)
        case "verify":
            return cmd_not_built("verify")
        case "render":
            return cmd_not_built("render")
        case None:
            return cmd_not_built("the wizard")
    raise AssertionError(args.command)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from stonks_tui.errors import StonksError

    try:
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
