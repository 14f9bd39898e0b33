"""Plan: every step and what it would change (computed live, read-only); confirm to start.

One row per change — step, action, and the object with its detail in one column, so the width goes where the
words are. What is already as wanted is hidden unless asked for (`u`); the highlighted row is shown whole under
the table, and a file's change opens as a diff (`d`).
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable

from stonks_tui.engine.step import Change
from stonks_tui.plan_summary import summarise
from stonks_tui.screens.footer import WizardFooter
from stonks_tui.screens.literal import Static
from stonks_tui.screens.title_bar import TitleBar
from stonks_tui.screens.wrapped_table import WrappedTable
from stonks_tui.words import count

SYMBOLS = {"create": "+", "update": "~", "delete": "-", "unchanged": "=", "unknown": "?"}


class PlanScreen(Screen[None]):
    BINDINGS = [Binding("enter,y", "start", "Start", priority=True), Binding("d", "diff", "Diff"),
                Binding("u", "unchanged", "Show unchanged"), Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, kind: str, *, delete_pvs: bool = False) -> None:
        super().__init__()
        self.kind = kind
        self.delete_pvs = delete_pvs
        self.ready = False
        self.show_unchanged = False
        self.rows: list[tuple[str, str, Change | None, str]] = []  # (step, action, change, text), every row
        self.shown: list[int] = []  # indexes into rows, in table order
        self.summary_text = ""

    def compose(self) -> ComposeResult:
        yield TitleBar()
        yield Static(f"The {self.kind} plan: what each step would change", classes="title")
        # The change column takes the width that is left and wraps (it was cut: "…only the o", "release kar").
        yield WrappedTable(["step", " ", "change"], shares=[1.0], id="plan-table")
        yield Static("", id="plan-detail")  # the highlighted row in full: the table cuts long ones
        yield Static("working out the plan…", id="plan-status", classes="hint")
        yield WizardFooter()

    def on_mount(self) -> None:
        self.describe()

    @work(exclusive=True, exit_on_error=False)
    async def describe(self) -> None:
        runner = self.app.runner  # type: ignore[attr-defined]
        plan = runner.plan(self.kind, delete_pvs=self.delete_pvs)
        described = await runner.describe(plan)
        for sid, changes in described:
            if isinstance(changes, str):
                self.rows.append((sid, "unknown", None, f"cannot tell: {changes}"))
                continue
            for change in changes:
                text = f"{change.kind} {change.name}" + (f" — {change.detail}" if change.detail else "")
                self.rows.append((sid, change.action, change, text))
        summary = summarise(self.kind, described)
        text = summary.line()
        if summary.actions.get("delete"):
            text += " · rows marked - delete: ARC's runners and controller, stale objects"
        if self.kind == "install":
            from stonks_tui.steps.cluster import rbac_grants

            mode = runner.settings.rbac_mode
            text += f"\nagent RBAC {mode}: {rbac_grants(mode)} (setting rbac_mode)"
        self.summary_text = text
        self.ready = True
        self.fill()
        self.refresh_bindings()

    def fill(self) -> None:
        table = self.query_one(WrappedTable)
        self.shown = [i for i, row in enumerate(self.rows) if self.show_unchanged or row[1] != "unchanged"]
        table.show_rows([(sid, SYMBOLS.get(action, "?"), text)
                         for sid, action, _change, text in (self.rows[i] for i in self.shown)])
        hidden = len(self.rows) - len(self.shown)
        todo = any(row[1] != "unchanged" for row in self.rows)
        keys = " · enter starts, escape goes back" if todo else " · enter runs the checks anyway"
        if hidden:
            keys += f" · {count(hidden, 'unchanged row')} hidden: u shows"
        self.query_one("#plan-status", Static).update(self.summary_text + keys)
        self.show_detail(table.cursor_row)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail(event.cursor_row)
        self.refresh_bindings()  # `d` only where there is a diff

    def highlighted(self) -> tuple[str, str, Change | None, str] | None:
        row = self.query_one(DataTable).cursor_row
        return self.rows[self.shown[row]] if 0 <= row < len(self.shown) else None

    def show_detail(self, row: int) -> None:
        detail = self.query_one("#plan-detail", Static)
        if not 0 <= row < len(self.shown):
            detail.update("")
            return
        sid, action, change, text = self.rows[self.shown[row]]
        more = " · d shows the diff" if _diff(change) else ""
        detail.update(f"{sid}: {action} {text}{more}")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "start" and not self.ready:
            return False  # offered once the plan is known
        if action == "diff":
            row = self.highlighted() if self.ready else None
            return bool(row and _diff(row[2]))  # hidden unless the row has one
        if action == "unchanged":
            return self.ready and any(row[1] == "unchanged" for row in self.rows)
        return True

    def action_unchanged(self) -> None:
        self.show_unchanged = not self.show_unchanged
        self.fill()

    def action_diff(self) -> None:
        row = self.highlighted()
        if row and row[2] is not None and _diff(row[2]):
            self.app.push_screen(DiffScreen(f"{row[0]}: {row[1]} {row[2].kind} {row[2].name}", row[2].lines))

    def action_start(self) -> None:
        from stonks_tui.screens.progress import ProgressScreen

        runner = self.app.runner  # type: ignore[attr-defined]
        self.app.switch_screen(ProgressScreen(runner.plan(self.kind, delete_pvs=self.delete_pvs)))


def _diff(change: Change | None) -> tuple[str, ...]:
    """The unified diff a change carries (files do), or nothing."""
    return change.lines if change is not None else ()


class DiffScreen(ModalScreen[None]):
    """A file's change as a unified diff, scrollable; d or escape closes it (the way it opened)."""

    BINDINGS = [Binding("escape,d,q", "close", "Close")]

    def __init__(self, title: str, lines: tuple[str, ...]) -> None:
        super().__init__()
        self.heading = title
        self.lines = lines

    def compose(self) -> ComposeResult:
        from rich.text import Text

        body = Text()
        for line in self.lines:
            style = ("green" if line.startswith("+") and not line.startswith("+++") else
                     "red" if line.startswith("-") and not line.startswith("---") else
                     "cyan" if line.startswith("@@") else "")
            body.append(line + "\n", style=style)
        yield Static(self.heading, classes="title")
        with VerticalScroll(id="diff"):
            yield Static(body, id="diff-body")
        yield WizardFooter()

    def action_close(self) -> None:
        self.dismiss(None)
