"""The delivery proof in the wizard (Done screen, `d`): `verify --delivery` in its own pane, each link shown live as
it is reached; escape cancels the proof (every wait stops) and goes back. `p` proves again and promotes into paper;
`b` opens the market-hours gate of a stage for a while (break-glass: who, why, until when — recorded).

Remote text (step names, Kargo's and Woodpecker's messages, log tails) is shown literally: rich Text, no markup.
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, RadioButton, RadioSet, RichLog

from stonks_tui.screens.footer import WizardFooter
from stonks_tui.screens.literal import Label, Static
from stonks_tui.screens.title_bar import TitleBar


class DeliveryScreen(Screen[None]):
    BINDINGS = [Binding("escape", "back", "Back"), Binding("r", "prove", "Prove again"),
                Binding("p", "promote", "Promote to paper"), Binding("b", "break_glass", "Break-glass")]

    def __init__(self) -> None:
        super().__init__()
        self.running = False

    def compose(self) -> ComposeResult:
        yield TitleBar()
        yield Static("Delivery: a commit on main to an image, Freight and beta", classes="title")
        # Wrapped to the pane (an 80-column terminal reads each link whole); Text, so nothing is taken as markup.
        yield RichLog(id="delivery-log", wrap=True, markup=False, highlight=False, min_width=20)
        yield Static("starting…", id="delivery-status", classes="hint")
        yield WizardFooter()

    def on_mount(self) -> None:
        self.prove(None)

    @work(exclusive=True, exit_on_error=False, group="delivery")
    async def prove(self, promote: str | None) -> None:
        from stonks_tui.checks.delivery import Link

        runner = self.app.runner  # type: ignore[attr-defined]
        log = self.query_one("#delivery-log", RichLog)
        status = self.query_one("#delivery-status", Static)
        log.clear()
        self.running = True
        self.refresh_bindings()
        status.update("proving: a pipeline on main, then each link as it is reached · escape cancels")

        def report(link: Link) -> None:
            width = log.scrollable_content_region.width  # the pane's width (the console's would be 80)
            log.write(Text(link.line()), width=width if width > 20 else None)

        try:
            links = await runner.delivery(promote, report)
        except Exception as exc:
            status.update(f"the proof stopped: {type(exc).__name__}: {exc}")
            return
        finally:
            self.running = False
            self.refresh_bindings()
        failed = [link for link in links if link.status == "fail"]
        passed = sum(link.status == "pass" for link in links)
        status.update(f"delivery FAILED at {failed[0].name} ({passed} links passed) · r proves again" if failed else
                      f"delivery proven ({passed} links passed) · p promotes into paper · b break-glass")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("prove", "promote", "break_glass"):
            return not self.running  # one proof at a time; keys shown only when they work
        return True

    def action_prove(self) -> None:
        self.prove(None)

    def action_promote(self) -> None:
        self.prove("paper")

    def action_break_glass(self) -> None:
        self.app.push_screen(BreakGlassScreen())

    def action_back(self) -> None:
        self.workers.cancel_group(self, "delivery")  # every wait of the proof ends with its task
        self.app.pop_screen()


class BreakGlassScreen(ModalScreen[None]):
    """Who opens the gate comes from the session (user@host); the reason and the length are typed."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Cancel"), Binding("ctrl+s", "open", "Open the gate",
                                                                       priority=True)]

    def compose(self) -> ComposeResult:
        with Vertical(id="break-glass"):
            yield Static("Break-glass: let promotions into a stage run during US market hours for a while. "
                         "Recorded with your name, the time, the reason and the end; it ends by itself.",
                         id="break-glass-text")
            with RadioSet(id="bg-stage"):
                yield RadioButton("paper", value=True)
                yield RadioButton("live")
            with Horizontal(classes="field"):
                yield Label("reason", classes="field-name")
                yield Input(placeholder="why, in a few words", id="bg-reason", compact=True)
            with Horizontal(classes="field"):
                yield Label("for", classes="field-name")
                yield Input("30m", id="bg-for", compact=True, select_on_focus=False)
            yield Static("", id="bg-error", classes="field-error")
            yield Static("ctrl+s opens the gate · escape cancels", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#bg-reason", Input).focus()

    def on_input_submitted(self) -> None:
        self.action_open()

    def action_open(self) -> None:
        self.open_gate()

    @work(exclusive=True, exit_on_error=False)
    async def open_gate(self) -> None:
        from datetime import UTC, datetime

        from stonks_tui.commands.delivery import operator, parse_minutes

        error = self.query_one("#bg-error", Static)
        reason = " ".join(self.query_one("#bg-reason", Input).value.split())
        pressed = self.query_one("#bg-stage", RadioSet).pressed_button
        stage = str(pressed.label) if pressed is not None else "paper"
        try:
            minutes = parse_minutes(self.query_one("#bg-for", Input).value)
            if not reason or len(reason) > 300 or any(ord(c) < 32 for c in reason):
                raise ValueError("reason: say why in a few words (1-300 printable characters)")
        except ValueError as exc:
            error.update(str(exc))
            error.add_class("shown")
            return
        runner = self.app.runner  # type: ignore[attr-defined]
        try:
            entry = await runner.break_glass(stage, by=operator(), reason=reason, minutes=minutes,
                                             now=datetime.now(UTC))
        except Exception as exc:
            error.update(f"could not open the gate: {exc}")
            error.add_class("shown")
            return
        self.app.pop_screen()
        self.app.notify(f"{stage}: promotions may run until {entry['until']} (UTC); recorded", timeout=8)
