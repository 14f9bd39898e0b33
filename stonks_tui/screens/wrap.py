"""Long log lines wrapped to the pane's width, so an operator reads them whole (a 40-column pane used to cut
`NFS data at 127.0.0.1:/volume1/K…`). Lines break between words ("Syn / ced" read badly); only a word longer than a
row is cut. Continuations are indented so a wrapped line reads as one."""

from __future__ import annotations

import re

CONTINUATION = "  "
WORD = re.compile(r"\s*\S+")


def wrap_line(line: str, width: int) -> list[str]:
    """`line` as rows of at most `width` cells (wide characters count twice); unchanged when it fits or the
    pane is not laid out yet. The whitespace where a line breaks is dropped; nothing else is."""
    if width < 12:
        return [line]
    ascii_only = line.isascii()
    if ascii_only and len(line) <= width:
        return [line]
    from rich.cells import cell_len, chop_cells

    size = len if ascii_only else cell_len
    if not ascii_only and cell_len(line) <= width:
        return [line]
    rows: list[str] = []
    row, room = "", width
    for match in WORD.finditer(line):
        word = match.group()
        if row and size(row) + size(word) > room:  # the word starts the next row, without its leading space
            rows.append(row)
            row, room, word = CONTINUATION, width, word.lstrip()
        while size(row) + size(word) > room:  # a word longer than a row: cut it
            fits = room - size(row)
            piece = word[:fits] if ascii_only else chop_cells(word, fits)[0]
            rows.append(row + piece)
            row, room, word = CONTINUATION, width, word[len(piece):]
        row += word
    rest = line[len(line.rstrip()):]  # trailing whitespace stays on the last row
    if row.strip() or not rows:
        rows.append(row + rest)
    return rows


def wrap_lines(lines: list[str] | tuple[str, ...], width: int) -> list[str]:
    out: list[str] = []
    for line in lines:
        out.extend(wrap_line(line, width))
    return out
