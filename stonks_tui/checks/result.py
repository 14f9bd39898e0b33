"""A check's result, and running many concurrently with a per-check timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from stonks_tui.errors import StonksError

Status = Literal["pass", "warn", "fail"]


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    reason: str
    fix: str = ""
    # A failure a controller may still be working through (a certificate being issued, a volume binding, pods
    # starting): right after an install, the verify step waits for it, bounded, before it reports it.
    settling: bool = False

    def line(self) -> str:
        mark = {"pass": "PASS", "warn": "WARN", "fail": "FAIL"}[self.status]
        return f"{mark} {self.name}: {self.reason}" + (f"\n     fix: {self.fix}" if self.fix else "")


Check = Callable[[], Awaitable[CheckResult]]


async def run_checks(checks: list[tuple[str, Check]], timeout: float = 20.0) -> list[CheckResult]:
    async def one(name: str, check: Check) -> CheckResult:
        try:
            return await asyncio.wait_for(check(), timeout)
        except TimeoutError:
            return CheckResult(name, "fail", f"no answer within {timeout:.0f}s", "check connectivity and retry")
        except StonksError as exc:
            return CheckResult(name, "fail", exc.message, exc.hint)

    return list(await asyncio.gather(*(one(n, c) for n, c in checks)))
