"""The Textual app: small on purpose. It wires the runner in and routes engine events to the screens."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import App
from textual.binding import Binding
from textual.message import Message

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
        from stonks_tui.screens.welcome import WelcomeScreen

        self.push_screen(WelcomeScreen())

    def engine_listener(self, event: Event) -> None:
        # The engine runs on this app's event loop (an async worker): posting is cheap and ordered.
        self.post_message(EngineEvent(event))

    def on_engine_event(self, message: EngineEvent) -> None:
        handler = getattr(self.screen, "on_engine_event", None)
        if handler is not None:
            handler(message)

    def action_keys(self) -> None:
        self.action_show_help_panel()
