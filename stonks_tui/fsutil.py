"""Crash-safe file writes: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write to a temp file in the same directory, fsync it, rename over `path`, fsync the directory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def atomic_write_text(path: Path, text: str, mode: int = 0o600) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode)


def remove_stale_temps(path: Path) -> int:
    """Delete temp files a killed writer of `path` left behind. Call only while holding the file's lock."""
    removed = 0
    for tmp in Path(path).parent.glob(f".{Path(path).name}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
            removed += 1
    return removed


def open_append(path: Path, mode: int = 0o600) -> IO[str]:
    """A log file opened for appending that is never reached through a link: a link planted where the log goes
    (to /etc/passwd, another user's file) is refused instead of followed (O_NOFOLLOW)."""
    import errno

    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, mode)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        from stonks_tui.errors import UsageError

        raise UsageError(f"{path} is a symbolic link: nothing is written through it",
                         hint="the state directory holds real files only: remove the link") from None
    return os.fdopen(fd, "a", encoding="utf-8")
