"""The plain console face: one line per event, for `install --yes`, logs and SSH sessions without a TUI."""

from __future__ import annotations

import asyncio
import queue
import sys
import threading
import time
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


class ConsolePrinter:
    """Formats engine events as `[12:01:03] ✓ gitea-oauth-app  1.2s`. Log lines only when verbose."""

    def __init__(self, stream: TextIO | None = None, *, verbose: bool = True) -> None:
        self.stream = stream or sys.stdout
        self.verbose = verbose
        self.sym = _symbols(self.stream)

    def _out(self, at: float, text: str) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(at))
        self.stream.write(f"[{stamp}] {text}\n")
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

    def __init__(self, answer: Callable[[str, bool], None], stream: TextIO | None = None) -> None:
        self.answer = answer
        self.stream = stream or sys.stdout
        self.open: dict[str, str] = {}
        self.waiting: queue.Queue[str] = queue.Queue()
        self.reader: threading.Thread | None = None

    def __call__(self, msg: dict[str, Any]) -> None:
        qid = str(msg.get("id"))
        if msg.get("type") == "question":
            self.open[qid] = str(msg.get("text"))
            self.waiting.put(qid)
            if self.reader is None:
                self.reader = threading.Thread(target=self._prompts, args=(asyncio.get_running_loop(),),
                                               name="stonks-prompt", daemon=True)
                self.reader.start()
        elif self.open.pop(qid, None) is not None:  # answered elsewhere (or withdrawn) while we asked
            from stonks_tui.service.client import question_note

            print(question_note(msg), file=self.stream, flush=True)

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
