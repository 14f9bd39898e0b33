"""On the real tier (tests/real: kube-apiserver v1.36.3, kwok, helm 3.21.4, Gitea 1.27.3, built from the Go
module proxy): the install's wall time against its critical path, a no-op `install`, a no-op `plan`.

Each run is a fresh world (control plane, Gitea, ARC installed by helm) on 127.0.0.1. Medians of N runs:

    BENCH_RUNS=3 BENCH_REPEAT=3 python -m bench.real_tier

The keyring is the one an operator gets over SSH by default — the tool's own encrypted file (Argon2id t=3, 64 MiB);
BENCH_KEYRING=cryptfile measures with keyrings.cryptfile configured by PYTHON_KEYRING_BACKEND instead (as the
tier's tests run: the library's t=15, each process pays ~0.6-1 s for it before its first secret).
"""

from __future__ import annotations

import os
import re
import statistics
import tempfile
from pathlib import Path

from tests.real.build import COMPONENTS, build
from tests.real.world import ChartRepo, World, rmtree

N = int(os.environ.get("BENCH_RUNS", "3"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))  # no-op installs and plans per world (their median counts)
KEYRING = os.environ.get("BENCH_KEYRING", "own")  # own: the tool's default; cryptfile: the operator-configured one


def critical_path(state: Path, context: str) -> float:
    from stonks_tui.journal import Journal, journal_path
    from stonks_tui.plans import install_plan
    from stonks_tui.settings import Settings

    journal = Journal.open(journal_path(state, context, "install"), "install", context)
    plan = install_plan(Settings())
    finish: dict[str, float] = {}
    for sid in plan.order:
        start = max((finish[n] for n in plan.by_id[sid].needs), default=0.0)
        finish[sid] = start + (journal.steps[sid].duration or 0.0)
    return max(finish.values())


def one(charts: ChartRepo) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="stonks-bench-real-"))
    root.chmod(0o755)
    world = World(root, charts).start()
    env = world.env()
    if KEYRING == "own":
        del env["PYTHON_KEYRING_BACKEND"]
    try:
        first = world.cli("install", "--yes", "--quiet", env=env)
        assert first.returncode == 0, first.stdout[-3000:]
        engine = float(re.search(r"install finished in ([0-9.]+)s", first.stdout).group(1))  # type: ignore[union-attr]
        path = critical_path(world.state, "real")  # before the re-run rewrites the journal
        agains = [world.cli("install", "--yes", "--quiet", env=env) for _ in range(REPEAT)]
        plans = [world.cli("plan", env=env) for _ in range(REPEAT)]
        assert all(r.returncode == 0 for r in agains + plans)
        return {"install wall (s)": first.seconds, "engine (s)": engine,  # type: ignore[attr-defined]
                "critical path (s)": path,
                "no-op install (s)": statistics.median(r.seconds for r in agains),  # type: ignore[attr-defined]
                "no-op plan (s)": statistics.median(r.seconds for r in plans)}  # type: ignore[attr-defined]
    finally:
        world.stop()
        rmtree(root)


def yardstick() -> float:
    """The machine's speed right now, to set runs of other days beside this one (a shared 2-core VM varies by a
    third): one Argon2id derivation at keyrings.cryptfile's cost (t=15, 64 MiB, 2 lanes), median of 3."""
    import time

    from argon2.low_level import Type, hash_secret_raw

    times = []
    for _ in range(3):
        t0 = time.monotonic()
        hash_secret_raw(b"yardstick", b"0123456789abcdef", time_cost=15, memory_cost=2**16, parallelism=2,
                        hash_len=32, type=Type.ID)
        times.append(time.monotonic() - t0)
    return statistics.median(times)


def installed_bytecode() -> None:
    """The product's bytecode as `pip install` leaves it: compiled and current. This machine's environment sets
    PYTHONDONTWRITEBYTECODE, so a module edited since its .pyc was written is compiled again in every process that
    imports it and never saved: measured, that was ~0.25 s of CPU in each of a plan's and an install's processes
    (36 stale modules) — a cost of this checkout, not of an operator's install."""
    import compileall

    import stonks_tui

    compileall.compile_dir(str(Path(stonks_tui.__file__).parent), quiet=1)


def main() -> None:
    for name in ("kube", "kwok", "helm", "helm-3.13", "gitea"):
        build(COMPONENTS[name])
    installed_bytecode()
    charts = ChartRepo(Path(tempfile.mkdtemp(prefix="stonks-bench-charts-"))).start()
    try:
        runs = [one(charts) for _ in range(N)]
    finally:
        charts.stop()
    print(f"real tier, {N} fresh worlds, keyring: {KEYRING}, machine yardstick {yardstick():.2f} s "
          "(Argon2id t=15 64 MiB; 0.42 s on a quiet day), medians:")
    for key in runs[0]:
        values = [r[key] for r in runs]
        print(f"  {key:<20} {statistics.median(values):7.2f}   runs: {', '.join(f'{v:.2f}' for v in values)}")
    ratio = statistics.median(r["engine (s)"] / r["critical path (s)"] for r in runs)
    print(f"  engine / critical path: {ratio:.2f}x")
    wall = statistics.median(r["install wall (s)"] / r["engine (s)"] for r in runs)
    print(f"  install wall / engine: {wall:.2f}x")


if __name__ == "__main__":
    main()
