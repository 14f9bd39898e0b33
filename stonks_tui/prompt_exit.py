"""The process ends when its work is done, whatever a worker thread is blocked on.

Blocking calls (the kubernetes client, keyring, DNS) run in asyncio's default executor. `asyncio.run` joins that
executor when it returns, and the interpreter joins its threads again at exit: a call blocked on a silent API
server kept `install` (and the wizard after ctrl+q) alive for minutes after it had said everything. Here the
executor is let go without waiting (work not started is dropped), and `finish()` ends the process at once if a
worker is still blocked — after stdout and stderr are flushed and every caller has closed its files and keyring.
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


def finish(code: int) -> None:
    """Exit with `code` now if a worker thread is still blocked (else return: the normal exit is just as quick)."""
    stuck = [t for t in threading.enumerate()
             if t is not threading.main_thread() and t.is_alive() and not t.daemon and t.name.startswith("asyncio")]
    if not stuck:
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
