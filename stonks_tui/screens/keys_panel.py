"""The keys panel (`?`): the keys that work on the screen below it now, in the wizard's words.

Textual's own panel listed every binding of the focused widget (`← Scroll Left`, `^c Copy selected text`) beside
ours and did not close with the `?` that opened it. This one lists the screen's keys, how to move in its tables
and fields, and the app's; `?` and escape close it.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Input, Log, OptionList, TextArea

from stonks_tui.screens.footer import screen_keys
from stonks_tui.screens.literal import Static


def key_lines(screen: Screen) -> list[tuple[str, str]]:
    """(key as shown, what it does) for the keys that work on `screen` now."""
    app = screen.app
    lines = [(" ".join(dict.fromkeys(app.get_key_display(one) for one in same)), b.description)
             for b, enabled, same in screen_keys(screen, shown_only=False)
             if enabled and b.action not in ("keys", "app.keys")]
    # Moving about: only what the screen has. (The widgets' own bindings are many and in Textual's words.)
    if screen.query(OptionList):
        lines.append(("↑ ↓ ⏎", "choose an action"))
    if screen.query(DataTable):
        lines.append(("↑ ↓ pgup pgdn", "move in the table"))
    if screen.query(Input):
        lines.append(("tab ⇧tab", "next / previous field"))
    if screen.query(Log) or screen.query(TextArea):
        lines.append(("tab", "move to the next pane (its arrows scroll it)"))
    if app.ENABLE_COMMAND_PALETTE:
        lines.append(("^p", "commands: install, settings, verify, teardown, welcome"))
    lines.append(("? f1 esc", "close this panel"))
    return lines


class KeysPanel(ModalScreen[None]):
    DEFAULT_CSS = """
    KeysPanel { align: right top; background: $background 40%; }
    #keys-panel { width: 64; max-width: 100%; height: auto; max-height: 100%; border: round $accent;
                  background: $surface; padding: 0 1; }
    #keys-panel .keys-title { text-style: bold; }
    """
    BINDINGS = [Binding("question_mark,escape,f1", "dismiss", "Close", show=False)]

    def __init__(self, screen: Screen) -> None:
        super().__init__()
        self.lines = key_lines(screen)
        self.screen_name = type(screen).__name__.removesuffix("Screen")

    def compose(self) -> ComposeResult:
        from rich.table import Table
        from rich.text import Text

        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()  # the words wrap under themselves, not under the keys
        for key, what in self.lines:
            table.add_row(Text(key), Text(what))
        with Vertical(id="keys-panel"):
            yield Static(f"Keys — {self.screen_name}", classes="keys-title")
            yield Static(table, id="keys-list")
