"""The title line at the top of every screen.

Textual's Header is not used: its title watcher can fire after the screen that held it was replaced (a screen
switched right after it mounted — start-up finishing while a key waits, or the unlock screen), which raises
NoMatches and stops the app (Textual 8.2). This line has no watcher: the title is fixed when it is composed.
"""

from __future__ import annotations

from stonks_tui.screens.literal import Static


class TitleBar(Static):
    DEFAULT_CSS = """
    TitleBar { dock: top; height: 1; background: $panel; color: $foreground; text-style: bold; padding: 0 1; }
    """

    def on_mount(self) -> None:
        self.update(f"{self.app.title} — {self.app.sub_title}")
