"""Progress: the step list (state, title, duration) beside a live log pane for the selected step.

The log pane follows the work: the step that started last, and when it ends, the newest step still running —
until the operator picks a step with the keys or the mouse (`f` follows again). Lines wrap to the pane's width;
`z` gives the log the whole width. Each step keeps its own lines (capped), and lines reach the pane in batches
from a 30 Hz timer, never one write per line. Under the log, the workloads a helm step waits on, with their ready
replicas as the step's watches see them. The status line counts the steps done and the time the run has taken.
"""

from __future__ import annotations

from collections import deque

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Log

from stonks_tui.engine.events import (
    Event,
    LogLine,
    PlanFinished,
    PlanStarted,
    StepFinished,
    StepStarted,
    WorkloadStatus,
)
from stonks_tui.engine.plan import Plan
from stonks_tui.errors import StonksError
from stonks_tui.screens.footer import WizardFooter
from stonks_tui.screens.literal import Static, cell
from stonks_tui.screens.title_bar import TitleBar
from stonks_tui.screens.wrap import wrap_lines

ICONS = {"pending": "·", "running": "…", "ok": "✓", "unchanged": "✓", "failed": "✗", "blocked": "-",
         "interrupted": "!", "needs-operator": "?"}
MAX_LINES = 5000
TIME_WIDTH = 6  # "999.9s", "12m05s"
FINISHED = ("ok", "unchanged", "failed", "blocked", "interrupted", "needs-operator")


def duration(seconds: float) -> str:
    """A step's time with its unit, in the column's six cells: `0.4s`, `11.2s`, `4m07s`."""
    if seconds < 100:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes < 100 else f"{minutes // 60}h{minutes % 60:02d}m"


class StepTable(DataTable[str]):
    """The step list. It tells a move the operator made (keys, mouse) from the screen's own following, whose
    RowHighlighted messages arrive later and in any number (a count of them went wrong at once)."""

    operator_moved = False

    def _by_operator(self) -> None:
        self.operator_moved = True

    def action_cursor_up(self) -> None:
        self._by_operator()
        super().action_cursor_up()

    def action_cursor_down(self) -> None:
        self._by_operator()
        super().action_cursor_down()

    def action_page_up(self) -> None:
        self._by_operator()
        super().action_page_up()

    def action_page_down(self) -> None:
        self._by_operator()
        super().action_page_down()

    def action_scroll_top(self) -> None:
        self._by_operator()
        super().action_scroll_top()

    def action_scroll_bottom(self) -> None:
        self._by_operator()
        super().action_scroll_bottom()

    async def _on_click(self, event: object) -> None:
        self._by_operator()
        await super()._on_click(event)  # type: ignore[arg-type]


class ProgressScreen(Screen[None]):
    AUTO_FOCUS = "#steps"  # arrows pick the step whose log is shown
    BINDINGS = [Binding("c", "cancel", "Cancel"), Binding("r", "retry", "Retry"),
                Binding("f", "follow", "Follow"), Binding("z", "zoom", "Wide log"),
                Binding("l", "log_path", "Log file"), Binding("w", "woodpecker", "Woodpecker token"),
                Binding("enter", "next", "Next", priority=True), Binding("escape", "back", "Back"),
                # While a run goes, escape cannot go back; it says what can be done instead (not in the footer).
                Binding("escape", "while_running", "What can be done while it runs", show=False)]

    def __init__(self, plan: Plan, *, attach: bool = False) -> None:
        super().__init__()
        self.plan = plan
        self.attach = attach  # follow the engine process's live run instead of starting one
        self.states: dict[str, str] = {s.id: "pending" for s in plan}
        self.lines: dict[str, deque[str]] = {s.id: deque(maxlen=MAX_LINES) for s in plan}
        self.pending: dict[str, deque[str]] = {}  # lines not yet in the pane (capped like the pane)
        self.workloads: dict[str, dict[str, tuple[int, int]]] = {}  # step -> "Kind name" -> (ready, wanted)
        self.errors: dict[str, str] = {}  # step -> its last error, as the run reported it
        self.selected: str | None = None
        self.follow = True
        self.running = False
        self.finished: PlanFinished | None = None
        self.vanished = False  # the engine process ended without the run's end
        self.started_order: list[str] = []  # steps in the order they started (the newest last)
        self.plan_started_at: float | None = None  # wall time, from the engine's event (right for a late client)
        self.plan_label = plan.name
        self._wrapped_at = 0  # the pane width the shown lines were wrapped for

    def compose(self) -> ComposeResult:
        yield TitleBar()
        with Horizontal(id="progress-body"):
            table = StepTable(id="steps", cursor_type="row")
            # Fixed widths, the table as wide as they need (CSS): at 80 columns names were cut
            # ("woodpecker-network-polic") and the time column showed "0.".
            table.add_column(" ", key="icon", width=1)
            table.add_column("step", key="step", width=max(len(step.id) for step in self.plan))
            table.add_column("time", key="time", width=TIME_WIDTH)
            for step in self.plan:
                table.add_row(ICONS["pending"], cell(step.id), "", key=step.id)
            yield table
            with Vertical(id="progress-right"):
                yield Log(id="log", max_lines=MAX_LINES, auto_scroll=True)
                # Text, not a table: a StatefulSet's long name wraps instead of being cut at 80 columns.
                yield Static("", id="workloads")
        yield Static("", id="failure")
        yield Static("starting…", id="status", classes="hint")
        yield WizardFooter()

    def on_mount(self) -> None:
        self.query_one("#workloads").border_title = "workloads the step waits on"
        self.set_interval(1 / 30, self.flush_log)
        self.set_interval(1.0, self.show_status)
        self.start()

    # -- running ------------------------------------------------------------------------------------------
    @work(exclusive=True, exit_on_error=False, group="engine")
    async def start(self) -> None:
        runner = self.app.runner  # type: ignore[attr-defined]
        self.running = True
        self.finished = None
        self.vanished = False
        self.query_one("#failure", Static).remove_class("shown")
        self.refresh_bindings()
        summary = None
        try:
            if self.attach:
                self.attach = False  # Retry afterwards starts a run of its own
                summary = await runner.attach([self.listen])
            else:
                summary = await runner.run(self.plan, [self.listen])
        except StonksError as exc:  # lock held, journal unreadable, the engine failed (a full disk): say so
            self.show_failure(exc.message, exc.hint)
            started = self.plan_started_at is not None
            self.query_one("#status", Static).update(f"{self.plan.name} stopped: the engine failed · r resumes · "
                                                     "escape: back" if started else "not started")
            if started:
                self.vanished = True  # the clock stops; r resumes (finished steps are not redone)
        finally:
            self.running = False
            self.refresh_bindings()
        if summary is not None and summary.vanished and self.finished is None:
            self.vanished = True  # the clock stops now; the words wait for the events still queued
            self.app.call_later(self.engine_went_away)  # the app's queue: after the engine events posted there

    def engine_went_away(self) -> None:
        """The engine process ended without the run's end (SIGKILL, OOM): the screen says so and stops its
        clocks; r resumes (finished steps are not redone). It used to go on ticking, with c doing nothing."""
        self.vanished = True
        table = self.query_one("#steps", DataTable)
        for sid, state in self.states.items():
            if state == "running":
                self.states[sid] = "interrupted"
                table.update_cell(sid, "icon", ICONS["interrupted"])
        self.show_failure(f"the engine process running the {self.plan.name} went away before the run ended (was it "
                          "killed?)", f"r resumes it (finished steps are not redone); journal: "
                                      f"{self.app.runner.journal(self.plan.name).path}")  # type: ignore[attr-defined]
        self.query_one("#status", Static).update(f"{self.plan.name} stopped: the engine process went away · r resumes "
                                                 "· escape: back")
        self.refresh_bindings()

    def listen(self, event: Event) -> None:
        """The engine's listener. It runs on this app's loop (the engine is an async worker), so a log line —
        the flood case: helm can print 100k+ lines — is only appended to its step's capped buffer here; the pane
        takes them in batches at 30 Hz. The few other events go through Textual's message queue."""
        if isinstance(event, LogLine):
            self.lines[event.step_id].append(event.line)
            if event.step_id == self.selected:
                self.pending.setdefault(event.step_id, deque(maxlen=MAX_LINES)).append(event.line)
            return
        self.app.engine_listener(event)  # type: ignore[attr-defined]

    def on_engine_event(self, message: object) -> None:
        event = message.event  # type: ignore[attr-defined]
        table = self.query_one("#steps", DataTable)
        if isinstance(event, PlanStarted):
            self.plan_started_at = event.at
            self.plan_label = event.plan
            self.show_status()
        elif isinstance(event, StepStarted):
            self.states[event.step_id] = "running"
            if event.step_id in self.started_order:
                self.started_order.remove(event.step_id)
            self.started_order.append(event.step_id)
            table.update_cell(event.step_id, "icon", ICONS["running"])
            if self.follow:
                self.select(event.step_id)
            self.show_status()
        elif isinstance(event, WorkloadStatus):
            self.workloads.setdefault(event.step_id, {})[f"{event.kind} {event.name}"] = (event.ready, event.wanted)
            if event.step_id == self.selected:
                self.show_workloads()
            return
        elif isinstance(event, StepFinished):
            self.states[event.step_id] = event.outcome
            table.update_cell(event.step_id, "icon", ICONS[event.outcome])
            if event.duration:
                table.update_cell(event.step_id, "time", duration(event.duration))
            if self.follow and event.step_id == self.selected and (running := self.running_steps()):
                self.select(running[-1])  # the work goes on there
            self.show_status()
            if event.outcome in ("failed", "needs-operator"):
                self.errors[event.step_id] = event.error
                self.lines[event.step_id].append(f"{event.outcome}: {event.error}")
                self.show_failure(f"{event.step_id}: {event.error}", event.hint)
                self.follow = False
                self.select(event.step_id)
        elif isinstance(event, PlanFinished):
            self.finished = event
            self.running = False  # the run is over; what needs the cluster next waits for the engine to let go
            if self.states.get("woodpecker-activate") == "needs-operator" and not event.interrupted:
                self.call_after_refresh(self.ask_token, True)
            self.show_status()
            parts = ", ".join(f"{n} {k}" for k, n in event.counts.items() if n)
            word = "interrupted" if event.interrupted else ("finished" if event.ok else "stopped")
            follow_up = ("enter: verify and finish" if event.ok else
                         "r retries (finished steps are not redone) · escape: back, resume later")
            self.query_one("#status", Static).update(f"{event.plan} {word} in {event.duration:.1f}s ({parts}) · "
                                                     f"{follow_up}")
            # Only here: the keys on offer change when the run ends. Refreshing them on every event made the
            # footer recompose dozens of times, a backlog that delayed the next key press by ~0.3 s.
            self.refresh_bindings()

    def running_steps(self) -> list[str]:
        """The steps running now, in the order they started (the newest last)."""
        return [sid for sid in self.started_order if self.states.get(sid) == "running"]

    def show_status(self) -> None:
        """`install · 7/19 done · running: argocd, kargo · 1:23` — refreshed each second while the run goes."""
        if self.finished is not None or self.plan_started_at is None or self.vanished:
            return  # the run has ended (or its engine went): the clock stops
        import time

        done = sum(1 for state in self.states.values() if state in FINISHED)
        running = self.running_steps()
        elapsed = max(0, int(time.time() - self.plan_started_at))
        text = f"{self.plan_label} · {done}/{len(self.states)} done"
        if running:
            text += " · running: " + ", ".join(running[-3:]) + (f" (+{len(running) - 3})" if len(running) > 3 else "")
        text += f" · {elapsed // 60}:{elapsed % 60:02d}"
        if not self.follow:
            text += " · f follows the work again"
        self.query_one("#status", Static).update(text)

    def show_failure(self, message: str, hint: str) -> None:
        failure = self.query_one("#failure", Static)
        failure.update(f"{message}\nhint: {hint}" if hint else message)
        failure.add_class("shown")

    # -- the log pane -------------------------------------------------------------------------------------
    def select(self, step_id: str) -> None:
        if step_id == self.selected:
            return
        self.selected = step_id
        self.query_one(Log).border_title = f"log: {step_id}"
        self.rewrap()
        self.show_workloads()
        table = self.query_one("#steps", DataTable)
        row = table.get_row_index(step_id)
        if table.cursor_row != row:
            table.move_cursor(row=row)

    def show_workloads(self) -> None:
        pane = self.query_one("#workloads", Static)
        rows = self.workloads.get(self.selected or "", {})
        pane.update("\n".join(f"{'✓' if ready >= wanted else '…'} {ready}/{wanted}  {name}"
                              for name, (ready, wanted) in sorted(rows.items())))
        pane.set_class(bool(rows), "shown")

    def pane_width(self) -> int:
        return self.query_one(Log).scrollable_content_region.width

    def rewrap(self) -> None:
        """The selected step's lines, wrapped to the pane as it is now. They include the ones not yet flushed,
        which are dropped from the flush (a rewrap on a resize used to show those twice)."""
        log = self.query_one(Log)
        self._wrapped_at = self.pane_width()
        log.clear()
        if self.selected:
            self.pending.pop(self.selected, None)
            log.write_lines(wrap_lines(list(self.lines[self.selected]), self._wrapped_at))

    def flush_log(self) -> None:
        if self.pane_width() != self._wrapped_at:
            self.rewrap()  # the pane's width changed (zoom, a terminal resize): lines wrap anew
            return
        if self.selected and self.pending.get(self.selected):
            self.query_one(Log).write_lines(wrap_lines(list(self.pending.pop(self.selected)), self._wrapped_at))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        table = self.query_one("#steps", StepTable)
        if event.data_table is not table or not table.operator_moved:
            return  # our own following (or the workloads table), not the operator's choice
        table.operator_moved = False
        key = event.row_key.value if event.row_key else None
        if key and key != self.selected:
            self.follow = False  # the operator chose a step: stop following
            self.show_status()
            self.select(key)

    # -- keys ---------------------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        done = self.finished is not None and not self.running
        if action == "cancel":
            return self.running
        if action == "retry":
            if self.vanished and not self.running:
                return True
            return done and not self.finished.ok  # type: ignore[union-attr]
        if action == "next":
            return done and self.finished.ok  # type: ignore[union-attr]
        if action == "back":
            return not self.running  # hidden while the run goes: escape explains instead
        if action == "while_running":
            return self.running
        if action == "woodpecker":
            return done and self.states.get("woodpecker-activate") == "needs-operator"  # hidden unless needed
        return True

    def action_while_running(self) -> None:
        runner = self.app.runner  # type: ignore[attr-defined]
        leave = (f"ctrl+q leaves the wizard and the run goes on ({runner.command('attach')} follows it again)"
                 if getattr(runner, "spawner", None) is not None else "ctrl+q stops it and leaves")
        self.notify(f"The {self.plan.name} is running, so there is no going back yet: c cancels it (finished steps "
                    f"are kept and resume next time); {leave}.", title="Still running", timeout=8)

    def action_follow(self) -> None:
        self.follow = True
        if running := self.running_steps():
            self.select(running[-1])
        self.show_status()

    def action_zoom(self) -> None:
        """The log over the whole width (at 80 columns the pane beside the step list has ~46)."""
        self.query_one("#steps").toggle_class("hidden")

    def action_cancel(self) -> None:
        self.app.runner.cancel()  # type: ignore[attr-defined]
        self.query_one("#status", Static).update("cancelling: running steps stop and will resume next time…")

    def action_retry(self) -> None:
        self.follow = True
        for sid, state in self.states.items():
            if state not in ("ok", "unchanged"):
                self.states[sid] = "pending"
                self.query_one("#steps", DataTable).update_cell(sid, "icon", ICONS["pending"])
        self.start()

    def action_log_path(self) -> None:
        runner = self.app.runner  # type: ignore[attr-defined]
        step = self.selected or ""
        self.notify(f"full log: {runner.log_dir(self.plan.name) / (step + '.log')}", timeout=10)

    def action_woodpecker(self) -> None:
        self.ask_token(False)

    def ask_token(self, by_run: bool) -> None:
        from stonks_tui.screens.woodpecker import WoodpeckerScreen

        def given(token_given: bool | None) -> None:
            if token_given:
                self.action_retry()

        if not isinstance(self.app.screen, WoodpeckerScreen):
            error = self.errors.get("woodpecker-activate", "")
            self.app.push_screen(WoodpeckerScreen(error if "refused" in error else "", by_run=by_run), given)

    def action_next(self) -> None:
        from stonks_tui.screens.verify import VerifyScreen

        self.app.switch_screen(VerifyScreen(done=self.plan.name == "install"))

    def action_back(self) -> None:
        self.app.home()  # type: ignore[attr-defined]
