"""A table of check results (pass / warn / fail, what was found, the one-line fix): Prerequisites and Verify."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual.widgets import DataTable

MARKS = {"pass": "✓", "warn": "!", "fail": "✗"}


def checks_table(table_id: str) -> DataTable[str]:
    table: DataTable[str] = DataTable(id=table_id, cursor_type="row", zebra_stripes=True)
    table.add_columns("", "check", "result", "fix")
    return table


def fill_checks(table: DataTable[str], results: Sequence[Any]) -> tuple[int, int]:
    """Show the results, failures first; returns (failed, warned)."""
    table.clear()
    order = {"fail": 0, "warn": 1, "pass": 2}
    for r in sorted(results, key=lambda r: order[r.status]):
        table.add_row(MARKS[r.status], r.name, r.reason, r.fix)
    return sum(r.status == "fail" for r in results), sum(r.status == "warn" for r in results)
