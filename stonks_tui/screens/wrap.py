"""Long log lines wrapped to the pane's width, so an operator reads them whole (a 40-column pane used to cut
`NFS data at 127.0.0.1:/volume1/K…`). Continuations are indented so a wrapped line reads as one."""

from __future__ import annotations

CONTINUATION = "  "


def wrap_line(line: str, width: int) -> list[str]:
    """`line` as rows of at most `width` cells (wide characters count twice); unchanged when it fits or the
    pane is not laid out yet."""
    if width < 12:
        return [line]
    if line.isascii():
        if len(line) <= width:
            return [line]
        rows = [line[:width]]
        rest, room = line[width:], width - len(CONTINUATION)
        rows += [CONTINUATION + rest[i:i + room] for i in range(0, len(rest), room)]
        return rows
    from rich.cells import cell_len, chop_cells

    if cell_len(line) <= width:
        return [line]
    first, *more = chop_cells(line, width)
    rest = "".join(more)
    return [first] + [CONTINUATION + part for part in chop_cells(rest, width - len(CONTINUATION))] if rest else [first]


def wrap_lines(lines: list[str] | tuple[str, ...], width: int) -> list[str]:
    out: list[str] = []
    for line in lines:
        out.extend(wrap_line(line, width))
    return out
