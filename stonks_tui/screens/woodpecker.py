"""Woodpecker activation: the personal token exists only after one login through Gitea, so the operator
fetches it and types it here (masked). The install then activates the repository and sets the GitHub mirror's
deploy key, whose public half is shown to add on GitHub.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input

from stonks_tui.screens.footer import WizardFooter
from stonks_tui.screens.literal import Static
from stonks_tui.screens.title_bar import TitleBar
from stonks_tui.screens.unbidden import Unbidden

TOKEN = "woodpecker-token"


class WoodpeckerScreen(Unbidden, Screen[bool]):
    BINDINGS = [Binding("ctrl+r", "reveal", "Show/hide token"), Binding("escape", "back", "Back")]

    def __init__(self, reason: str = "", *, by_run: bool = False) -> None:
        super().__init__()
        self.reason = reason  # why a new token is asked for (Woodpecker refused the last one)
        self.unbidden = by_run  # opened by the run (not by the operator's `w`): earlier keys are not for it

    def compose(self) -> ComposeResult:
        runner = self.app.runner  # type: ignore[attr-defined]
        s = runner.settings
        yield TitleBar()
        yield Static("Woodpecker needs you once", classes="title")
        yield Static(
            f"1. Open {s.effective_woodpecker_url} in a browser and log in: it sends you to Gitea — log in there "
            f"as {s.gitea_admin_user} and authorise Woodpecker.\n"
            "2. In Woodpecker, open your user settings → Personal access token and copy the token.\n"
            "3. Paste it below and press enter: the install resumes, activates "
            f"{s.effective_repo_owner}/{s.repo_name} and gives it a new ed25519 deploy key for the GitHub mirror.",
            id="woodpecker-steps")
        yield Input(password=True, placeholder="Woodpecker personal token", id="token", compact=True)
        yield Static("", id="token-error", classes="field-error")
        yield Static(f"The token goes to the keyring only. After activation, the deploy key's public half is "
                     f"shown on the Done screen: add it with write access to {s.github_mirror_url}.",
                     classes="hint")
        yield WizardFooter()

    def on_mount(self) -> None:
        self.mark_shown()  # it opens when the run asks: keys typed before it was there stay out of the field
        self.query_one(Input).focus()
        if self.reason:
            error = self.query_one("#token-error", Static)
            error.update(f"{self.reason}: paste a new one")
            error.add_class("shown")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        token = event.value.strip()
        error = self.query_one("#token-error", Static)
        if len(token) < 16 or any(c.isspace() for c in token):
            error.update("that does not look like a Woodpecker token (a long string without spaces): paste it again")
            error.add_class("shown")
            return
        self.app.runner.secret_store().set(TOKEN, token)  # type: ignore[attr-defined]
        event.input.value = ""
        self.dismiss(True)

    def action_reveal(self) -> None:
        field = self.query_one(Input)
        field.password = not field.password

    def action_back(self) -> None:
        self.dismiss(False)
