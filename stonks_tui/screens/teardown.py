"""Teardown: what goes, what is kept (each PV with NFS server:path, capacity, policy, status), then confirm."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Static


class TeardownScreen(Screen[None]):
    BINDINGS = [Binding("y", "confirm", "Tear down (keep PVs)"), Binding("escape,n", "app.pop_screen", "Back")]

    def compose(self) -> ComposeResult:
        s = self.app.runner.settings  # type: ignore[attr-defined]
        yield Header()
        yield Static("Teardown removes: Kargo resources and release, Argo CD Applications and release, Woodpecker, "
                     f"and the namespaces {s.woodpecker_namespace}, {s.argocd_namespace}, {s.kargo_namespace}.",
                     classes="title")
        yield Static(f"Kept: namespaces {s.gitea_namespace} (Gitea, registry) and {s.live_namespace}, every "
                     "PersistentVolume (made Retain first) and all NFS data. Stricter than the old scripts, which "
                     "deleted PVs without asking. Deleting PVs is a separate, explicit choice: "
                     "`stonks-tui teardown --delete-pvs`.", classes="hint")
        yield Static("reading the PVs…", id="kept")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @work(exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        lines = await self.app.runner.kept_pvs()  # type: ignore[attr-defined]
        self.query_one("#kept", Static).update("PersistentVolumes kept:\n" + "\n".join(f"  {x}" for x in lines)
                                               if lines else "No pipeline PersistentVolumes found.")

    def action_confirm(self) -> None:
        from stonks_tui.screens.progress import ProgressScreen

        runner = self.app.runner  # type: ignore[attr-defined]
        self.app.switch_screen(ProgressScreen(runner.plan("teardown")))
