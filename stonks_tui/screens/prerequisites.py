"""Prerequisites: the preflight checks as a live checklist; Next only when nothing fails.

Every row is pass / warn / fail with a one-line fix. `r` re-runs them, `s` opens the settings (a failing check
is often a wrong address) and re-runs them on return.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen

from stonks_tui.screens.checks_table import ChecksView
from stonks_tui.screens.footer import WizardFooter
from stonks_tui.screens.literal import Static
from stonks_tui.screens.title_bar import TitleBar


class PrerequisitesScreen(Screen[None]):
    BINDINGS = [Binding("enter,n", "next", "Next", priority=True), Binding("r", "rerun", "Re-check"),
                Binding("s", "settings", "Settings"), Binding("escape", "app.pop_screen", "Back")]

    def __init__(self) -> None:
        super().__init__()
        self.results: list = []
        self.checking = False

    def compose(self) -> ComposeResult:
        yield TitleBar()
        yield Static("Prerequisites — what the install needs from this machine, the cluster and its neighbours",
                     classes="title")
        yield ChecksView(id="prereq")
        yield Static("checking…", id="prereq-status", classes="hint")
        yield WizardFooter()

    def on_mount(self) -> None:
        self.run_checks()

    @work(exclusive=True, exit_on_error=False)
    async def run_checks(self) -> None:
        self.checking = True
        self.refresh_bindings()
        self.query_one("#prereq-status", Static).update("checking (each check gives up after 20 s)…")
        try:
            self.results = await self.app.runner.preflight()  # type: ignore[attr-defined]
        finally:
            self.checking = False
        failed, warned = self.query_one(ChecksView).show(self.results)
        if failed:
            text = (f"{failed} of {len(self.results)} checks fail: fix them (s edits the settings), then r "
                    "re-checks")
        else:
            text = f"{len(self.results)} checks pass" + (f", {warned} with a warning" if warned else "")
            text += " · enter: next (the settings)"
        self.query_one("#prereq-status", Static).update(text)
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next":
            ready = bool(self.results) and not self.checking and all(r.status != "fail" for r in self.results)
            return ready
        if action == "rerun":
            return not self.checking
        return True

    def action_rerun(self) -> None:
        self.run_checks()

    def action_settings(self) -> None:
        from stonks_tui.screens.settings_form import SettingsScreen

        self.app.push_screen(SettingsScreen(then=None), lambda _saved: self.run_checks())

    def action_next(self) -> None:
        from stonks_tui.screens.settings_form import SettingsScreen

        self.app.push_screen(SettingsScreen(then="credentials"))
