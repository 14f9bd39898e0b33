"""Text widgets that show their text as it is: never read as Textual/Rich markup.

What the wizard shows comes largely from elsewhere — a hook message (`details in [/var/log/x.log]`), a journal's
last error, a state dir path, a check's result naming `[webhook]`. Read as markup, such text crashed the wizard or
vanished. Every screen takes Static and Label from here, and DataTable cells through `cell()`; the wizard's own
words need no markup (none use it)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Label as _Label
from textual.widgets import Static as _Static


class Static(_Static):
    def __init__(self, content: Any = "", *, markup: bool = False, **kwargs: Any) -> None:
        super().__init__(content, markup=markup, **kwargs)


class Label(_Label):
    def __init__(self, content: Any = "", *, markup: bool = False, **kwargs: Any) -> None:
        super().__init__(content, markup=markup, **kwargs)


def cell(value: Any) -> Any:
    """A DataTable cell shown literally (a plain str cell would be read as markup)."""
    return Text(value) if isinstance(value, str) else value
