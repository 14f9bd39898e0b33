"""The Textual app: small on purpose. It wires the runner in and routes engine events to the screens."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen

from stonks_tui.engine.events import Event
from stonks_tui.errors import StonksError

if TYPE_CHECKING:
    from stonks_tui.runner import Runner


@dataclass
class EngineEvent(Message):
    """An engine event, delivered to whichever screen is showing."""

    event: Event


class StonksApp(App[int]):
    TITLE = "stonks-tui"
    SUB_TITLE = "move CI/CD from GitHub to Gitea + Woodpecker"
    CSS_PATH = "app.tcss"
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", priority=True), Binding("question_mark", "keys", "Keys"),
                # In a form `?` is typed into the field: F1 opens the keys panel there too (and everywhere).
                Binding("f1", "keys", "Keys")]

    def __init__(self, runner: Runner, unlock: object = None, keyring_where: str = "",
                 prepare: Callable[..., tuple[object, str]] | None = None, contexts: list[str] | None = None) -> None:
        super().__init__()
        self.runner = runner
        self.unlock = unlock  # set when the keyring still needs its passphrase
        self.keyring_where = keyring_where
        # `prepare` (run in a thread) finishes start-up — demo world, settings, keyring — while Welcome is
        # already on screen; until it returns, actions that need the runner wait for it.
        self.prepare = prepare
        self.is_ready = prepare is None
        self.startup_error: StonksError | None = None
        self._when_ready: list[Callable[[], None]] = []
        self.contexts = contexts or []  # the kubeconfig's contexts, for Welcome's picker

    def _handle_exception(self, error: Exception) -> None:
        # An operator-facing error anywhere (a journal that cannot be used, a damaged keyring) is reported like the
        # CLI's — message and hint after the terminal is restored, its exit code — not as a crash.
        from stonks_tui.errors import storage_error

        error = storage_error(error) or error  # a full or read-only state dir: a message too, not a crash
        if isinstance(error, StonksError):
            self.startup_error = error
            self.exit(error.exit_code, return_code=error.exit_code)
            return
        if self.startup_error is not None:
            return  # leaving already: a screen the error left half-built fails after it, as a consequence
        super()._handle_exception(error)

    async def on_event(self, event: events.Event) -> None:
        from stonks_tui.screens.unbidden import typed_before_shown

        if isinstance(event, events.Key) and typed_before_shown(self.screen, event.time):
            return  # typed before this screen (which opened by itself) was there: not meant for it
        await super().on_event(event)

    def _fatal_error(self) -> None:
        """Textual's crash report prints every frame's locals; a frame may hold credentials. Same report without."""
        import rich
        from rich.segment import Segments
        from rich.traceback import Traceback

        self.bell()
        report = Traceback(show_locals=False, width=None, suppress=[rich])
        self._exit_renderables.append(Segments(self.console.render(report, self.console.options)))
        self._close_messages_no_wait()

    def notify(self, message: str, *, title: str = "", severity: Any = "information", timeout: float | None = None,
               markup: bool = True) -> None:
        # Notifications carry paths and remote words: never read as markup (a `[/]` in them crashed the wizard).
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def on_mount(self) -> None:
        import signal

        # A dropped SSH session (SIGHUP) or a polite kill (SIGTERM): stop the running steps the way cancel does,
        # so the journal says "interrupted" (not "running") and the next start opens on Resume; then leave.
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGHUP, signal.SIGTERM):
            loop.add_signal_handler(sig, self.hang_up)
        from stonks_tui.screens.question import OperatorQuestions

        # A question the run asks mid-way (a pending release, ARC's finalizers) is the operator's to answer here.
        self.runner.on_question = OperatorQuestions(self, self.runner.answer)
        self.runner.asks_operator = True
        if self.prepare is not None:
            self.show_start()  # start-up continues once this first frame is on screen (on_ready)
            return
        self._after_unlock_check()

    def _after_unlock_check(self) -> None:
        if self.unlock is not None:
            self._ask_passphrase()
            return
        self.show_start()

    def _ask_passphrase(self) -> None:
        from stonks_tui.screens.unlock import UnlockScreen

        self.push_screen(UnlockScreen(self.keyring_where, self.unlock))

    def on_ready(self) -> None:
        # Only now: the preparing thread would otherwise hold the GIL the first frame needs (the demo world's
        # start-up is Python code).
        if self.prepare is not None and not self.is_ready:
            self.run_prepare()

    def hang_up(self) -> None:
        import time

        if getattr(self.runner, "spawner", None) is not None:
            # The run is the engine process's: the terminal going ends this client only (no cancel), at once —
            # and for certain: a write to the dead terminal (Textual's writer thread restoring the mouse mode) or a
            # helper thread must not keep it alive. The keyring is flushed first; nothing else here needs saving.
            import threading

            from stonks_tui.prompt_exit import leave_now

            def leave_for_certain() -> None:
                time.sleep(2.0)
                with contextlib.suppress(Exception):
                    self.runner.secret_store().flush(timeout=1.0)
                leave_now(129)

            threading.Thread(target=leave_for_certain, name="hang-up", daemon=True).start()
            self.exit(129, return_code=129)
            return
        self.runner.cancel()
        # The cancelled steps record themselves ("interrupted") once their cleanup ends — a helm child is given
        # up to 5 s to stop — so leave when none is left running, not after a fixed pause (bounded all the same).
        started = time.monotonic()

        def leave_when_recorded() -> None:
            engine = getattr(self.runner, "engine", None)
            if engine is not None and engine.busy and time.monotonic() - started < 8:
                self.set_timer(0.1, leave_when_recorded)
                return
            self.exit(130, return_code=130)

        self.set_timer(0.1, leave_when_recorded)

    def switch_context(self, context: str) -> None:
        """The operator picked another kube context on Welcome: prepare a session for it, start again there."""
        if self.prepare is None or context == self.runner.context:
            return
        self.is_ready = False
        self.runner.context = context
        self.run_prepare(context)
        self.home()  # Welcome (and Resume) of the new context's journal

    @work(thread=True, exit_on_error=False, exclusive=True, group="prepare")
    def run_prepare(self, context: str | None = None) -> None:
        assert self.prepare is not None
        try:
            unlock, where = self.prepare(context) if context else self.prepare()
        except StonksError as exc:
            self.call_from_thread(self._startup_failed, exc)
            return
        except Exception as exc:  # never a silent freeze on Welcome: say what failed (exit 2 for a full disk, else 1)
            from stonks_tui.errors import storage_error

            self.call_from_thread(self._startup_failed, storage_error(exc) or StonksError(
                f"start-up failed: {type(exc).__name__}: {exc}", "see the message above; report it if unclear"))
            return
        self.call_from_thread(self._prepared, unlock, where)

    def _startup_failed(self, exc: StonksError) -> None:
        self.startup_error = exc
        self.exit(exc.exit_code, return_code=exc.exit_code)

    def _prepared(self, unlock: object, where: str) -> None:
        self.is_ready = True
        if unlock is not None:
            self.unlock, self.keyring_where = unlock, where
            self._ask_passphrase()
        waiting, self._when_ready = self._when_ready, []
        for callback in waiting:
            callback()

    def when_ready(self, callback: Callable[[], None]) -> None:
        """Run `callback` now, or once start-up has finished (the first key can come before it has)."""
        if self.is_ready:
            callback()
            return
        self._when_ready.append(callback)
        what = "the simulated world and the keyring" if self.runner.demo else "the settings and the keyring"
        self.notify(f"one moment: starting {what}…", timeout=3)

    def show_start(self) -> None:
        """Welcome, with the Resume screen on top when the journal holds an unfinished install (escape: Welcome)."""
        from stonks_tui.screens.welcome import WelcomeScreen

        self.push_screen(WelcomeScreen())
        live = self.live_run()
        if live is not None:  # a run goes on in the engine process (started here before, or by `install`)
            from stonks_tui.screens.progress import ProgressScreen

            self.when_ready(lambda: self.push_screen(ProgressScreen(self.runner.plan(live.get("plan", "install")),
                                                                    attach=True)))
            return
        if self.runner.journal("install").unfinished() and not self.runner.torn_down():
            from stonks_tui.screens.resume import ResumeScreen

            self.push_screen(ResumeScreen())

    def live_run(self) -> dict | None:
        from stonks_tui.service.protocol import live_engine

        return live_engine(self.runner.context_dir())

    def home(self) -> None:
        """Back to the start with an empty screen stack (the wizard's paths do not pile screens up)."""
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.show_start()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette (ctrl+p) offers the main actions from any screen."""
        # Textual's "Keys" opens its generic panel (every widget's bindings): the wizard's own panel instead.
        yield from (command for command in super().get_system_commands(screen) if command.title != "Keys")
        yield SystemCommand("Keys", "The keys that work on this screen", self.action_keys)
        yield SystemCommand("Install", "Prerequisites, settings, credentials, plan, apply", self._go("install"))
        yield SystemCommand("Settings", "Edit and save the settings (the answers file)", self._go("settings"))
        yield SystemCommand("Verify", "Run the live checks of the installed system", self._go("verify"))
        yield SystemCommand("Teardown", "Remove the pipeline, keep the PersistentVolumes", self._go("teardown"))
        yield SystemCommand("Welcome", "Back to the start", self._go("welcome"))

    def _go(self, where: str) -> Callable[[], None]:
        def go() -> None:
            self.when_ready(lambda: open_screen())

        def open_screen() -> None:
            if getattr(self.screen, "running", False):
                self.notify("a run is in progress: cancel it (c) first", severity="warning")
                return
            from stonks_tui.screens.prerequisites import PrerequisitesScreen
            from stonks_tui.screens.settings_form import SettingsScreen
            from stonks_tui.screens.teardown import TeardownScreen
            from stonks_tui.screens.verify import VerifyScreen
            from stonks_tui.screens.welcome import WelcomeScreen

            make = {"install": PrerequisitesScreen, "settings": lambda: SettingsScreen(then=None),
                    "verify": VerifyScreen, "teardown": TeardownScreen, "welcome": WelcomeScreen}[where]
            self.push_screen(make())

        return go

    def engine_listener(self, event: Event) -> None:
        # The engine runs on this app's event loop (an async worker): posting is cheap and ordered.
        self.post_message(EngineEvent(event))

    def on_engine_event(self, message: EngineEvent) -> None:
        handler = getattr(self.screen, "on_engine_event", None)
        if handler is not None:
            handler(message)

    def action_keys(self) -> None:
        from stonks_tui.screens.keys_panel import KeysPanel

        if isinstance(self.screen, KeysPanel):
            self.screen.dismiss()  # the key that opened it closes it
            return
        self.push_screen(KeysPanel(self.screen))
