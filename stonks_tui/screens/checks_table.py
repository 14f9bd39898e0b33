"""Check results (pass / warn / fail, what was found, the one-line fix) as a table whose rows wrap: every result
and fix is read whole in its row at 80 columns too (a detail line under the table repeated the highlighted row and
still cut the last PV of a long one). Used by Prerequisites and Verify."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical

from stonks_tui.screens.wrapped_table import WrappedTable

MARKS = {"pass": "✓", "warn": "!", "fail": "✗"}
ORDER = {"fail": 0, "warn": 1, "pass": 2}


class ChecksView(Vertical):
    DEFAULT_CSS = """
    ChecksView { height: 1fr; }
    ChecksView DataTable { height: 1fr; border: round $primary; }
    """

    def __init__(self, *, id: str) -> None:
        super().__init__(id=f"{id}-view")
        self.table_id = id

    def compose(self) -> ComposeResult:
        yield WrappedTable(["", "check", "result", "fix"], shares=[0.6, 0.4], id=self.table_id)

    def show(self, results: Sequence[Any]) -> tuple[int, int]:
        """Show the results, failures first; returns (failed, warned)."""
        self.query_one(WrappedTable).show_rows([(MARKS[r.status], r.name, r.reason, r.fix)
                                                for r in sorted(results, key=lambda r: ORDER[r.status])])
        return sum(r.status == "fail" for r in results), sum(r.status == "warn" for r in results)
