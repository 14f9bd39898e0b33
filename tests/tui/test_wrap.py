"""Log lines wrap to the pane's width and lose nothing."""

from __future__ import annotations

from rich.cells import cell_len

from stonks_tui.screens.wrap import CONTINUATION, wrap_line


def test_a_long_line_wraps_whole_and_continuations_are_indented() -> None:
    line = "uninstall runner scale set arc-runners/arc-runner-set (gha-runner-scale-set-0.9.3): NFS data at " \
           "127.0.0.1:/volume1/Kubernetes/pipelines/arc is kept"
    rows = wrap_line(line, 38)
    assert all(len(r) <= 38 for r in rows) and len(rows) > 3
    assert rows[0] + "".join(r.removeprefix(CONTINUATION) for r in rows[1:]) == line
    assert all(r.startswith(CONTINUATION) for r in rows[1:])


def test_wide_characters_count_twice_and_short_lines_stay() -> None:
    line = "✓ 準備完了 " * 12
    rows = wrap_line(line, 20)
    assert all(cell_len(r) <= 20 for r in rows)
    assert rows[0] + "".join(r.removeprefix(CONTINUATION) for r in rows[1:]) == line
    assert wrap_line("short", 40) == ["short"] and wrap_line("x" * 100, 0) == ["x" * 100]
