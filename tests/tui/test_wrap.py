"""Log lines wrap to the pane's width, between words, and lose nothing but the spaces where they break."""

from __future__ import annotations

from rich.cells import cell_len

from stonks_tui.screens.wrap import CONTINUATION, wrap_line


def test_a_long_line_wraps_between_words_and_continuations_are_indented() -> None:
    line = "uninstall runner scale set arc-runners/arc-runner-set (gha-runner-scale-set-0.9.3): NFS data at " \
           "127.0.0.1:/volume1/Kubernetes/pipelines/arc is kept; Synced and Kubernetes words stay whole"
    rows = wrap_line(line, 38)
    assert all(len(r) <= 38 for r in rows) and len(rows) > 3
    assert "".join("".join(r.split()) for r in rows) == "".join(line.split())  # nothing lost
    assert all(r.startswith(CONTINUATION) for r in rows[1:])
    words = {w for r in rows for w in r.split()}
    assert {"Synced", "Kubernetes", "arc-runners/arc-runner-set"} <= words  # was "Syn" / "ced"


def test_a_word_longer_than_a_row_is_cut_and_kept() -> None:
    line = "path " + "x" * 100 + " end"
    rows = wrap_line(line, 30)
    assert all(len(r) <= 30 for r in rows)
    assert "".join("".join(r.split()) for r in rows) == "".join(line.split())


def test_wide_characters_count_twice_and_short_lines_stay() -> None:
    line = "✓ 準備完了 " * 12
    rows = wrap_line(line, 20)
    assert all(cell_len(r) <= 20 for r in rows)
    assert " ".join(r.strip() for r in rows).split() == line.split()
    assert wrap_line("short", 40) == ["short"] and wrap_line("x" * 100, 0) == ["x" * 100]
    assert "".join(r.strip() for r in wrap_line("準" * 40, 20)) == "準" * 40
