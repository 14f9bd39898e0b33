"""Helpers for the benchmarks: run a command N times, report the median."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

EXE = str(Path(sys.executable).parent / "stonks-tui")


def timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def median_of(n: int, argv: list[str], env: dict[str, str] | None = None) -> tuple[float, list[float]]:
    runs = [timed(argv, env) for _ in range(n)]
    return statistics.median(runs), runs


def compile_package() -> None:
    """Byte-compile stonks_tui as an installed package would be. With PYTHONDONTWRITEBYTECODE set (as on this
    machine), an editable install otherwise recompiles every module it imports on each start."""
    import compileall

    import stonks_tui

    compileall.compile_dir(Path(stonks_tui.__file__).parent, quiet=1)
