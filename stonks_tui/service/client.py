"""A client of the engine process: start one for a plan (detached from this terminal), attach to it, cancel it.

The install goes on when the client goes (a dropped SSH session, a killed tmux): only the engine holds the lock
and the journal. `attach` replays the run so far from the engine's backlog, then follows it live.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stonks_tui.engine.events import Event, LogLine, PlanFinished, StepFinished
from stonks_tui.errors import LockHeld, StonksError, UsageError
from stonks_tui.service import protocol

START_TIMEOUT = 90.0  # the engine's start: the demo's world, the keyring's Argon2, the plan


@dataclass
class Attached:
    """What a client saw of a run: enough to say how it ended, like the in-process RunSummary."""

    exit_code: int | None = None
    ok: bool = False
    interrupted: bool = False
    outcomes: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    fatal: StonksError | None = None  # the engine itself failed: its message, for this client to say


async def _messages(reader: asyncio.StreamReader):  # type: ignore[no-untyped-def]
    """The engine's JSON lines, read in large chunks (a 100k-line backlog line by line costs most of a second).
    Ends when the engine closes or goes away (killed; a last line cut short is not read): then how the run ended is
    unknown. A whole line that cannot be read is skipped."""
    pending = b""
    while True:
        try:
            chunk = await reader.read(1 << 20)
        except (ConnectionError, OSError):
            return
        if not chunk:
            return
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        for line in lines:
            if line:
                try:
                    message = json.loads(line)
                except ValueError:  # a whole line that is not JSON (or an integer of thousands of digits)
                    continue
                yield message


class EngineConnection:
    def __init__(self, context_dir: Path) -> None:
        self.context_dir = context_dir
        self.writer: asyncio.StreamWriter | None = None
        self.finished = False  # PlanFinished read: the run is over, whatever happens to this connection now
        self._unsent: list[dict[str, Any]] = []

    async def attach(self, listeners: list[Callable[[Event], None]], notes: Callable[[str], None] | None = None,
                     questions: Callable[[dict[str, Any]], None] | None = None) -> Attached:
        """Replay and follow the run until it ends (or the engine goes away: then exit_code stays None).
        `questions` gets the engine's questions to the operator and their answers (the Runner says them as notes
        to a face that cannot answer)."""
        sock = protocol.connect(self.context_dir / protocol.SOCKET_NAME)
        reader, self.writer = await asyncio.open_unix_connection(sock=sock, limit=1 << 24)
        self.writer.write(protocol.encode({"hello": {"pid": os.getpid()}}))
        for message in self._unsent:  # a cancel (or answer) given before the connection was open
            self.writer.write(protocol.encode(message))
        self._unsent.clear()
        seen = Attached()
        try:
            async for msg in _messages(reader):
                # An engine of another version may send what this client does not know, or other types: what
                # cannot be read whole is left out (it was a traceback), the run is still followed to its end.
                if not isinstance(msg, dict):
                    continue
                kind = msg.get("type")
                if kind == "log":  # the backlog's batch of one step's lines
                    step, lines, ats = msg.get("step_id"), msg.get("lines"), msg.get("ats")
                    if not (isinstance(step, str) and isinstance(lines, list) and isinstance(ats, list)):
                        continue
                    for line, at in zip(lines, ats, strict=False):
                        if not isinstance(line, str) or type(at) not in (int, float):
                            continue
                        event = LogLine(step_id=step, line=line, at=float(at))
                        for listener in listeners:
                            listener(event)
                elif kind == "event":
                    event = protocol.decode_event(msg)
                    if event is None:
                        continue
                    if isinstance(event, StepFinished):
                        seen.outcomes[event.step_id] = event.outcome
                        if event.error:
                            seen.errors[event.step_id] = event.error
                    elif isinstance(event, PlanFinished):
                        seen.ok, seen.interrupted = event.ok, event.interrupted
                        self.finished = True  # the run is over: the engine lets go of the world and the lock
                    for listener in listeners:
                        listener(event)
                elif kind == "note" and notes is not None and isinstance(msg.get("text"), str):
                    notes(msg["text"])
                elif kind in ("question", "answered") and questions is not None and isinstance(msg.get("id"), str):
                    questions(msg)
                elif kind == "fatal":
                    seen.fatal = StonksError(str(msg.get("message") or "the engine process failed"),
                                             hint=str(msg.get("hint") or ""))
                    seen.fatal.exit_code = _exit_code(msg.get("exit_code"))
                elif kind == "end":
                    seen.exit_code = _exit_code(msg.get("exit_code"))
                    break
        finally:
            self.writer.close()
            self.writer = None
        return seen

    def cancel(self) -> None:
        self._say({"cmd": "cancel"})

    def answer(self, qid: str, yes: bool) -> None:
        self._say({"cmd": "answer", "id": qid, "yes": yes})

    def _say(self, message: dict[str, Any]) -> None:
        if self.writer is None and not self.finished:
            self._unsent.append(message)  # said as soon as the connection opens
        elif self.writer is not None and not self.writer.is_closing():
            self.writer.write(protocol.encode(message))


def _exit_code(value: Any) -> int:
    return value if type(value) is int and 0 <= value <= 255 else 1


def question_note(msg: dict[str, Any], attach: str = "`stonks-tui attach`") -> str:
    """A question or its answer as one line, for a client that cannot answer (or to say who did)."""
    if msg.get("type") == "question":
        return f"the run asks: {msg.get('text')} — the step waits for an answer from a terminal ({attach})"
    said = "yes" if msg.get("yes") else "no"
    by = f"client pid {msg['by']}" if msg.get("by") is not None else "nobody"
    return f"answered {said} by {by}" + (f" ({msg['why']})" if msg.get("why") else "")


def engine_argv(args: Any, plan: str, *, delete_pvs: bool = False, confirmed_pv_names: list[str] | None = None,
                assume_yes: bool = False, clear_arc_finalizers: bool = False, context: str | None = None,
                ask: bool = False) -> list[str]:
    """The engine process's command line: the same state dir, context (as resolved here), demo and answers."""
    argv = [sys.executable, "-m", "stonks_tui"]
    if getattr(args, "state_dir", None) is not None:
        argv += ["--state-dir", str(Path(args.state_dir).expanduser().resolve())]
    if getattr(args, "demo", False):
        argv.append("--demo")
    elif context or getattr(args, "context", None):
        argv += ["--context", context or args.context]
    if getattr(args, "answers", None):
        argv += ["--answers", str(Path(args.answers).expanduser().resolve())]
    argv += ["engine-serve", plan]
    if delete_pvs:
        argv.append("--delete-pvs")
    if confirmed_pv_names:
        argv += ["--confirm-pv-names", ",".join(confirmed_pv_names)]
    if assume_yes:
        argv.append("--yes")
    if clear_arc_finalizers:
        argv.append("--clear-arc-finalizers")
    if ask:
        argv.append("--ask")
    return argv


@dataclass
class Started:
    """An engine process started ahead of its run: it imports what a run needs, then waits for its start line."""

    proc: subprocess.Popen
    argv: list[str]
    start_log: Path


def start_engine(context_dir: Path, argv: list[str]) -> Started:
    """Start the engine in its own session (no terminal: a hang-up never reaches it). Until it is handed its start
    line it writes only to engine-start.log (a failure to start), so an engine started ahead of a preflight that then
    fails leaves the last run's engine.log as it was; it exits, touching nothing, if its stdin closes first."""
    context_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    start_log = context_dir / "engine-start.log"
    out = os.open(start_log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    env = {k: v for k, v in os.environ.items() if k != "STONKS_KEYRING_PASSPHRASE"}
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out, stderr=out, env=env,
                                start_new_session=True, close_fds=True)
    finally:
        os.close(out)
    return Started(proc, argv, start_log)


def hand_over(context_dir: Path, started: Started, passphrase: str | None,
              secrets: dict[str, str] | None = None) -> int:
    """Hand the started engine the keyring's passphrase and the context's secrets as this process has them on its
    stdin (never argv or environment: one JSON line, so a passphrase may hold any character) and the log to write,
    then wait until its socket answers. Returns its pid. Handed the values, the engine reads nothing from the
    keyring at start: no Argon2 derivation."""
    proc, log = started.proc, context_dir / "engine.log"
    assert proc.stdin is not None
    line = json.dumps({"passphrase": passphrase or "", "secrets": secrets, "log": str(log)}) + "\n"
    with contextlib.suppress(BrokenPipeError):
        proc.stdin.write(line.encode())
        proc.stdin.close()
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        info = protocol.live_engine(context_dir)
        if info and info.get("pid") == proc.pid:
            return proc.pid
        code = proc.poll()
        if code is not None:
            raise _start_failure(code, started.start_log, log)
        time.sleep(0.01)  # an engine started ahead answers within milliseconds of its start line
    proc.kill()
    raise StonksError(f"the engine process did not start within {START_TIMEOUT:.0f} s", hint=f"see {log}")


def abandon(started: Started) -> None:
    """An engine started ahead of a run that will not happen (preflight failed, an error): its stdin closes and it
    exits without having touched anything."""
    with contextlib.suppress(OSError, ValueError):
        if started.proc.stdin is not None:
            started.proc.stdin.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        started.proc.wait(timeout=5)
        return
    started.proc.kill()


def _start_failure(code: int, start_log: Path, log: Path) -> StonksError:
    """The engine refused to start: its own message (it prints like the CLI), with its exit code — from what it
    wrote before its start line (engine-start.log) or after it (engine.log)."""
    text = "\n".join(f.read_text(errors="replace") for f in (start_log, log) if f.exists())
    lines = [line for line in text.splitlines() if line.strip()]
    message = next((line.removeprefix("stonks-tui: ") for line in lines if line.startswith("stonks-tui: ")),
                   f"the engine process exited with {code} before it started")
    hint = next((line.strip().removeprefix("hint: ") for line in lines if line.strip().startswith("hint: ")), "")
    error = {3: LockHeld, 2: UsageError}.get(code, StonksError)(message, hint or f"see {log}")
    if code not in (2, 3):
        error.exit_code = code if code > 0 else 1
    return error


def wait_gone(pid: int, timeout: float = 15.0) -> None:
    """Wait until the engine process has exited (it lingers a little for other clients after the run)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        if time.monotonic() >= deadline:
            return
        time.sleep(0.05)
