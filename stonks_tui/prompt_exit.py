"""The process ends when its work is done, whatever a worker thread is blocked on.

Blocking calls (the kubernetes client, keyring, DNS) run in asyncio's default executor. `asyncio.run` joins that
executor when it returns, and the interpreter joins its threads again at exit: a call blocked on a silent API
server kept `install` (and the wizard after ctrl+q) alive for minutes after it had said everything. Here the
executor is let go without waiting (work not started is dropped), and `finish()` ends the process at once —
after the atexit handlers, stdout and stderr flushed, every caller having closed its files and keyring — without
the interpreter's teardown of its modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor


class _LettingGoExecutor(ThreadPoolExecutor):
    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait=False, cancel_futures=True)


class _Policy(asyncio.DefaultEventLoopPolicy):
    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        loop = super().new_event_loop()
        loop.set_default_executor(_LettingGoExecutor(thread_name_prefix="asyncio"))
        return loop


def install() -> None:
    asyncio.set_event_loop_policy(_Policy())


# A daemon thread that spends its time in native code with the GIL released (the keyring's Argon2 derivation). At
# interpreter exit such a thread, taking the GIL back, is ended by a forced unwind (pthread_exit), which native
# frames may not pass: once, under load, a refused second instance aborted that way ("FATAL: exception not
# rethrown", exit -6) while its keyring was still being unlocked in the background (not reproduced by hand: which
# thread did it is not certain). The unlock is let finish first, bounded. (The keyring's writer is idle on an Event
# by then: every session flushes it first.)
NATIVE_WORK = ("keyring-unlock",)


def finish(code: int) -> None:
    """Exit with `code` now, a command's work done — whatever a worker thread is still blocked on, and without the
    interpreter's own teardown: freeing the ~900 modules a command imports took 0.10-0.15 s after its last line
    (measured: 7 ms with os._exit), on every command's wall time. Nothing is left for it to do: every caller has
    closed its files and flushed its keyring, and the atexit handlers still run (leave_now)."""
    native = [t for t in threading.enumerate() if t.name in NATIVE_WORK and t.is_alive()]
    for thread in native:
        thread.join(timeout=3.0)  # one Argon2 derivation takes well under a second
    leave_now(code)


def leave_now(code: int) -> None:
    """End the process at once, whatever its threads do — after its atexit handlers: os._exit skips them, and the
    kubernetes library removes with one the files it wrote its kubeconfig's certificate and key data to (mkstemp in
    $TMPDIR). Each `plan` on the real tier that ended this way left the cluster's CA in /tmp; from a k3s kubeconfig
    it would have left the admin's private key."""
    import atexit

    with contextlib.suppress(Exception):
        atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
