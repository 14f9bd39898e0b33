"""Install wall time on the simulated world, measured side by side (interleaved, medians of N fresh runs):

- the DAG (4 steps at a time) against its critical path: the longest chain of step durations through the step
  graph, from the same run's journal (each step's own time: its checks, API calls and the simulated delays it
  waits on). Goal: wall ≤ 1.10× the critical path, i.e. the engine loses (almost) nothing to scheduling;
- against one step at a time (the old scripts' order): the speed-up;
- a no-op re-run (everything already done).

Usage: BENCH_RUNS=5 BENCH_SIM_SPEED=0.2 python -m bench.install
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import EXE

N = int(os.environ.get("BENCH_RUNS", "5"))
SPEED = os.environ.get("BENCH_SIM_SPEED", "0.2")


def run(state: str, env: dict[str, str]) -> tuple[float, float]:
    """(process wall time, the engine's own run time as it reports it)."""
    t0 = time.perf_counter()
    out = subprocess.run([EXE, "--state-dir", state, "--demo", "install", "--yes", "--quiet"], env=env,
                         capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - t0
    m = re.search(r"install finished in ([0-9.]+)s", out)
    assert m, out[-2000:]
    return wall, float(m.group(1))


def critical_path(state: str) -> float:
    from stonks_tui.journal import Journal, journal_path
    from stonks_tui.plans import install_plan
    from stonks_tui.settings import Settings

    journal = Journal.open(journal_path(Path(state), "stonks-demo", "install"), "install", "stonks-demo")
    plan = install_plan(Settings())
    finish: dict[str, float] = {}
    for sid in plan.order:  # topological: every need's finish is known
        start = max((finish[n] for n in plan.by_id[sid].needs), default=0.0)
        finish[sid] = start + (journal.steps[sid].duration or 0.0)
    return max(finish.values())


def fresh(concurrency: str) -> tuple[float, float, float, float]:
    state = tempfile.mkdtemp(prefix="stonks-bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_")}
    env.update({"STONKS_SIM_SPEED": SPEED, "STONKS_CONCURRENCY": concurrency})
    try:
        wall, engine = run(state, env)
        path = critical_path(state)
        rerun, _ = run(state, env)
        return wall, engine, path, rerun
    finally:
        shutil.rmtree(state, ignore_errors=True)


def main() -> None:
    results: dict[str, list[tuple[float, float, float, float]]] = {"4": [], "1": []}
    for _ in range(N):  # interleaved so both see the same machine load
        for c in results:
            results[c].append(fresh(c))
    dag = statistics.median(r[0] for r in results["4"])
    engine = statistics.median(r[1] for r in results["4"])
    ratio = statistics.median(r[1] / r[2] for r in results["4"])
    path = statistics.median(r[2] for r in results["4"])
    serial = statistics.median(r[0] for r in results["1"])
    rerun = statistics.median(r[3] for r in results["4"])
    print(f"demo install, STONKS_SIM_SPEED={SPEED}, n={N} each, interleaved")
    print(f"  DAG, 4 at a time        median {dag:6.1f} s wall ({engine:.1f} s in the engine)")
    print(f"  its critical path       median {path:6.1f} s   (engine / critical path {ratio:.2f}x)")
    print(f"  one step at a time      median {serial:6.1f} s   (DAG speed-up {serial / dag:.2f}x)")
    print(f"  re-run, nothing to do   median {rerun:6.1f} s")


if __name__ == "__main__":
    main()
