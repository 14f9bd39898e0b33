"""Verify (and Done after an install): the live checks, then where things are and what to do next."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import TextArea

from stonks_tui.screens.checks_table import ChecksView
from stonks_tui.screens.footer import WizardFooter
from stonks_tui.screens.literal import Static
from stonks_tui.screens.title_bar import TitleBar


class VerifyScreen(Screen[None]):
    BINDINGS = [Binding("r", "rerun", "Re-run"), Binding("c", "copy_key", "Copy deploy key"),
                Binding("d", "delivery", "Prove delivery"), Binding("escape", "back", "Back"),
                Binding("q", "app.quit", "Quit")]

    def __init__(self, *, done: bool = False) -> None:
        super().__init__()
        self.done = done
        self.deploy_key = ""  # the GitHub mirror's public key, once the install has made it

    def compose(self) -> ComposeResult:
        yield TitleBar()
        yield Static("Live checks of the installed system", id="verify-title", classes="title")
        yield ChecksView(id="checks")
        yield Static("checking…", id="verify-status", classes="hint")
        # One line of text, shown wrapped when the terminal is narrower than the key (it was cut at 80 columns):
        # c and a selection copy the line, whole; status names the file it is in.
        key = TextArea("", id="deploy-key", read_only=True, soft_wrap=True, show_line_numbers=False)
        key.display = False
        yield key
        yield WizardFooter()

    def on_mount(self) -> None:
        runner = self.app.runner  # type: ignore[attr-defined]
        if runner.torn_down():
            self.query_one("#verify-title", Static).update("After the teardown: what it removed and what it kept")
        self.run_checks()

    @work(exclusive=True, exit_on_error=False)
    async def run_checks(self) -> None:
        runner = self.app.runner  # type: ignore[attr-defined]
        results = await runner.verify()
        failed, _ = self.query_one(ChecksView).show(results)
        s = runner.settings
        text = f"{len(results)} checks, {failed} failed · r re-runs"
        if self.done and not failed:
            # Where things are: the demo's are on 127.0.0.1 (its settings say so), the operator's on their hosts.
            woodpecker = s.effective_woodpecker_url if runner.demo else f"https://{s.woodpecker_host}"
            argocd = s.effective_argocd_url if runner.demo else f"https://{s.argocd_host}"
            text = (f"Done. Next: push a commit to run the pipeline, or d proves the delivery now\n"
                    f"Woodpecker {woodpecker} · Argo CD {argocd} · Gitea {s.gitea_public_url} · "
                    f"secrets: {runner.command('secrets')}")
            public = runner.journal("install").steps.get("woodpecker-activate")
            key = public.outputs.get("github_deploy_public_key") if public else None
            if key:
                self.deploy_key = key
                text += (f"\nDeploy key for {s.github_mirror_url} (give it write access): c copies it; "
                         f"{runner.command('status')} shows its file")
                area = self.query_one("#deploy-key", TextArea)
                area.text = key
                area.display = True
            self.refresh_bindings()
        self.query_one("#verify-status", Static).update(text)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "copy_key":
            return bool(self.deploy_key)  # offered only when there is one
        if action == "delivery":
            return not self.app.runner.torn_down()  # type: ignore[attr-defined]  # nothing to deliver after one
        return True

    def action_delivery(self) -> None:
        from stonks_tui.screens.delivery import DeliveryScreen

        self.app.push_screen(DeliveryScreen())

    def action_copy_key(self) -> None:
        self.app.copy_to_clipboard(self.deploy_key)
        self.notify("deploy key copied (if your terminal passes OSC 52 through)", timeout=5)

    def action_rerun(self) -> None:
        self.run_checks()

    def action_back(self) -> None:
        self.app.home()  # type: ignore[attr-defined]
