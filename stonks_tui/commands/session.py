"""What every command acting on a cluster context shares: the state directory, the settings, and the Session
(kube context, keyring, the demo's world, the runner) built once and closed once."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stonks_tui.settings import Settings


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


class Session:
    """Everything a command needs to act on one cluster context: built once, closed once."""

    def __init__(self, args: argparse.Namespace, *, with_secrets: bool = True, interactive: bool | None = None,
                 announce: bool = True, passphrase: str | None = None, demo_wait: float = 0.0,
                 background_unlock: bool = False, handed: dict[str, str] | None = None) -> None:
        from stonks_tui import state_dir
        from stonks_tui.kubecontext import resolve_context
        from stonks_tui.redact import Redactor
        from stonks_tui.runtime import Runtime

        self.args = args
        self.passphrase = passphrase
        # The keyring unlocks in a thread while the command imports and reads the cluster (plan, verify, install):
        # its Argon2 derivation (~0.6 s) then costs no wall time. A wrong passphrase is said at the first secret read.
        self.background_unlock = background_unlock
        self.handed = handed  # the engine process: the secrets as its client had them (no keyring read at start)
        self.state = state_dir_for(args)
        self.demo = None
        self._started: Any = None  # an engine process started ahead of its run (service.client.Started)
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
                                   state_dir=state_dir.context_dir(self.state, safe_context(self.context)),
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
                               interactive=False, public_passphrase=passphrase_is_public(phrase),
                               background=self.background_unlock, handed=self.handed)
            if self.demo is not None:  # else the engine process holds the demo's world (and seeded its keyring)
                seed_demo_secrets(store, self.demo, self.settings.gitea_admin_user)
            return store
        return open_store(self.state, self.context, self.redactor, interactive=self.interactive,
                          passphrase=self.passphrase, background=self.background_unlock, handed=self.handed)

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
        return command_for(self.args, name, ticks=ticks)

    def use_engine_process(self, runner, *, keep_demo: bool = False) -> None:  # type: ignore[no-untyped-def]
        """Runs of `runner` go to an engine process (service/), which outlives this one. The demo's world moves
        there for the run (one world per directory); `keep_demo` brings it back here afterwards (the wizard)."""
        from stonks_tui.service.client import abandon, engine_argv, hand_over, start_engine

        def argv_for(plan: str, options: dict) -> list[str]:
            return engine_argv(self.args, plan, delete_pvs=bool(options.get("delete_pvs")),
                               confirmed_pv_names=options.get("confirmed_pv_names"),
                               assume_yes=self.runtime.assume_yes,
                               clear_arc_finalizers=bool(getattr(self.args, "clear_arc_finalizers", False)),
                               context=None if self.args.demo else self.context, ask=bool(options.get("ask")))

        def prestarter(plan: str, options: dict) -> None:
            if self._started is None:
                self._started = start_engine(runner.context_dir(), argv_for(plan, options))

        def spawner(plan: str, options: dict) -> int:
            demo, self.demo = self.demo, None
            if demo is not None:  # the engine takes the world over; it waits for this process to let it go
                import threading

                threading.Timer(0.05, demo.stop).start()
            argv = argv_for(plan, options)
            started, self._started = self._started, None
            if started is not None and (started.argv != argv or started.proc.poll() is not None):
                abandon(started)  # started for another run than this one: not used
                started = None
            phrase = self.passphrase or getattr(self.secrets, "passphrase", None)
            snapshot = getattr(self.secrets, "snapshot", None)
            return hand_over(runner.context_dir(), started or start_engine(runner.context_dir(), argv), phrase,
                             snapshot() if snapshot is not None else None)

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
        runner.prestarter = prestarter
        runner.after_engine = after_engine
        runner.notes = lambda text: print(f"note: {text}")

    def close(self) -> None:
        started, self._started = getattr(self, "_started", None), None
        if started is not None:  # started ahead of a run that did not come (a failed preflight, an error)
            from stonks_tui.service.client import abandon

            abandon(started)
        secrets = getattr(self, "secrets", None)
        if secrets is not None and hasattr(secrets, "flush"):
            secrets.flush()
        if self.demo is not None:
            self.demo.stop()
            self.demo = None


def safe_context(context: str) -> str:
    from stonks_tui.journal import safe_name

    return safe_name(context)


def context_of(args: argparse.Namespace) -> str:
    if args.demo:
        from stonks_tui.demo import DEMO_CONTEXT

        return DEMO_CONTEXT
    from stonks_tui.kubecontext import resolve_context

    return resolve_context(args.context)


def confirm_at_terminal(question: str) -> bool:
    from stonks_tui.errors import UsageError

    if not sys.stdin.isatty():
        raise UsageError(f"{question.rstrip('?')}: cannot ask, standard input is not a terminal",
                         hint="pass --yes to run without confirmation")
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def command_for(args: argparse.Namespace, name: str, *, ticks: bool = True) -> str:
    """`stonks-tui <name>` with the options these arguments gave, so a hint copied from here works here."""
    words = ["stonks-tui"]
    if getattr(args, "state_dir", None) is not None:
        words += ["--state-dir", str(args.state_dir)]
    if args.demo:
        words.append("--demo")
    elif getattr(args, "context", None):
        words += ["--context", args.context]
    if getattr(args, "answers", None):
        words += ["--answers", str(args.answers)]
    import shlex

    text = " ".join(shlex.quote(w) for w in [*words, *name.split()])
    return f"`{text}`" if ticks else text
