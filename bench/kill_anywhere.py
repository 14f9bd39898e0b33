"""Kill anywhere, long mode: ≥ 20 SIGKILLs of the headless demo install at random moments (over several
installs), then one inside every step of the install plan (aimed: the journal says the step runs), each install
then run to the end; every world must equal an uninterrupted run's and nothing secret may leak.
Usage: python -m bench.kill_anywhere [kills] [kills_per_install] [seed]"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from tests.reliability.kill_anywhere import check_final, demo_env, kill_anywhere, kill_inside, uninterrupted


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    per_install = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    env = demo_env("0")
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as d:
        reference = uninterrupted(Path(d) / "reference", env)
        kills = runs = installs = 0
        while kills < total:
            state = Path(d) / f"killed-{installs}"
            outcome = kill_anywhere(state, env, kills=per_install, seed=seed + installs, window=12.0)
            check_final(state, reference, outcome)
            kills, runs, installs = kills + outcome.kills, runs + outcome.runs, installs + 1
            print(f"  install {installs}: {outcome.kills} kills, {outcome.runs} runs, world equal, no leak",
                  flush=True)
        print(f"kill anywhere: {kills} SIGKILLs over {installs} installs ({runs} runs): every journal parsed, "
              f"every final world equal to an uninterrupted run's, no secret leaked ({time.monotonic() - t0:.0f} s)",
              flush=True)
        from stonks_tui.plans import install_plan
        from stonks_tui.settings import Settings

        t1 = time.monotonic()
        steps = [step.id for step in install_plan(Settings())]
        state = Path(d) / "aimed"
        outcome = kill_inside(state, env, steps, seed=seed)
        check_final(state, reference, outcome)
        missed = [s for s in steps if s not in outcome.aimed]
        print(f"kill inside every step: {outcome.kills} SIGKILLs inside {len(outcome.aimed)} of {len(steps)} steps "
              f"({outcome.runs} runs; ended before the kill landed: {', '.join(missed) or 'none'}): world equal, "
              f"no leak ({time.monotonic() - t1:.0f} s)")


if __name__ == "__main__":
    main()
