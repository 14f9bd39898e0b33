"""Log flood: lines per second from a helm-like subprocess into the progress pane, and a key handled meanwhile.

The real path end to end: the engine runs one step that calls HelmClient.run on a stand-in `helm` that prints
N lines as fast as it can; every line is redacted, written to the step's log file and sent as an event to the
wizard's ProgressScreen (headless Textual app, 120×40), which batches them into its capped Log pane. Measured:
lines/s from the first line on screen to the last; the time a cursor key takes to be handled in the middle of
the flood; the process's RSS after 200k and after 1M lines (the line cap keeps it flat).

Usage: python -m bench.log_flood [lines] [runs]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

FLOOD = """#!{python}
import sys
n = int(sys.argv[-1]) if sys.argv[-1].isdigit() else 200000
out = sys.stdout
for i in range(n):
    out.write(f"coalesce.go:237: warning: skipped value for argo-cd.configs.params: line {{i}} of the flood\\n")
out.flush()
"""


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


async def one_run(lines: int, tmp: Path) -> tuple[float, float, float]:
    from textual.widgets import DataTable, Log

    from stonks_tui.app import StonksApp
    from stonks_tui.clients.helm import HelmClient
    from stonks_tui.engine.plan import Plan
    from stonks_tui.engine.step import MemorySecretStore, NotDone, Step, StepContext
    from stonks_tui.redact import Redactor
    from stonks_tui.runner import Runner
    from stonks_tui.screens.progress import MAX_LINES, ProgressScreen
    from stonks_tui.settings import Settings

    class Flood(Step):
        id, title, needs = "flood", "helm-like output flood", ()

        async def check(self, ctx: StepContext):  # type: ignore[no-untyped-def]
            return NotDone("always")

        async def apply(self, ctx: StepContext) -> None:
            await HelmClient(executable="helm", env={**os.environ, "PATH": str(tmp)}).run(
                "flood", str(lines), log=ctx.log, context=False)

    class After(Step):
        id, title, needs = "after", "a second step to select", ("flood",)

        async def check(self, ctx: StepContext):  # type: ignore[no-untyped-def]
            return NotDone("always")

        async def apply(self, ctx: StepContext) -> None:
            return None

    redactor = Redactor()
    redactor.add("s3cr3t-value-that-never-appears")  # the redactor has work to do, as in a real run
    settings = Settings()
    runner = Runner(settings, "bench", tmp / "state", lambda: StepContext(settings=settings,
                                                                         secrets=MemorySecretStore(redactor),
                                                                         redact=redactor))
    plan = Plan("install", [Flood(settings), After(settings)])
    app = StonksApp(runner)
    async with app.run_test(size=(120, 40)):
        await app.push_screen(ProgressScreen(plan))
        screen = app.screen
        log = screen.query_one(Log)
        deadline = time.perf_counter() + 30
        while log.line_count == 0:
            assert time.perf_counter() < deadline, f"no line reached the pane: {screen.states}, {screen.finished}"
            await asyncio.sleep(0.001)
        t0_wall = time.time()
        # a key in the middle of the flood: move the step cursor; handled = the highlighted row changed
        await asyncio.sleep(0.2)
        table = screen.query_one("#steps", DataTable)
        before = table.cursor_row
        k0 = time.perf_counter()
        # as a terminal delivers it (no waiting for the app to go idle, which a flood never lets happen)
        app.simulate_key("up" if before == table.row_count - 1 else "down")
        while table.cursor_row == before:
            assert time.perf_counter() < k0 + 30, "the key was never handled"
            await asyncio.sleep(0.001)
        key_ms = (time.perf_counter() - k0) * 1000
        while screen.finished is None:
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.5)
        before = table.cursor_row  # the same key on an idle screen, for comparison
        k0 = time.perf_counter()
        app.simulate_key("up" if before == table.row_count - 1 else "down")
        while table.cursor_row == before:
            await asyncio.sleep(0.001)
        idle_ms = (time.perf_counter() - k0) * 1000
        elapsed = screen.finished.at - t0_wall
        total = sum(1 for line in (tmp / "state" / "bench" / "logs" / "install" / "flood.log").open())
        assert total >= lines, total  # every line reached the step's log file
        assert len(screen.lines["flood"]) == MAX_LINES  # the pane's buffer is capped
    return lines / elapsed, key_ms, idle_ms, rss_mb()


def main() -> None:
    lines = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    rates, keys, idles, rss = [], [], [], []
    for n in [lines] * runs + [lines * 5]:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            helm = tmp / "helm"
            helm.write_text(FLOOD.format(python=sys.executable))
            helm.chmod(0o755)
            rate, key_ms, idle_ms, mem = asyncio.run(one_run(n, tmp))
            print(f"  {n:,} lines: {rate:,.0f} lines/s, key handled in {key_ms:.0f} ms during the flood "
                  f"({idle_ms:.0f} ms idle), RSS {mem:.0f} MB", flush=True)
            if n == lines:
                rates.append(rate)
                keys.append(key_ms)
                idles.append(idle_ms)
            rss.append(mem)
    print(f"log flood ({lines:,} lines, n={runs}): median {statistics.median(rates):,.0f} lines/s; a key handled in "
          f"median {statistics.median(keys):.0f} ms during the flood (max {max(keys):.0f}; idle "
          f"{statistics.median(idles):.0f} ms); RSS {statistics.median(rss[:-1]):.0f} MB after {lines:,} lines, "
          f"{rss[-1]:.0f} MB after {lines * 5:,}")


if __name__ == "__main__":
    main()
