# PYTHON_ARGCOMPLETE_OK  (argcomplete's global activation looks for this marker)
"""Command line: `stonks-tui [global options] [COMMAND]` — it parses and dispatches; each command family is a
module of stonks_tui/commands/.

Only argparse and the standard library are imported at module level: `--help` and `--version` must not pay
for textual, kubernetes or httpx. Every command imports what it needs when it runs.

Exit codes: see stonks_tui/commands/__init__.py (0 success … 4 `plan --exit-code` found changes, 130 interrupted).
"""

from __future__ import annotations

import argparse
import os
import sys

from stonks_tui.commands import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED
from stonks_tui.commands.parser import build_parser
from stonks_tui.commands.session import Session

__all__ = ["Session", "build_parser", "dispatch", "main"]


def dispatch(args: argparse.Namespace) -> int:
    from stonks_tui.commands import delivery, inspect, runs, secret_commands, status, wizard

    match args.command:
        case "install" | "teardown":
            return runs.run_plan(args, args.command)
        case "engine-serve":
            return runs.cmd_engine_serve(args)
        case "attach":
            return runs.cmd_attach(args)
        case "status":
            return status.cmd_status(args)
        case "verify" if args.delivery:
            return delivery.cmd_verify_delivery(args)
        case "break-glass":
            return delivery.cmd_break_glass(args)
        case "plan" | "check" | "verify" | "render" | "settings":
            return getattr(inspect, f"cmd_{args.command}")(args)
        case "secrets":
            return secret_commands.cmd_secrets(args)
        case "completion":
            from stonks_tui.completion import script

            print(script(args.shell), end="")
            return 0
        case None:
            return wizard.cmd_wizard(args)
    raise AssertionError(args.command)


def main(argv: list[str] | None = None) -> int:
    code = _main(argv)
    if "stonks_tui.prompt_exit" in sys.modules:  # a command ran: end now even if a worker is still blocked
        sys.modules["stonks_tui.prompt_exit"].finish(code)
    return code


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    if argv is None:
        from stonks_tui.completion import autocomplete

        autocomplete(parser)  # a shell asking for completions: answered, and the process ends here
    args = parser.parse_args(argv)
    from stonks_tui.errors import StonksError, storage_error

    try:
        from stonks_tui.environment import check_environment
        from stonks_tui.state_dir import private_umask

        private_umask()
        check_environment()
        from stonks_tui import prompt_exit

        prompt_exit.install()
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
    except Exception as exc:  # a full or read-only state dir (OSError, or git saying so): a message, exit 2
        error = storage_error(exc)
        if error is None:
            raise
        print(f"stonks-tui: {error.message}", file=sys.stderr)
        print(f"  hint: {error.hint}", file=sys.stderr)
        return error.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
