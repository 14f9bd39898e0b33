"""Teardown: what goes, what is kept (each PV with NFS server:path, capacity, policy, status), then confirm.

Deleting the PVs is a separate, off-by-default choice: `d` opens a field where every PV's name must be typed;
only when the typed names are exactly the PVs that exist does `y` delete them too.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Input

from stonks_tui.screens.footer import WizardFooter
from stonks_tui.screens.literal import Static
from stonks_tui.screens.title_bar import TitleBar


class TeardownScreen(Screen[None]):
    AUTO_FOCUS = ""  # never the hidden PV-names field: its keys would be typed there, not acted on
    BINDINGS = [Binding("y", "confirm", "Tear down"), Binding("d", "delete_pvs", "Also delete PVs…"),
                Binding("escape", "back", "Back")]

    def __init__(self) -> None:
        super().__init__()
        self.pv_names: list[str] = []
        self.loaded = False

    def compose(self) -> ComposeResult:
        s = self.app.runner.settings  # type: ignore[attr-defined]
        yield TitleBar()
        yield Static("Teardown removes: Kargo resources and release, Argo CD Applications and release, Woodpecker, "
                     "and the namespaces the install made (reading them…).", id="teardown-removes", classes="title")
        yield Static(f"Kept: namespaces {s.gitea_namespace} (Gitea, registry) and {s.live_namespace}, every "
                     "PersistentVolume (made Retain first) and all NFS data. Stricter than the old scripts, which "
                     "deleted PVs without asking.", id="teardown-keeps", classes="hint")
        yield Static("reading the PVs…", id="kept")
        with Vertical(id="pv-box"):  # hidden until `d`: typing names is the deliberate, separate choice
            yield Input(placeholder="type every PV name, separated by spaces", id="pv-names", compact=True)
        yield Static("y: tear down, keep the PVs · d: also delete the PVs (you type their names) · escape: back",
                     id="teardown-status", classes="hint")
        yield WizardFooter()

    def on_mount(self) -> None:
        self.load()

    @work(exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        runner = self.app.runner  # type: ignore[attr-defined]
        # The namespaces as the teardown's own step sorts them (it used to list three while the run deleted five).
        deleted, kept = await runner.teardown_namespaces()
        self.query_one("#teardown-removes", Static).update(
            "Teardown removes: Kargo resources and release, Argo CD Applications and release, Woodpecker, and "
            + (f"the namespaces {', '.join(deleted)}." if deleted else "no namespace (none the install made is left)."))
        self.query_one("#teardown-keeps", Static).update(
            "Kept: " + "; ".join(f"namespace {name} ({why})" for name, why in kept) + "; every PersistentVolume "
            "(made Retain first) and all NFS data. Stricter than the old scripts, which deleted PVs without asking.")
        pvs = await runner.kept_pvs()
        self.pv_names = [name for name, _ in pvs]
        self.loaded = True
        self.query_one("#kept", Static).update("PersistentVolumes kept:\n" + "\n".join(f"  {line}" for _, line in pvs)
                                               if pvs else "No pipeline PersistentVolumes found.")
        self.refresh_bindings()

    def typed(self) -> list[str]:
        field = self.query_one("#pv-names", Input)
        return field.value.replace(",", " ").split() if self.query_one("#pv-box").display else []

    def deleting(self) -> bool:
        """True only when the operator typed exactly the PVs that exist: nothing is inferred or defaulted."""
        typed = self.typed()
        return bool(self.pv_names) and sorted(typed) == sorted(self.pv_names)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "delete_pvs":
            return bool(self.loaded and self.pv_names)
        if action == "confirm":
            return self.loaded
        return True

    def action_delete_pvs(self) -> None:
        self.query_one("#pv-box").display = True
        self.call_after_refresh(self.query_one("#pv-names", Input).focus)  # focusable once it is displayed
        self.query_one("#teardown-status", Static).update(
            "Deleting a PV removes the cluster's record of where the data is (the NFS data stays). Type each name "
            f"({len(self.pv_names)}), then enter; escape keeps them.")

    def on_input_changed(self, _event: Input.Changed) -> None:
        if not self.query_one("#pv-box").display:
            return  # the field was emptied on the way out (escape): its count of names to type is stale
        status = self.query_one("#teardown-status", Static)
        if self.deleting():
            status.update(f"enter: tear down AND DELETE the PVs {', '.join(self.pv_names)} · escape: keep them")
        else:
            missing = sorted(set(self.pv_names) - set(self.typed()))
            extra = sorted(set(self.typed()) - set(self.pv_names))
            status.update(("still to type: " + ", ".join(missing) if missing else "") +
                          (("; not a pipeline PV: " + ", ".join(extra)) if extra else ""))

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        if self.deleting():
            self.start(delete_pvs=True)
        else:
            self.notify("the typed names are not exactly the PVs listed: nothing will be deleted", severity="warning")

    def action_confirm(self) -> None:
        self.start(delete_pvs=False)

    def action_back(self) -> None:
        box = self.query_one("#pv-box")
        if box.display:
            self.query_one("#pv-names", Input).value = ""
            box.display = False
            self.query_one("#teardown-status", Static).update("PVs will be kept · y: tear down · escape: back")
            self.set_focus(None)
            return
        self.app.pop_screen()

    def start(self, *, delete_pvs: bool) -> None:
        from stonks_tui.screens.progress import ProgressScreen

        runner = self.app.runner  # type: ignore[attr-defined]
        if delete_pvs:
            runner.extra["confirmed_pv_names"] = list(self.typed())
        else:
            runner.extra.pop("confirmed_pv_names", None)
        self.app.switch_screen(ProgressScreen(runner.plan("teardown", delete_pvs=delete_pvs)))
