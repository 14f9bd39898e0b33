"""A DataTable whose rows wrap instead of being cut: the last columns share the width the table has, each row as
tall as its longest cell. At 80 columns the plan's changes ("…only the o") and the checks' results ("not
initialised yet (the inst…") were cut; the operator has to read them whole.

The widths follow the table's own width (a resize, a zoom): rows are laid out again then, the cursor kept."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.events import Resize
from textual.widgets import DataTable

PADDING = 2  # DataTable's cell padding, one cell each side


class WrappedTable(DataTable[Text]):
    """The first `len(labels) - len(shares)` columns are as wide as their widest cell or label (their cells never
    wrap); `shares`: how the rest of the width is split between the remaining columns (a column with no text in any
    row is not shown)."""

    def __init__(self, labels: Sequence[str], shares: Sequence[float], **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self.labels, self.shares = list(labels), list(shares)
        self.data: list[tuple[str, ...]] = []
        self._laid_out_for = -1

    def show_rows(self, rows: Sequence[Sequence[str]]) -> None:
        self.data = [tuple(row) for row in rows]
        self._lay_out(force=True)

    @property
    def fixed(self) -> list[int]:
        """The widths of the columns that never wrap."""
        n_fixed = len(self.labels) - len(self.shares)
        # At least one cell: a zero-wide column breaks the rows' rendering.
        return [max([1, len(self.labels[i]), *(len(row[i]) for row in self.data)]) for i in range(n_fixed)]

    def on_resize(self, event: Resize) -> None:
        self._lay_out()

    def _available(self) -> int:
        # The width inside the border, less the vertical scrollbar when rows overflow (assume they may).
        return max(0, self.size.width - self.styles.scrollbar_size_vertical)

    def _lay_out(self, *, force: bool = False) -> None:
        width = self._available()
        if width == self._laid_out_for and not force:
            return
        self._laid_out_for = width
        fixed = self.fixed
        n_fixed = len(fixed)
        used = [any(row[n_fixed + i] for row in self.data) for i in range(len(self.shares))]
        total = sum(share for share, on in zip(self.shares, used, strict=True) if on) or 1
        room = max(10, width - sum(w + PADDING for w in fixed) - PADDING * sum(used))
        flexible = [max(6, int(room * share / total)) if on else 0 for share, on in zip(self.shares, used, strict=True)]
        if flexible:
            last = max(i for i, on in enumerate(used) if on) if any(used) else 0
            flexible[last] += room - sum(flexible)  # the rounding goes to the last column in use
        keep = [True] * n_fixed + used  # a column with nothing in it is left out (a zero-wide one breaks rows)
        row = self.cursor_row
        self.clear(columns=True)
        for label, w, on in zip(self.labels, [*fixed, *flexible], keep, strict=True):
            if on:
                self.add_column(label, width=w)
        for values in self.data:
            self.add_row(*(Text(value) for value, on in zip(values, keep, strict=True) if on), height=None)
        if 0 <= row < len(self.data):
            self.move_cursor(row=row)
