"""The Textual app: small on purpose. It wires the runner in and routes engine events to the screens."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen

from stonks_tui.engine.events import Event
from stonks_tui.runner import Runner


@dataclass
class EngineEvent(Message):
    """An engine event, delivered to whichever screen is showing."""

    event: Event


class StonksApp(App[int]):
    TITLE = "stonks-tui"
    SUB_TITLE = "move CI/CD from GitHub to Gitea + Woodpecker"
    CSS_PATH = "app.tcss"
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", priority=True), Binding("question_mark", "keys", "Keys")]

    def __init__(self, runner: Runner, unlock: object = None, keyring_where: str = "") -> None:
        super().__init__()
        self.runner = runner
        self.unlock = unlock  # set when the keyring still needs its passphrase
        self.keyring_where = keyring_where

    def on_mount(self) -> None:
        if self.unlock is not None:
            from stonks_tui.screens.unlock import UnlockScreen

            self.push_screen(UnlockScreen(self.keyring_where, self.unlock))
            return
        self.show_start()

    def show_start(self) -> None:
        """Welcome, with the Resume screen on top when the journal holds an unfinished install (escape: Welcome)."""
        from stonks_tui.screens.welcome import WelcomeScreen

        self.push_screen(WelcomeScreen())
        if self.runner.journal("install").unfinished() and not self.runner.torn_down():
            from stonks_tui.screens.resume import ResumeScreen

            self.push_screen(ResumeScreen())

    def home(self) -> None:
        """Back to the start with an empty screen stack (the wizard's paths do not pile screens up)."""
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.show_start()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette (ctrl+p) offers the main actions from any screen."""
        yield from super().get_system_commands(screen)
        yield SystemCommand("Install", "Prerequisites, settings, credentials, plan, apply", self._go("install"))
        yield SystemCommand("Settings", "Edit and save the settings (the answers file)", self._go("settings"))
        yield SystemCommand("Verify", "Run the live checks of the installed system", self._go("verify"))
        yield SystemCommand("Teardown", "Remove the pipeline, keep the PersistentVolumes", self._go("teardown"))
        yield SystemCommand("Welcome", "Back to the start", self._go("welcome"))

    def _go(self, where: str) -> Callable[[], None]:
        def go() -> None:
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
        self.action_show_help_panel()
