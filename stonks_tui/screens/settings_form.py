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
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, Select, Switch

from stonks_tui.errors import UsageError
from stonks_tui.screens.footer import WizardFooter
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
        self.typed = False  # edits count once the form has mounted
        self.rest: list[list[Widget]] = []  # the groups still to mount
        self.mounting = self.leaving = False
        self.pending_action = ""  # a key pressed while the form was still opening

    def compose(self) -> ComposeResult:
        yield TitleBar()
        yield Static("Settings — tab moves between fields; errors show as you type", classes="title")
        # One grid (name | editor), no container per field and no error line until there is an error; only the
        # first group is composed with the screen, the others are mounted right after its first frame: the keys
        # are there in a fraction of the time they took (bench.settings_keys).
        with VerticalScroll(id="settings-form"):
            yield from self._rows(first=True)[0]
        yield Static("", id="field-help", classes="hint")
        yield WizardFooter()

    def _rows(self, *, first: bool) -> list[list[Widget]]:
        """The form's rows, group by group: the first group alone, or the others."""
        settings: Settings = self.app.runner.settings  # type: ignore[attr-defined]
        groups: list[list[Widget]] = []
        group = None
        for f in fields(Settings):
            if f.metadata["group"] != group:
                group = f.metadata["group"]
                groups.append([Static(GROUP_TITLES.get(group, group), classes="group")])
            groups[-1] += [Label(f.name, classes="field-name"), _editor(f.name, getattr(settings, f.name))]
        return groups[:1] if first else groups[1:]

    AUTO_FOCUS = "#settings-form .editor"  # the first field, focused once (each focus move restyles the form)

    def on_mount(self) -> None:
        self.rest = self._rows(first=False)
        self.set_timer(0.05, self._mount_rest)  # after the first frame and the footer's keys are drawn

    async def _mount_rest(self) -> None:
        if not self.is_attached:
            return  # left already (escape right away)
        if self.app.screen is not self:  # another screen on top (the keys panel): once it is gone
            self.set_timer(0.05, self._mount_rest)
            return
        # One group at a time, each after a frame: keys pressed meanwhile are handled between them.
        self.mounting = True
        try:
            await self.query_one("#settings-form").mount_all(self.rest.pop(0))
        finally:
            self.mounting = False
        if self.leaving:  # escape came while a group mounted: leave now that it has (a Select mounting in a
            self.dismiss(False)  # screen being removed stopped the wizard)
            return
        if self.rest:
            self.call_after_refresh(self._mount_rest)
            return
        # Every field posts Changed as it mounts: those ~60 messages are not edits (each one revalidated it all).
        self.call_after_refresh(self._editing)

    def _editing(self) -> None:
        if not self.is_attached:
            return
        self.typed = True
        self.revalidate()  # an edit made before now is seen
        if self.pending_action:
            action, self.pending_action = self.pending_action, ""
            getattr(self, f"action_{action}")()

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
            lines = self.query(f"#e-{name}")
            if name not in errors:
                lines.remove()
            elif lines:
                lines.first(Static).update(f"↑ {errors[name]}")
            else:  # the line goes under its field, across both columns
                self.query_one("#settings-form").mount(Static(f"↑ {errors[name]}", id=f"e-{name}",
                                                              classes="setting-error"),
                                                       after=self.query_one(f"#f-{name}"))
        self.errors = errors

    def on_input_changed(self, _event: Input.Changed) -> None:
        if self.typed:
            self.revalidate()

    def on_switch_changed(self, _event: Switch.Changed) -> None:
        if self.typed:
            self.revalidate()

    def on_select_changed(self, _event: Select.Changed) -> None:
        if self.typed:
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

    def _when_open(self, action: str) -> bool:
        """ctrl+n or ctrl+s while the form's last groups are still mounting (a fraction of a second): done as soon
        as they are, not refused (the operator's key is kept)."""
        if self.typed:
            return True
        self.pending_action = action
        return False

    def action_save(self) -> None:
        if not self._when_open("save"):
            return
        if self._apply():
            where = self.app.runner.answers_path  # type: ignore[attr-defined]
            self.notify(f"saved to {where}" if where else "applied for this session")

    def action_next(self) -> None:
        if not self._when_open("next") or not self._apply():
            return
        if self.then == "credentials":
            from stonks_tui.screens.credentials import CredentialsScreen

            self.app.push_screen(CredentialsScreen())
        else:
            self.dismiss(True)

    def action_back(self) -> None:
        if self.mounting:
            self.leaving = True
            return
        self.dismiss(False)


def _editor(name: str, value: Any) -> Widget:
    if isinstance(value, bool):
        return Switch(value=value, id=f"f-{name}", classes="editor")
    if name in CHOICES:
        return Select([(c, c) for c in CHOICES[name]], value=value, allow_blank=False, id=f"f-{name}",
                      classes="editor", compact=True)
    # A key typed as the field takes focus adds to the value; it never replaces the whole of it (End A did).
    return Input(str(value), id=f"f-{name}", classes="editor", compact=True, placeholder=placeholder(name),
                 select_on_focus=False)


def placeholder(name: str) -> str:
    """What an empty field means, short enough for the field at 80 columns (the whole help is on the line below
    the form): `empty: https://<host>`."""
    help_text = Settings.__dataclass_fields__[name].metadata["help"]
    _, empty, meaning = help_text.partition("; empty = ")
    return f"empty: {meaning}" if empty else help_text
