"""Check results (pass / warn / fail, what was found, the one-line fix) as a table, with the highlighted row's
full text and fix underneath — at 80 columns the table truncates them. Used by Prerequisites and Verify."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable

from stonks_tui.screens.literal import Static, cell

MARKS = {"pass": "✓", "warn": "!", "fail": "✗"}
ORDER = {"fail": 0, "warn": 1, "pass": 2}


class ChecksView(Vertical):
    DEFAULT_CSS = """
    ChecksView { height: 1fr; }
    ChecksView DataTable { height: 1fr; border: round $primary; }
    ChecksView .check-detail { height: auto; max-height: 4; padding: 0 1; }
    """

    def __init__(self, *, id: str) -> None:
        super().__init__(id=f"{id}-view")
        self.table_id = id
        self.results: list[Any] = []

    def compose(self) -> ComposeResult:
        table: DataTable[str] = DataTable(id=self.table_id, cursor_type="row", zebra_stripes=True)
        table.add_columns("", "check", "result", "fix")
        yield table
        yield Static("", classes="check-detail")

    def show(self, results: Sequence[Any]) -> tuple[int, int]:
        """Show the results, failures first; returns (failed, warned)."""
        self.results = sorted(results, key=lambda r: ORDER[r.status])
        table = self.query_one(DataTable)
        table.clear()
        for r in self.results:
            table.add_row(*map(cell, (MARKS[r.status], r.name, r.reason, r.fix)))
        self._detail(0)
        return sum(r.status == "fail" for r in results), sum(r.status == "warn" for r in results)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail(event.cursor_row)

    def _detail(self, row: int) -> None:
        detail = self.query_one(".check-detail", Static)
        if not 0 <= row < len(self.results):
            detail.update("")
            return
        r = self.results[row]
        detail.update(f"{MARKS[r.status]} {r.name}: {r.reason}" + (f"\n  fix: {r.fix}" if r.fix else ""))
