"""The engine process's socket protocol: JSON lines over a Unix socket in the context's state directory.

Server → client: {"type": "event", "event": {...}} for every engine event (backlog first, then live; in the
backlog a step's consecutive log lines are one {"type": "log", "step_id": ..., "lines": [...], "ats": [...]}),
{"type": "note", "text": ...} (another client cancelled, a slow client was dropped), and a last
{"type": "end", "exit_code": N} — after {"type": "fatal", "message": ..., "hint": ..., "exit_code": N} when the
engine itself failed (a full disk, a bug), which every client prints; a question to the operator mid-run,
{"type": "question", "id": ..., "text": ...},
and who answered it, {"type": "answered", "id": ..., "yes": bool, "by": pid or null, "why": ...}.
Client → server: {"hello": {"pid": N}} once, then {"cmd": "cancel"} or {"cmd": "answer", "id": ..., "yes": bool}
(the first answer wins).
Only the same user may connect (the socket is 0600 and the server checks SO_PEERCRED).
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import struct
from pathlib import Path
from typing import Any, get_args

from stonks_tui.engine import events as ev

SOCKET_NAME = "engine.sock"
INFO_NAME = "engine.json"
EVENT_TYPES: dict[str, type[ev.Event]] = {cls.__name__: cls for cls in (
    ev.PlanStarted, ev.StepStarted, ev.LogLine, ev.WorkloadStatus, ev.StepFinished, ev.PlanFinished)}


def encode_event(event: ev.Event) -> bytes:
    return encode({"type": "event", "kind": type(event).__name__, "event": dataclasses.asdict(event)})


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


MAX_INT = 10**9  # counts, replicas, attempts: anything larger is not from an engine of ours
OUTCOMES = get_args(ev.Outcome)  # the engine's own list: a new outcome is known here without a copy to update


def decode_event(message: dict[str, Any]) -> ev.Event | None:
    """An engine event from its JSON, or None when it is not one this client knows how to read whole.

    A client and an engine of different versions can meet (an upgrade while a run goes on): an unknown kind or
    field is left out, a field of the wrong type (a string for a number, a list for a string, an integer of
    thousands of digits) makes the event unreadable — skipped, never a traceback in the operator's face."""
    cls = EVENT_TYPES.get(str(message.get("kind")))
    body = message.get("event")
    if cls is None or not isinstance(body, dict):
        return None
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in body:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                return None  # a field this client needs is missing
            continue
        value = _typed(str(f.type), body[f.name])
        if value is _BAD:
            return None
        values[f.name] = value
    if cls is ev.StepFinished and values.get("outcome") not in OUTCOMES:
        return None
    return cls(**values)


_BAD = object()


def _typed(kind: str, value: Any) -> Any:
    """`value` as the dataclass field's type, or _BAD."""
    if kind == "str" or kind == "Outcome":
        return value if isinstance(value, str) else _BAD
    if kind == "bool":
        return value if isinstance(value, bool) else _BAD
    if kind == "int":
        return value if type(value) is int and abs(value) <= MAX_INT else _BAD
    if kind == "float":
        if type(value) is int and abs(value) <= MAX_INT:
            return float(value)
        return value if type(value) is float and value == value and abs(value) < 1e12 else _BAD
    if kind == "tuple[str, ...]":
        return tuple(value) if isinstance(value, list) and all(isinstance(v, str) for v in value) else _BAD
    if kind == "dict[str, int]":
        ok = isinstance(value, dict) and all(type(v) is int and abs(v) <= MAX_INT for v in value.values())
        return {str(k): v for k, v in value.items()} if ok else _BAD
    return _BAD  # a type this decoder does not know: a change here needs a change there


def peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def _short(path: Path, dir_fd: int) -> str:
    """A socket path under 108 bytes: through the directory's descriptor when the real one is longer."""
    return str(path) if len(str(path)) < 100 else f"/proc/self/fd/{dir_fd}/{path.name}"


def bind(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if path.exists() or path.is_symlink():
            path.unlink()  # a dead engine's socket: we hold the context lock, so no live one is there
        old = os.umask(0o177)
        try:
            sock.bind(_short(path, dir_fd))
        finally:
            os.umask(old)
    finally:
        os.close(dir_fd)
    os.chmod(path, 0o600)
    sock.listen(16)
    sock.setblocking(False)
    return sock


def connect(path: Path, timeout: float = 2.0) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        sock.connect(_short(path, dir_fd))
    except OSError:
        sock.close()
        raise
    finally:
        os.close(dir_fd)
    sock.setblocking(False)
    return sock


def read_info(context_dir: Path) -> dict[str, Any] | None:
    """The live engine's record (pid, run id, plan), or None. A record whose socket does not answer is stale."""
    try:
        info = json.loads((context_dir / INFO_NAME).read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def live_engine(context_dir: Path) -> dict[str, Any] | None:
    """The engine running for this context — its record, if its socket answers — or None."""
    info = read_info(context_dir)
    if info is None:
        return None
    try:
        connect(context_dir / SOCKET_NAME, timeout=1.0).close()
    except OSError:
        return None
    return info
