"""Resume: shown on start when the journal holds an unfinished install — what is done, what failed or was
interrupted, the last error — with Resume, Start over (re-check everything), Teardown and Quit.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen

from stonks_tui.journal import DONE
from stonks_tui.screens.footer import WizardFooter
from stonks_tui.screens.literal import Static
from stonks_tui.screens.title_bar import TitleBar
from stonks_tui.screens.wrapped_table import WrappedTable

STATE_WORDS = {"done": "done", "failed": "failed", "interrupted": "interrupted", "running": "interrupted",
               "pending": "not started", "blocked": "waiting on a failed step", "needs-operator": "needs you"}


class ResumeScreen(Screen[None]):
    BINDINGS = [Binding("r,enter", "resume", "Resume", priority=True), Binding("s", "start_over", "Start over"),
                Binding("t", "teardown", "Teardown"), Binding("q", "app.quit", "Quit"),
                Binding("escape", "app.pop_screen", "Back")]

    def compose(self) -> ComposeResult:
        runner = self.app.runner  # type: ignore[attr-defined]
        journal = runner.journal("install")
        run = journal.run
        yield TitleBar()
        yield Static(f"An install on {runner.context} did not finish (started {run.get('started_at', '?')}, "
                     f"{run.get('status', '?')}). Finished steps are re-checked, not redone.", classes="title")
        rows = []
        for sid, rec in journal.steps.items():
            mark = "✓" if rec.state == DONE else ("·" if rec.state == "pending" else "✗")
            rows.append((mark, sid, STATE_WORDS.get(rec.state, rec.state), str(rec.attempts),
                         (rec.last_error or "")[:300]))
        # The last error wraps in its row (it was cut at 80 columns: "Gitea answered 500 Intern").
        table = WrappedTable(["", "step", "state", "tries", "last error"], shares=[1.0], id="resume-steps")
        table.data = rows
        yield table
        last = [rec for rec in journal.steps.values() if rec.last_error and rec.state != DONE]
        if last:
            newest = max(last, key=lambda r: r.finished_at or r.started_at or "")
            text = f"last error: {newest.last_error}" + (f"\nhint: {newest.hint}" if newest.hint else "")
        else:
            text = "no step failed: the run was stopped before it finished"
        yield Static(text, id="resume-error")
        yield Static("r resume · s start over (prerequisites, settings, all steps re-checked) · t teardown · q quit",
                     classes="hint")
        yield WizardFooter()

    def action_resume(self) -> None:
        self.app.when_ready(self._resume)  # type: ignore[attr-defined]

    def _resume(self) -> None:
        from stonks_tui.screens.progress import ProgressScreen

        runner = self.app.runner  # type: ignore[attr-defined]
        self.app.switch_screen(ProgressScreen(runner.plan("install")))

    def action_start_over(self) -> None:
        self.app.when_ready(self._start_over)  # type: ignore[attr-defined]

    def _start_over(self) -> None:
        from stonks_tui.screens.prerequisites import PrerequisitesScreen

        self.app.switch_screen(PrerequisitesScreen())

    def action_teardown(self) -> None:
        self.app.when_ready(self._teardown)  # type: ignore[attr-defined]

    def _teardown(self) -> None:
        from stonks_tui.screens.teardown import TeardownScreen

        self.app.switch_screen(TeardownScreen())
