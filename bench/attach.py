"""Attach and event latency of the engine process's socket (issue 16).

1. A run with N log lines already in the engine's backlog: how long a client takes from connecting to having all
   of it at its listener (decoded into events) — what stands between `attach` and the current screen.
2. At the log-flood rate: the engine broadcasts N lines as fast as its listener can; each event carries the time
   it was made; the client records how long each took to reach its listener.

The engine side runs in a process of its own, as it does in use (one GIL each).

    python -m bench.attach [LINES] [RUNS]
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stonks_tui.engine.events import Event, LogLine
from stonks_tui.service.client import EngineConnection

ENGINE = """
import asyncio, sys, time
from pathlib import Path
from stonks_tui.engine.events import LogLine, PlanFinished
from stonks_tui.service.server import EngineService
directory, lines, mode = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

async def main():
    service = EngineService(directory, "install", on_cancel=lambda: None)
    await service.start()
    if mode == "backlog":
        for i in range(lines):
            service.broadcast(LogLine(step_id="woodpecker", line=f"{i:06d} " + "x" * 90))
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
    else:
        print("ready", flush=True)
        while not service.clients:
            await asyncio.sleep(0.01)
        t0 = time.perf_counter()
        for i in range(lines):  # the flood: as fast as the listener goes, yielding like the engine's helm reader
            service.broadcast(LogLine(step_id="woodpecker", line=f"{i:06d} " + "x" * 90))
            if i % 200 == 0:
                await asyncio.sleep(0)
        print(f"rate {lines / (time.perf_counter() - t0):.0f}", flush=True)
        service.broadcast(PlanFinished(plan="install", ok=True, interrupted=False, counts={}, duration=0.0))
    await service.finish(0)

asyncio.run(main())
"""


def _engine(directory: str, lines: int, mode: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", ENGINE, directory, str(lines), mode], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def backlog_replay(lines: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        engine = _engine(tmp, lines, "backlog")
        seen, took = 0, []
        t0 = 0.0

        def listener(event: Event) -> None:
            nonlocal seen
            seen += 1
            if seen == lines:
                took.append(time.perf_counter() - t0)
                raise asyncio.CancelledError  # stop: the backlog is in

        async def client() -> None:
            nonlocal t0
            t0 = time.perf_counter()
            with contextlib.suppress(asyncio.CancelledError):
                await EngineConnection(Path(tmp)).attach([listener])

        asyncio.run(client())
        engine.communicate("\n", timeout=30)
        return took[0]


def flood_latency(lines: int) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = _engine(tmp, lines, "flood")
        delays: list[float] = []

        def listener(event: Event) -> None:
            if isinstance(event, LogLine):
                delays.append(time.time() - event.at)

        asyncio.run(EngineConnection(Path(tmp)).attach([listener]))
        out, _ = engine.communicate(timeout=60)
        rate = float(out.split("rate ")[1].split()[0])
        delays.sort()
        return statistics.median(delays), delays[int(len(delays) * 0.99)], rate


def main() -> None:
    lines = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    replay = [backlog_replay(lines) for _ in range(runs)]
    print(f"attach to a run with {lines} log lines: the whole backlog at the client's listener in "
          f"{statistics.median(replay) * 1000:.0f} ms median (n={runs}; min {min(replay) * 1000:.0f} ms)")
    results = [flood_latency(lines) for _ in range(runs)]
    med, p99 = statistics.median(r[0] for r in results), statistics.median(r[1] for r in results)
    rate = statistics.median(r[2] for r in results)
    print(f"events at the flood rate ({rate / 1000:.0f}k lines/s broadcast): engine → client listener "
          f"{med * 1000:.1f} ms median, {p99 * 1000:.1f} ms p99 (medians over n={runs})")


if __name__ == "__main__":
    main()
