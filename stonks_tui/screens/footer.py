"""The footer every screen shows: the keys that work on this screen now, each once, always in the same order.

Textual's Footer orders keys by the focus chain (a focus move reordered them: `z` on Progress did), shows a key
twice when two bindings share a meaning (`q Quit` beside `^q Quit`), and keeps `^p palette` on the right, which
cut the last hints at 80 columns. This one ranks keys as the screen lists them, then the app's, shows one key per
action, and leaves the palette to the keys panel (`?`).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


def action_name(action: str) -> str:
    """`app.quit` and `quit` are one meaning."""
    return action.removeprefix("app.").removeprefix("screen.")


def screen_keys(screen: Screen, *, shown_only: bool = True) -> list[tuple[Binding, bool, list[Binding]]]:
    """The screen's keys that work now (check_action not False), then the app's: (binding, enabled, every binding
    of that meaning), one per action, in the order the screen and the app list them. Widgets' own keys (a table's
    arrows) are not here."""
    app = screen.app
    order: dict[tuple[str, str], int] = {}
    for rank, binding in enumerate([*_bindings(type(screen)), *_bindings(type(app))]):
        order.setdefault((binding.key, binding.action), rank)
    active = [(b, enabled) for _node, b, enabled, _tip in screen.active_bindings.values()
              if (b.key, b.action) in order and (b.show or not shown_only)]
    active.sort(key=lambda item: order[(item[0].key, item[0].action)])
    meanings: dict[str, tuple[Binding, bool, list[Binding]]] = {}
    for binding, enabled in active:
        if not binding.description:
            continue
        name = action_name(binding.action)
        if name in meanings:
            meanings[name][2].append(binding)
        else:
            meanings[name] = (binding, enabled, [binding])
    return list(meanings.values())


def _bindings(owner: type) -> list[Binding]:
    return list(Binding.make_bindings(getattr(owner, "BINDINGS", [])))  # "enter,y" → one Binding per key


class WizardFooter(Footer):
    def __init__(self) -> None:
        super().__init__(compact=False, show_command_palette=False)

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        keys = [(b, enabled) for b, enabled, _same in screen_keys(self.screen) if enabled]
        self.styles.grid_size_columns = len(keys)
        for binding, _enabled in keys:
            yield FooterKey(binding.key, self.app.get_key_display(binding), binding.description,
                            binding.action).data_bind(compact=Footer.compact)
