"""Kill anywhere, fast mode: three SIGKILLs at random moments (fixed seed), then the install finishes, the journal
parsed after each kill, and the world equals an uninterrupted run's. bench/kill_anywhere.py runs ≥ 20."""

from __future__ import annotations

from pathlib import Path

from tests.reliability.kill_anywhere import check_final, demo_env, kill_anywhere, uninterrupted


def test_three_kills_then_the_same_world_as_an_uninterrupted_run(tmp_path: Path) -> None:
    env = demo_env("0")
    reference = uninterrupted(tmp_path / "reference", env)
    outcome = kill_anywhere(tmp_path / "killed", env, kills=3, seed=20261128, window=8.0)
    assert outcome.kills >= 1
    check_final(tmp_path / "killed", reference, outcome)
