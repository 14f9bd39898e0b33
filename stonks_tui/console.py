"""The plain console face: one line per event, for `install --yes`, logs and SSH sessions without a TUI."""

from __future__ import annotations

import asyncio
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TextIO

from stonks_tui.engine.events import Event, LogLine, PlanFinished, PlanStarted, StepFinished, StepStarted


def _symbols(stream: TextIO) -> dict[str, str]:
    enc = (getattr(stream, "encoding", None) or "ascii").lower()
    if "utf" in enc:
        return {"start": "…", "ok": "✓", "unchanged": "✓", "failed": "✗", "blocked": "·", "interrupted": "!",
                "needs-operator": "?"}
    return {"start": "..", "ok": "ok", "unchanged": "ok", "failed": "FAIL", "blocked": "--", "interrupted": "!!",
            "needs-operator": "??"}


HELD_LINES = 2_000  # the newest lines shown after a prompt is answered; the step logs keep them all


class ConsolePrinter:
    """Formats engine events as `[12:01:03] ✓ gitea-oauth-app  1.2s`. Log lines only when verbose."""

    def __init__(self, stream: TextIO | None = None, *, verbose: bool = True) -> None:
        self.stream = stream or sys.stdout
        self.verbose = verbose
        self.sym = _symbols(self.stream)
        self.held: deque[str] | None = None  # lines kept back while the operator answers a prompt
        self.dropped = 0

    def _out(self, at: float, text: str) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(at))
        if self.held is not None:
            if len(self.held) == self.held.maxlen:
                self.dropped += 1
            self.held.append(f"[{stamp}] {text}\n")
            return
        self.stream.write(f"[{stamp}] {text}\n")
        self.stream.flush()

    def hold(self) -> None:
        """Keep lines back (a question waits at the prompt: the run's lines would scroll it away)."""
        if self.held is None:
            self.held, self.dropped = deque(maxlen=HELD_LINES), 0

    def release(self) -> None:
        held, self.held = self.held, None
        if not held:
            return
        if self.dropped:
            self.stream.write(f"… {self.dropped} earlier lines were not kept while you answered (the step logs "
                              "have them)\n")
        self.stream.write("".join(held))
        self.stream.flush()

    def __call__(self, event: Event) -> None:
        if isinstance(event, PlanStarted):
            self._out(event.at, f"{event.plan}: {len(event.step_ids)} steps")
        elif isinstance(event, StepStarted):
            again = f" (attempt {event.attempt})" if event.attempt > 1 else ""
            self._out(event.at, f"{self.sym['start']} {event.step_id}  {event.title}{again}")
        elif isinstance(event, LogLine):
            if self.verbose:
                self._out(event.at, f"  {event.step_id} | {event.line}")
        elif isinstance(event, StepFinished):
            mark = self.sym[event.outcome]
            if event.outcome in ("ok", "unchanged"):
                tail = "  (already done)" if event.outcome == "unchanged" else ""
                self._out(event.at, f"{mark} {event.step_id}  {event.duration:.1f}s{tail}")
            elif event.outcome == "blocked":
                self._out(event.at, f"{mark} {event.step_id}  {event.error}")
            elif event.outcome == "needs-operator":
                self._out(event.at, f"{mark} {event.step_id}  needs you: {event.error}")
                if event.hint:
                    self._out(event.at, f"    next: {event.hint}")
            else:
                self._out(event.at, f"{mark} {event.step_id}  {event.outcome}: {event.error}")
                if event.hint:
                    self._out(event.at, f"    hint: {event.hint}")
        elif isinstance(event, PlanFinished):
            parts = ", ".join(f"{n} {k}" for k, n in event.counts.items() if n)
            word = "interrupted" if event.interrupted else ("finished" if event.ok else "failed")
            self._out(event.at, f"{event.plan} {word} in {event.duration:.1f}s ({parts})")


class TerminalQuestions:
    """The engine's questions mid-run (a pending release, ARC's finalizers), answered at this terminal.

    One prompt at a time, read in a daemon thread (the event loop keeps printing the run; a prompt still waiting
    when the process ends does not hold it). A question another client answered first is said and skipped."""

    def __init__(self, answer: Callable[[str, bool], None], stream: TextIO | None = None,
                 printer: ConsolePrinter | None = None) -> None:
        self.answer = answer
        self.stream = stream or sys.stdout
        self.printer = printer  # held while a question is open, so the prompt stays where it is seen
        self.open: dict[str, str] = {}
        self.waiting: queue.Queue[str] = queue.Queue()
        self.reader: threading.Thread | None = None

    def __call__(self, msg: dict[str, Any]) -> None:
        qid = str(msg.get("id"))
        if msg.get("type") == "question":
            self.open[qid] = str(msg.get("text"))
            if self.printer is not None:
                self.printer.hold()
            self.waiting.put(qid)
            if self.reader is None:
                self.reader = threading.Thread(target=self._prompts, args=(asyncio.get_running_loop(),),
                                               name="stonks-prompt", daemon=True)
                self.reader.start()
        elif self.open.pop(qid, None) is not None:  # answered elsewhere (or withdrawn) while we asked
            from stonks_tui.service.client import question_note

            print(question_note(msg), file=self.stream, flush=True)
            self._release()

    def _prompts(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            qid = self.waiting.get()
            text = self.open.get(qid)
            if text is None:
                continue
            try:
                line = input(f"{text} [y/N] ")
            except (EOFError, OSError, KeyboardInterrupt):
                line = ""
            loop.call_soon_threadsafe(self._said, qid, line.strip().lower() in ("y", "yes"))

    def _said(self, qid: str, yes: bool) -> None:
        if self.open.pop(qid, None) is not None:
            self.answer(qid, yes)
            self._release()

    def _release(self) -> None:
        if not self.open and self.printer is not None:
            self.printer.release()
