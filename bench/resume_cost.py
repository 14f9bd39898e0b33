"""Resume cost: after a failure at step k, the resumed run applies only the remaining steps; what re-checking
the finished ones costs, as a fraction of a full run.

Each round: a fresh demo install where helm fails once on the Woodpecker release (STONKS_SIM_FAULTS), so
`woodpecker` fails, what needs it is blocked and the rest finishes; then the same command again (the fault has
fired). Reported: how many steps the resumed run applied vs re-checked, the time its re-checks took (summed
per-step durations from the journal) and that sum over the engine time of an uninterrupted install (median of N).

Usage: BENCH_RUNS=5 BENCH_SIM_SPEED=0.2 python -m bench.resume_cost
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from bench.common import EXE

N = int(os.environ.get("BENCH_RUNS", "5"))
SPEED = os.environ.get("BENCH_SIM_SPEED", "0.2")
FAULT = "helm:upgrade --install woodpecker=exit1"


def install(state: str, env: dict[str, str]) -> tuple[int, str]:
    proc = subprocess.run([EXE, "--state-dir", state, "--demo", "install", "--yes", "--quiet"], env=env,
                          capture_output=True, text=True)
    return proc.returncode, proc.stdout


def engine_seconds(out: str) -> float:
    m = re.search(r"install \w+ in ([0-9.]+)s", out)
    assert m, out[-2000:]
    return float(m.group(1))


def one_round() -> tuple[float, float, int, int, float]:
    from stonks_tui.journal import DONE, Journal, journal_path

    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_")}
    env["STONKS_SIM_SPEED"] = SPEED
    full_state, state = tempfile.mkdtemp(prefix="stonks-bench-"), tempfile.mkdtemp(prefix="stonks-bench-")
    try:
        code, out = install(full_state, env)
        assert code == 0, out[-2000:]
        full = engine_seconds(out)
        code, out = install(state, {**env, "STONKS_SIM_FAULTS": FAULT})
        assert code == 1 and "woodpecker" in out, out[-2000:]

        def journal() -> Journal:
            return Journal.open(journal_path(Path(state), "stonks-demo", "install"), "install", "stonks-demo")

        done_before = {sid for sid, rec in journal().steps.items() if rec.state == DONE}
        code, out = install(state, {**env, "STONKS_SIM_FAULTS": FAULT})  # fired once already: it resumes
        assert code == 0, out[-2000:]
        after = journal().steps
        recheck = sum(after[sid].duration or 0.0 for sid in done_before)
        slowest = max(done_before, key=lambda sid: after[sid].duration or 0.0)
        print(f"  full {full:.1f} s; resumed run {engine_seconds(out):.1f} s; re-checks {recheck:.1f} s summed "
              f"(slowest: {slowest} {after[slowest].duration:.1f} s)", flush=True)
        return recheck, full, len(after) - len(done_before), len(done_before), engine_seconds(out)
    finally:
        shutil.rmtree(full_state, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)


def main() -> None:
    rounds = [one_round() for _ in range(N)]
    recheck = statistics.median(r[0] for r in rounds)
    full = statistics.median(r[1] for r in rounds)
    fraction = statistics.median(r[0] / r[1] for r in rounds)
    resumed = statistics.median(r[4] for r in rounds)
    print(f"resume after `woodpecker` failed (STONKS_SIM_SPEED={SPEED}, n={N}): the resumed run applied "
          f"{rounds[0][2]} steps and re-checked {rounds[0][3]} finished ones; the re-checks took {recheck:.1f} s "
          f"summed over steps ({fraction:.0%} of a full install's {full:.1f} s; they overlap: the whole resumed "
          f"run took {resumed:.1f} s)")


if __name__ == "__main__":
    main()
