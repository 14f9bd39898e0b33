"""Install wall time on the simulated world: the DAG (concurrency 4) against one step at a time (the old
scripts' order), a no-op re-run, and the resume cost. Medians of N fresh runs each, measured side by side."""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile

from bench.common import EXE, timed

N = int(os.environ.get("BENCH_RUNS", "5"))
SPEED = os.environ.get("BENCH_SIM_SPEED", "0.2")


def fresh(concurrency: str) -> tuple[float, float]:
    state = tempfile.mkdtemp(prefix="stonks-bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_")}
    env.update({"STONKS_SIM_SPEED": SPEED, "STONKS_CONCURRENCY": concurrency})
    try:
        install = timed([EXE, "--state-dir", state, "--demo", "install", "--yes", "--quiet"], env)
        rerun = timed([EXE, "--state-dir", state, "--demo", "install", "--yes", "--quiet"], env)
        return install, rerun
    finally:
        shutil.rmtree(state, ignore_errors=True)


def main() -> None:
    results: dict[str, list[tuple[float, float]]] = {"4": [], "1": []}
    for _ in range(N):  # interleaved so both see the same machine load
        for c in results:
            results[c].append(fresh(c))
    dag = statistics.median(r[0] for r in results["4"])
    serial = statistics.median(r[0] for r in results["1"])
    rerun = statistics.median(r[1] for r in results["4"])
    print(f"demo install, STONKS_SIM_SPEED={SPEED}, n={N} each, interleaved")
    print(f"  DAG, 4 at a time        median {dag:6.1f} s")
    print(f"  one step at a time      median {serial:6.1f} s   (DAG speed-up {serial / dag:.2f}x)")
    print(f"  re-run, nothing to do   median {rerun:6.1f} s")


if __name__ == "__main__":
    main()
