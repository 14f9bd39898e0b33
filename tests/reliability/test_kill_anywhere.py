"""Kill anywhere, fast mode: SIGKILLs of the engine inside the steps where a half-done step is hardest to resume —
ARC's removal (finalizers need its controller), the clone's migration (files written, not committed), a helm
release (left pending) — then the install finishes, the journal parsed after each kill, and the world equals an
uninterrupted run's. bench/kill_anywhere.py kills at random moments (≥ 20) and inside every step of the plan."""

from __future__ import annotations

from pathlib import Path

from tests.reliability.kill_anywhere import check_final, demo_env, kill_inside, uninterrupted


def test_kills_inside_the_hardest_steps_then_the_same_world_as_an_uninterrupted_run(tmp_path: Path) -> None:
    env = demo_env("0")
    reference = uninterrupted(tmp_path / "reference", env)
    outcome = kill_inside(tmp_path / "killed", env, ["arc-removal", "repo-migrate", "woodpecker"], seed=20261201)
    assert outcome.kills >= 2, outcome.aimed
    check_final(tmp_path / "killed", reference, outcome)
