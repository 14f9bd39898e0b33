"""Verify (and Done after an install): the live checks, then where things are and what to do next."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from stonks_tui.screens.checks_table import ChecksView
from stonks_tui.screens.title_bar import TitleBar


class VerifyScreen(Screen[None]):
    BINDINGS = [Binding("r", "rerun", "Re-run"), Binding("escape", "back", "Back"), Binding("q", "app.quit", "Quit")]

    def __init__(self, *, done: bool = False) -> None:
        super().__init__()
        self.done = done

    def compose(self) -> ComposeResult:
        yield TitleBar()
        yield Static("Live checks of the installed system", classes="title")
        yield ChecksView(id="checks")
        yield Static("checking…", id="verify-status", classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        self.run_checks()

    @work(exclusive=True, exit_on_error=False)
    async def run_checks(self) -> None:
        runner = self.app.runner  # type: ignore[attr-defined]
        results = await runner.verify()
        failed, _ = self.query_one(ChecksView).show(results)
        s = runner.settings
        text = f"{len(results)} checks, {failed} failed · r re-runs"
        if self.done and not failed:
            text = (f"Done. Woodpecker: https://{s.woodpecker_host} · Argo CD: https://{s.argocd_host} · "
                    f"Gitea: {s.gitea_public_url} · secrets: `stonks-tui secrets` · next: push a commit to run "
                    "the pipeline")
            public = runner.journal("install").steps.get("woodpecker-activate")
            key = public.outputs.get("github_deploy_public_key") if public else None
            if key:
                text += f"\nAdd this deploy key, with write access, to {s.github_mirror_url}:\n{key}"
        self.query_one("#verify-status", Static).update(text)

    def action_rerun(self) -> None:
        self.run_checks()

    def action_back(self) -> None:
        self.app.home()  # type: ignore[attr-defined]
