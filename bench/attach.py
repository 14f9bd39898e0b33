"""Attach and event latency of the engine process's socket (issue 16).

1. A run with N log lines already in the engine's backlog: how long a client takes from connecting to having
   received (and decoded, and handed to its listener) all of it — what stands between `attach` and the current
   screen.
2. At the log-flood rate: the engine broadcasts N lines as fast as its listener can; each event carries the time
   it was made; the client records how long each took to reach its listener.

The engine side runs on its own event loop in a thread (as in its own process, it never waits for a client).

    python -m bench.attach [LINES] [RUNS]
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from stonks_tui.engine.events import Event, LogLine, PlanFinished
from stonks_tui.service.client import EngineConnection
from stonks_tui.service.server import EngineService


def _serve(directory: Path, ready: threading.Event, box: dict) -> None:
    loop = asyncio.new_event_loop()
    box["loop"] = loop

    async def main() -> None:
        service = EngineService(directory, "install", on_cancel=lambda: None)
        await service.start()
        box["service"] = service
        ready.set()
        await box["stop"].wait()
        await service.finish(0)

    box["stop"] = asyncio.Event()
    loop.run_until_complete(main())


def _start(directory: Path) -> dict:
    ready, box = threading.Event(), {}
    thread = threading.Thread(target=_serve, args=(directory, ready, box), daemon=True)
    thread.start()
    ready.wait(10)
    box["thread"] = thread
    return box


def _call(box: dict, fn) -> None:  # type: ignore[no-untyped-def]
    done = threading.Event()

    def run() -> None:
        fn()
        done.set()

    box["loop"].call_soon_threadsafe(run)
    done.wait(60)


def _stop(box: dict) -> None:
    box["loop"].call_soon_threadsafe(box["stop"].set)
    box["thread"].join(15)


def backlog_replay(lines: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        box = _start(Path(tmp))

        def fill() -> None:
            for i in range(lines):
                box["service"].broadcast(LogLine(step_id="woodpecker", line=f"{i:06d} " + "x" * 90))

        _call(box, fill)
        seen = 0
        t0 = time.perf_counter()
        took: list[float] = []

        def listener(event: Event) -> None:
            nonlocal seen
            seen += 1
            if seen == lines:
                took.append(time.perf_counter() - t0)
                raise asyncio.CancelledError  # stop reading: the backlog is in

        async def client() -> None:
            with contextlib.suppress(asyncio.CancelledError):
                await EngineConnection(Path(tmp)).attach([listener])

        asyncio.run(client())
        _stop(box)
        return took[0]


def flood_latency(lines: int) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        box = _start(Path(tmp))
        delays: list[float] = []

        def listener(event: Event) -> None:
            if isinstance(event, LogLine):
                delays.append(time.time() - event.at)

        async def client() -> None:
            await EngineConnection(Path(tmp)).attach([listener])

        def flood() -> None:
            for i in range(lines):
                box["service"].broadcast(LogLine(step_id="woodpecker", line=f"{i:06d} " + "x" * 90))
            box["service"].broadcast(PlanFinished(plan="install", ok=True, interrupted=False, counts={},
                                                  duration=0.0))

        async def main() -> None:
            task = asyncio.ensure_future(client())
            await asyncio.sleep(0.3)  # attached before the flood starts
            t0 = time.perf_counter()
            await asyncio.to_thread(_call, box, flood)
            box["flood_rate"] = lines / (time.perf_counter() - t0)
            box["loop"].call_soon_threadsafe(box["stop"].set)
            await task

        asyncio.run(main())
        box["thread"].join(15)
        delays.sort()
        return statistics.median(delays), delays[int(len(delays) * 0.99)], box["flood_rate"]


def main() -> None:
    lines = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    replay = [backlog_replay(lines) for _ in range(runs)]
    print(f"attach to a run with {lines} log lines: the whole backlog at the client's listener in "
          f"{statistics.median(replay) * 1000:.0f} ms median (n={runs}; min {min(replay) * 1000:.0f} ms)")
    results = [flood_latency(lines) for _ in range(runs)]
    med = statistics.median(r[0] for r in results)
    p99 = statistics.median(r[1] for r in results)
    rate = statistics.median(r[2] for r in results)
    print(f"events at the flood rate ({rate / 1000:.0f}k lines/s broadcast): engine → client listener "
          f"{med * 1000:.1f} ms median, {p99 * 1000:.1f} ms p99 (medians over n={runs})")


if __name__ == "__main__":
    main()
