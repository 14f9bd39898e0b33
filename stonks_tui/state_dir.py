"""The state directory is private: ours, 0700, nothing in it followed through a link (issue 15).

It holds the journal, the step logs (the cluster's layout, user names), the encrypted keyring and the lock. A
directory another user owns or may write to would let them plant links (the tool would truncate what they point
at) or read what the logs say. So it is refused — and everything this tool creates there is 0600/0700 (umask).
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from stonks_tui.errors import UsageError

PRIVATE_UMASK = 0o077


def private_umask() -> None:
    """Every file and directory this process (and its children: helm's cache, git's temp files) creates is private."""
    os.umask(PRIVATE_UMASK)


def _check_owned(path: Path, what: str) -> os.stat_result:
    st = os.stat(path)
    if st.st_uid != os.geteuid():
        raise UsageError(f"{what} {path} belongs to another user (uid {st.st_uid})",
                         hint="use a state directory of your own (--state-dir or STONKS_STATE_DIR)")
    if st.st_mode & 0o022:
        raise UsageError(f"{what} {path} may be written by other users (mode {stat.filemode(st.st_mode)})",
                         hint=f"chmod 700 {path}, or use another --state-dir")
    return st


def prepare(state: Path) -> Path:
    """Create (0700) or check the state directory; tighten a readable one of ours to 0700."""
    try:
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = _check_owned(state, "state directory")
        if not stat.S_ISDIR(st.st_mode):
            raise UsageError(f"state directory {state} is not a directory", hint="give a directory")
        if st.st_mode & 0o077:
            os.chmod(state, 0o700)
    except OSError as exc:
        raise UsageError(f"state directory {state}: {exc.strerror}",
                         hint="give a directory you can write (--state-dir or STONKS_STATE_DIR)") from None
    return state


def context_dir(state: Path, name: str) -> Path:
    """`<state>/<name>`, a real directory of ours (never a link), 0700; files in it made private too."""
    path = state / name
    try:
        if path.is_symlink():
            raise UsageError(f"{path} is a symbolic link", hint="the state directory holds real directories only: "
                                                                "remove the link")
        path.mkdir(exist_ok=True, mode=0o700)
        st = _check_owned(path, "context directory")
        if st.st_mode & 0o077:
            os.chmod(path, 0o700)
            for child in path.rglob("*"):  # written by an older version with the default umask
                with contextlib.suppress(OSError):
                    if not child.is_symlink():
                        os.chmod(child, 0o700 if child.is_dir() else 0o600)
    except OSError as exc:
        raise UsageError(f"context directory {path}: {exc.strerror}", hint="check the state directory") from None
    return path
