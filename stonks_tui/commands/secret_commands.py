"""secrets list | rotate NAME | forget: the keyring's names (never values), renewing or replacing one, forgetting
all."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from stonks_tui.commands import EXIT_FAILED, EXIT_OK
from stonks_tui.commands.session import Session, confirm_at_terminal


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
            if not args.yes and not confirm_at_terminal(f"Forget every stored secret for context {session.context}?"):
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
