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
        hit: list[str] = []
        kills = runs = 0
        # Pass 1 kills inside each step in plan order on one install; a step that ended before its kill landed
        # (fast ones, or done by a run killed inside another) gets a fresh install of its own, killed at its start.
        for attempt, (wanted, within) in enumerate([(steps, 0.25), (None, 0.02), (None, 0.0)]):
            todo = wanted or [s for s in steps if s not in hit]
            if not todo:
                break
            state = Path(d) / f"aimed-{attempt}"
            for step in todo if attempt else [None]:
                target = Path(f"{state}-{step}") if step else state
                outcome = kill_inside(target, env, [step] if step else todo, seed=seed + attempt, within=within)
                check_final(target, reference, outcome)
                hit += outcome.aimed
                kills, runs = kills + outcome.kills, runs + outcome.runs
        missed = [s for s in steps if s not in hit]
        print(f"kill inside every step: {kills} SIGKILLs inside {len(set(hit))} of {len(steps)} steps ({runs} runs; "
              f"never caught running: {', '.join(missed) or 'none'}): every world equal, no leak "
              f"({time.monotonic() - t1:.0f} s)")


if __name__ == "__main__":
    main()
