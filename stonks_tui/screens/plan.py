"""Plan: every step and what it would change (computed live, read-only); confirm to start."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from stonks_tui.engine.step import Change
from stonks_tui.screens.title_bar import TitleBar


class PlanScreen(Screen[None]):
    BINDINGS = [Binding("enter,y", "start", "Start", priority=True), Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, kind: str, *, delete_pvs: bool = False) -> None:
        super().__init__()
        self.kind = kind
        self.delete_pvs = delete_pvs
        self.ready = False
        self.details: list[str] = []  # one per table row

    def compose(self) -> ComposeResult:
        yield TitleBar()
        yield Static(f"The {self.kind} plan — what each step would change (asking the cluster, Gitea and helm)",
                     classes="title")
        table: DataTable[str] = DataTable(id="plan-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("step", "action", "object", "detail")
        yield table
        yield Static("", id="plan-detail")  # the highlighted row in full: 80 columns truncate the table
        yield Static("working out the plan…", id="plan-status", classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        self.describe()

    @work(exclusive=True, exit_on_error=False)
    async def describe(self) -> None:
        runner = self.app.runner  # type: ignore[attr-defined]
        plan = runner.plan(self.kind, delete_pvs=self.delete_pvs)
        rows = await runner.describe(plan)
        table = self.query_one(DataTable)
        todo = 0
        for sid, changes in rows:
            if isinstance(changes, str):
                table.add_row(sid, "?", "cannot tell", changes[:90])
                self.details.append(f"{sid}: cannot tell — {changes}")
                continue
            for change in changes:
                todo += change.action != "unchanged"
                table.add_row(sid, _action(change), f"{change.kind} {change.name}"[:60], change.detail[:90])
                self.details.append(f"{sid}: {_action(change).strip()} {change.kind} {change.name}"
                                    + (f" — {change.detail}" if change.detail else ""))
        self.show_detail(table.cursor_row)
        self.ready = True
        deletes = sum(1 for _, changes in rows if not isinstance(changes, str)
                      for change in changes if change.action == "delete")
        summary = f"{todo} change(s) to make" if todo else "nothing to change"
        if deletes:
            summary += f", {deletes} deletion(s) (rows marked -: ARC's runners and controller, stale objects)"
        if self.kind == "install":
            from stonks_tui.steps.cluster import rbac_grants

            mode = runner.settings.rbac_mode
            summary += f"\nagent RBAC {mode}: {rbac_grants(mode)} (setting rbac_mode)"
        self.query_one("#plan-status", Static).update(
            summary + (" · enter starts, escape goes back" if todo else " · enter runs the checks anyway"))
        self.refresh_bindings()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail(event.cursor_row)

    def show_detail(self, row: int) -> None:
        if 0 <= row < len(self.details):
            self.query_one("#plan-detail", Static).update(self.details[row])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "start" and not self.ready:
            return None  # shown dimmed until the plan is known
        return True

    def action_start(self) -> None:
        from stonks_tui.screens.progress import ProgressScreen

        runner = self.app.runner  # type: ignore[attr-defined]
        self.app.switch_screen(ProgressScreen(runner.plan(self.kind, delete_pvs=self.delete_pvs)))


def _action(change: Change) -> str:
    return {"create": "+ create", "update": "~ update", "delete": "- delete"}.get(change.action, "  unchanged")
