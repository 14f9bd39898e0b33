"""Unlock: the encrypted file keyring's passphrase, typed into a masked input (never getpass under the TUI).

Shown only when the keyring needs a passphrase that the environment did not give. The unlock (an Argon2
derivation, ~0.5 s) runs in a worker so the screen stays responsive; a wrong passphrase says so and lets the
operator try again, with nothing overwritten. A keyring that does not exist yet is created with the passphrase
typed twice (a typo would otherwise lock its secrets away).
"""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input

from stonks_tui.errors import StonksError
from stonks_tui.screens.footer import WizardFooter
from stonks_tui.screens.literal import Static


class UnlockScreen(Screen[None]):
    BINDINGS = [Binding("escape", "app.quit", "Quit")]

    def __init__(self, where: str, unlock) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.where = where
        self.unlock = unlock  # callable(passphrase) -> None, raises StonksError when it does not unlock
        self.creating = not Path(where).exists()
        self.first: str | None = None  # when creating: the passphrase typed the first time

    def compose(self) -> ComposeResult:
        yield Static(f"Secrets are kept in an encrypted keyring: {self.where}", classes="title")
        yield Static(("This keyring is new: choose its passphrase and type it twice." if self.creating else
                      "Type its passphrase.") + " It is never shown, stored or logged.", classes="hint")
        yield Input(password=True, placeholder="passphrase", id="passphrase")
        yield Static("", id="unlock-error")
        yield WizardFooter()

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if not event.value:
            return
        error = self.query_one("#unlock-error", Static)
        if self.creating and self.first is None:
            from stonks_tui.secrets import MIN_PASSPHRASE

            if len(event.value) < MIN_PASSPHRASE:  # said now, not after typing it twice
                event.input.value = ""
                error.update(f"{len(event.value)} characters: a new keyring needs at least {MIN_PASSPHRASE} "
                             "(everything in it is as strong as its passphrase)")
                return
            self.first = event.value
            event.input.value = ""
            event.input.placeholder = "the same passphrase again"
            error.update("")
            return
        if self.creating and event.value != self.first:
            self.first = None
            event.input.value = ""
            event.input.placeholder = "passphrase"
            error.update("the two passphrases differ: type it again, twice")
            return
        error.update("unlocking…")
        self.try_unlock(event.value)

    @work(exclusive=True, thread=True, exit_on_error=False)
    def try_unlock(self, passphrase: str) -> None:
        from stonks_tui.secrets import KeyringLocked

        try:
            self.unlock(passphrase)
        except KeyringLocked as exc:  # a wrong passphrase: type it again
            self.app.call_from_thread(self.failed, exc.message, exc.hint)
            return
        except StonksError as exc:  # a damaged keyring file: retyping cannot help; leave with the message
            self.app.call_from_thread(self.app._startup_failed, exc)  # type: ignore[attr-defined]
            return
        self.app.call_from_thread(self.unlocked)

    def failed(self, message: str, hint: str) -> None:
        self.query_one("#unlock-error", Static).update(f"{message}\n{hint}")
        field = self.query_one(Input)
        field.value = ""
        field.focus()

    def unlocked(self) -> None:
        self.app.home()  # type: ignore[attr-defined]
