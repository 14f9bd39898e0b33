"""The engine process's side of the socket: every engine event to every client, with the whole run as backlog.

A client that stops reading never slows the engine: each has a bounded queue, and one that falls that far behind is
dropped (it may attach again and gets the backlog). The engine's listener only encodes and enqueues.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from stonks_tui.engine.events import Event, LogLine
from stonks_tui.fsutil import atomic_write_text
from stonks_tui.service import protocol

CLIENT_QUEUE = 20_000  # messages a client may lag behind before it is dropped
LOG_BATCH = 5_000  # log lines of one step that one backlog message holds
LINGER = 5.0  # seconds the process waits, after the run, for attached clients to read the end
# How long a question waits for an answer. The operator may have lost the connection and be coming back (attach
# again shows it); after this the step takes the answer as no and fails with its hint, so a resume can ask again.
ANSWER_WAIT = 1800.0


class EngineService:
    def __init__(self, context_dir: Path, plan: str, on_cancel: Callable[[], None]) -> None:
        self.dir = context_dir
        self.plan = plan
        self.on_cancel = on_cancel
        self.run_id = uuid.uuid4().hex[:12]
        self.backlog: list[bytes] = []
        self.clients: dict[int, asyncio.Queue[bytes | None]] = {}
        self.server: asyncio.AbstractServer | None = None
        self.ended: bytes | None = None
        self.client_pids: dict[int, int] = {}  # connection -> the client's pid, as it said hello (status, tests)
        self.questions: dict[str, asyncio.Future[bool]] = {}  # open questions to the operator, by id
        self.asking: dict[str, str] = {}  # their texts, in engine.json too: status says the run waits for you
        self._batch_step: str | None = None  # the backlog's open batch of one step's log lines
        self._batch_lines: list[str] = []
        self._batch_ats: list[float] = []
        self._next = 0
        self._asked = 0

    @property
    def socket_path(self) -> Path:
        return self.dir / protocol.SOCKET_NAME

    async def start(self) -> None:
        sock = protocol.bind(self.socket_path)
        self.server = await asyncio.start_unix_server(self._client, sock=sock)
        self.started = time.time()
        self._write_info()

    def _write_info(self) -> None:
        atomic_write_text(self.dir / protocol.INFO_NAME, json.dumps(
            {"pid": os.getpid(), "run_id": self.run_id, "plan": self.plan, "started": self.started,
             "clients": sorted(set(self.client_pids.values())), "asking": list(self.asking.values())}))

    # -- the engine's listener ----------------------------------------------------------------------------------
    def broadcast(self, event: Event) -> None:
        if isinstance(event, LogLine):
            # Live clients get each line at once; the backlog keeps a step's consecutive lines as one message, so
            # a client attaching to a run of 100k lines decodes a few dozen messages, not 100k.
            if event.step_id != self._batch_step or len(self._batch_lines) >= LOG_BATCH:
                self._flush_batch()
                self._batch_step = event.step_id
            self._batch_lines.append(event.line)
            self._batch_ats.append(event.at)
            self._fan_out(protocol.encode_event(event))
            return
        self._send(protocol.encode_event(event))

    def note(self, text: str) -> None:
        self._send(protocol.encode({"type": "note", "text": text}))

    def fatal(self, message: str, hint: str, exit_code: int) -> None:
        """The engine itself failed (a full disk, a bug): every client says it, as the CLI would have (the message
        used to be only in engine.log, and the client ended with exit 1 and nothing said)."""
        self._send(protocol.encode({"type": "fatal", "message": message, "hint": hint, "exit_code": exit_code}))

    def _flush_batch(self) -> None:
        if self._batch_lines:
            self.backlog.append(protocol.encode({"type": "log", "step_id": self._batch_step,
                                                 "lines": self._batch_lines, "ats": self._batch_ats}))
            self._batch_lines, self._batch_ats = [], []

    def _send(self, line: bytes) -> None:
        self._flush_batch()
        self.backlog.append(line)
        self._fan_out(line)

    def _fan_out(self, line: bytes) -> None:
        for cid, queue in list(self.clients.items()):
            try:
                queue.put_nowait(line)
            except asyncio.QueueFull:
                self._drop(cid)

    def _drop(self, cid: int) -> None:
        queue = self.clients.pop(cid, None)
        if queue is not None:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)  # the writer closes that connection

    async def ask(self, text: str) -> bool:
        """Ask the operator through whichever client answers first (a late client gets the question with the
        backlog); every client sees who answered what. No answer within ANSWER_WAIT is a no."""
        self._asked += 1
        qid = f"q{self._asked}"
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.questions[qid] = answer
        self.asking[qid] = text
        self._write_info()
        self._send(protocol.encode({"type": "question", "id": qid, "text": text}))
        try:
            return await asyncio.wait_for(asyncio.shield(answer), ANSWER_WAIT)
        except TimeoutError:
            self._answered(qid, False, None, f"no answer within {ANSWER_WAIT / 60:.0f} min: taken as no")
            return False
        except asyncio.CancelledError:
            self._answered(qid, False, None, "the run was cancelled before an answer")
            raise
        finally:
            self.questions.pop(qid, None)
            self.asking.pop(qid, None)
            if self.server is not None:
                self._write_info()

    def _answered(self, qid: str, yes: bool, pid: int | None, why: str = "") -> None:
        answer = self.questions.pop(qid, None)
        if answer is None or answer.done():
            return  # answered already (first answer wins), or withdrawn
        answer.set_result(yes)
        self._send(protocol.encode({"type": "answered", "id": qid, "yes": yes, "by": pid, "why": why}))

    # -- clients ------------------------------------------------------------------------------------------------
    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is None or protocol.peer_uid(sock) != os.geteuid():
            writer.close()  # the socket is 0600; this is the second door: same user only
            return
        cid, self._next = self._next, self._next + 1
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(CLIENT_QUEUE)
        self._flush_batch()  # the lines so far belong to the backlog this client is sent
        start = len(self.backlog)  # what came before is sent from the backlog, the rest from the queue
        self.clients[cid] = queue
        commands = asyncio.create_task(self._commands(reader, cid))
        try:
            for i in range(0, start, 512):
                writer.write(b"".join(self.backlog[i:min(i + 512, start)]))
                await writer.drain()
            while self.ended is None or not queue.empty():
                line = await queue.get()
                if line is None:
                    break
                writer.write(line)
                await writer.drain()
            if self.ended is not None:
                writer.write(self.ended)
                await writer.drain()
                # Out of this process's buffer before the client counts as gone: the process exits once none is
                # left, and what a transport still holds then is lost (drain only waits below its high-water mark).
                writer.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(writer.wait_closed(), LINGER)
        except (ConnectionError, OSError):
            pass
        finally:
            self.clients.pop(cid, None)
            if self.client_pids.pop(cid, None) is not None and self.ended is None:
                self._write_info()
            commands.cancel()
            with contextlib.suppress(Exception):
                writer.close()

    async def _commands(self, reader: asyncio.StreamReader, cid: int) -> None:
        pid = "?"
        with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
            while line := await reader.readline():
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                if isinstance(msg.get("hello"), dict):
                    pid = str(msg["hello"].get("pid", "?"))
                    if pid.isdigit() and self.ended is None:
                        self.client_pids[cid] = int(pid)
                        self._write_info()
                elif msg.get("cmd") == "answer" and isinstance(msg.get("id"), str):
                    self._answered(msg["id"], msg.get("yes") is True, int(pid) if pid.isdigit() else None)
                elif msg.get("cmd") == "cancel":
                    self.note(f"cancel asked by client pid {pid}: running steps stop and will resume next time")
                    self.on_cancel()

    # -- the end ----------------------------------------------------------------------------------------------
    async def finish(self, exit_code: int) -> None:
        self.ended = protocol.encode({"type": "end", "exit_code": exit_code})
        for queue in list(self.clients.values()):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(b"")  # wake writers: they send what is queued, then the end
        deadline = time.monotonic() + LINGER
        while self.clients and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await self.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)
            self.server = None
        for path in (self.socket_path, self.dir / protocol.INFO_NAME):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

