"""Settings: every setting, grouped, validated as it is typed, saved as the answers file.

The form never holds a secret (those are on the Credentials screen and go to the keyring). Leaving the screen
forward saves the answers file, so a run resumed later — by the wizard or `install --yes` — uses the same settings.
Escape goes back and discards the edits.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Input, Select, Switch

from stonks_tui.errors import UsageError
from stonks_tui.screens.literal import Label, Static
from stonks_tui.screens.title_bar import TitleBar
from stonks_tui.settings import CHOICES, FIELD_NAMES, GROUP_TITLES, Settings, coerce, save_answers, validate
from stonks_tui.words import count, verb


class SettingsScreen(Screen[bool]):
    BINDINGS = [Binding("ctrl+n", "next", "Next", priority=True), Binding("ctrl+s", "save", "Save answers"),
                Binding("escape", "back", "Back (discard)")]

    def __init__(self, then: str | None) -> None:
        super().__init__()
        self.then = then  # "credentials": continue the install flow; None: return to the caller
        self.errors: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        settings: Settings = self.app.runner.settings  # type: ignore[attr-defined]
        yield TitleBar()
        yield Static("Settings — tab moves between fields; errors show as you type", classes="title")
        with VerticalScroll(id="settings-form"):
            group = None
            for f in fields(Settings):
                if f.metadata["group"] != group:
                    group = f.metadata["group"]
                    yield Static(GROUP_TITLES.get(group, group), classes="group")
                value = getattr(settings, f.name)
                with Horizontal(classes="field"):
                    yield Label(f.name, classes="field-name")
                    yield _editor(f.name, value)
                yield Static("", id=f"e-{f.name}", classes="field-error")
        yield Static("", id="field-help", classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#settings-form").query(".editor").first().focus()
        self.revalidate()

    # -- values -------------------------------------------------------------------------------------------
    def values(self) -> tuple[dict[str, Any], dict[str, str]]:
        """Every field's typed value, and the fields whose text is not even of the right type."""
        out: dict[str, Any] = {}
        bad: dict[str, str] = {}
        for widget in self.query(".editor"):
            name = str(widget.id)[2:]
            raw = widget.value
            try:
                out[name] = raw if isinstance(widget, (Switch, Select)) else coerce(name, raw, "the form")
            except UsageError as exc:
                bad[name] = exc.message.split(": ", 1)[-1]
        return out, bad

    def candidate(self) -> Settings:
        values, _ = self.values()
        return self.app.runner.settings.replace(**values)  # type: ignore[attr-defined]

    def revalidate(self) -> None:
        values, bad = self.values()  # fields of the wrong type keep their last good value for the rules below
        errors = {e.field: e.message for e in validate(self.app.runner.settings.replace(**values))}  # type: ignore[attr-defined]
        errors.update(bad)
        for name in set(self.errors) | set(errors):
            line = self.query_one(f"#e-{name}", Static)
            line.update(f"↑ {errors[name]}" if name in errors else "")
            line.set_class(name in errors, "shown")
        self.errors = errors

    def on_input_changed(self, _event: Input.Changed) -> None:
        self.revalidate()

    def on_switch_changed(self, _event: Switch.Changed) -> None:
        self.revalidate()

    def on_select_changed(self, _event: Select.Changed) -> None:
        self.revalidate()

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self.focus_next()

    def on_descendant_focus(self, event: Any) -> None:
        widget: Widget = event.widget
        if widget.id and widget.id.startswith("f-"):
            name = widget.id[2:]
            meta = Settings.__dataclass_fields__[name].metadata
            self.query_one("#field-help", Static).update(f"{name}: {meta['help']}")

    # -- keys ---------------------------------------------------------------------------------------------
    def _apply(self) -> bool:
        self.revalidate()
        if self.errors:
            first = next(name for name in FIELD_NAMES if name in self.errors)  # first in the form's order
            self.query_one(f"#f-{first}").focus()
            n = len(self.errors)
            self.notify(f"{count(n, 'setting')} {verb(n, 'needs')} attention, first: {first}: {self.errors[first]}",
                        severity="error", timeout=8)
            return False
        runner = self.app.runner  # type: ignore[attr-defined]
        runner.settings = self.candidate()
        if runner.answers_path is not None:
            save_answers(runner.settings, runner.answers_path)
        return True

    def action_save(self) -> None:
        if self._apply():
            where = self.app.runner.answers_path  # type: ignore[attr-defined]
            self.notify(f"saved to {where}" if where else "applied for this session")

    def action_next(self) -> None:
        if not self._apply():
            return
        if self.then == "credentials":
            from stonks_tui.screens.credentials import CredentialsScreen

            self.app.push_screen(CredentialsScreen())
        else:
            self.dismiss(True)

    def action_back(self) -> None:
        self.dismiss(False)


def _editor(name: str, value: Any) -> Widget:
    if isinstance(value, bool):
        return Switch(value=value, id=f"f-{name}", classes="editor")
    if name in CHOICES:
        return Select([(c, c) for c in CHOICES[name]], value=value, allow_blank=False, id=f"f-{name}",
                      classes="editor", compact=True)
    return Input(str(value), id=f"f-{name}", classes="editor", compact=True,
                 placeholder=Settings.__dataclass_fields__[name].metadata["help"])  # says what empty means
