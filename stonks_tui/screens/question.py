"""A question the run asks the operator mid-way (a release an interrupted helm left pending, ARC's finalizers):
yes or no, over whatever screen is showing.

The question comes from the engine process (any client attached may answer it; the first answer decides), so
one answered elsewhere — another wizard, `stonks-tui attach` at a prompt — closes here and says who answered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen

from stonks_tui.screens.footer import WizardFooter
from stonks_tui.screens.literal import Static
from stonks_tui.screens.unbidden import Unbidden

if TYPE_CHECKING:
    from textual.app import App


class QuestionScreen(Unbidden, ModalScreen[bool]):
    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="question"):
            yield Static("The run asks you", classes="title")
            yield Static(self.text, id="question-text")
            yield Static("y: yes, go on · n or escape: no (the step fails and says how to do it later); the step "
                         "waits for your answer", classes="hint")
        yield WizardFooter()

    def on_mount(self) -> None:
        self.mark_shown()  # a `y` typed before the question was on screen does not answer it

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class OperatorQuestions:
    """The wizard's side of the engine's questions: each shown as a QuestionScreen, answered through the runner;
    one answered by another client (or withdrawn: the run was cancelled) closes, with a notice saying so."""

    def __init__(self, app: App[Any], answer: Any) -> None:
        self.app = app
        self.answer = answer  # runner.answer(qid, yes)
        self.open: dict[str, QuestionScreen] = {}

    def __call__(self, msg: dict[str, Any]) -> None:
        qid = str(msg.get("id"))
        if msg.get("type") == "question":
            screen = QuestionScreen(str(msg.get("text")))
            self.open[qid] = screen
            self.app.push_screen(screen, lambda yes: self._answered_here(qid, bool(yes)))
            return
        screen = self.open.pop(qid, None)
        if screen is None:
            return  # our own answer coming back
        from stonks_tui.service.client import question_note

        said = question_note(msg)
        self.app.notify(said, timeout=10)
        if self.app.screen is screen:
            screen.dismiss(bool(msg.get("yes")))
        elif screen.is_attached:  # under another screen: it stays until reached, saying it is decided
            screen.query_one("#question-text", Static).update(f"{screen.text}\n\n{said}: y, n or escape closes this")

    def _answered_here(self, qid: str, yes: bool) -> None:
        if self.open.pop(qid, None) is not None:
            self.answer(qid, yes)
