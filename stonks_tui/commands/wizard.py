"""The wizard (no command): a session prepared in a thread behind the first frame, runs in the engine process."""

from __future__ import annotations

import argparse
import sys

from stonks_tui.commands.session import Session, state_dir_for


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
