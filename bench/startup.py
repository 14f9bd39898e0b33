"""Start-up: `stonks-tui --help` against `python -c pass`, side by side (goal: < 100 ms more)."""

from __future__ import annotations

import sys

from bench.common import EXE, compile_package, median_of

N = 9


def main() -> None:
    compile_package()
    base, _ = median_of(N, [sys.executable, "-c", "pass"])
    help_, _ = median_of(N, [EXE, "--help"])
    version, _ = median_of(N, [EXE, "--version"])
    print(f"python -c pass        median {base * 1000:7.1f} ms  (n={N})")
    print(f"stonks-tui --help     median {help_ * 1000:7.1f} ms  (+{(help_ - base) * 1000:.1f} ms)")
    print(f"stonks-tui --version  median {version * 1000:7.1f} ms  (+{(version - base) * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
