"""The plain console face: one line per event, for `install --yes`, logs and SSH sessions without a TUI."""

from __future__ import annotations

import sys
import time
from typing import TextIO

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
