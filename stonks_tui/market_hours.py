"""The market-hours gate: promotions into paper and live fail 09:30–16:00 America/New_York, Monday to Friday,
unless a break-glass window the operator opened is still running.

Kargo runs verification *after* a promotion, so the gate is the first step of the promotion itself: a `fail` step
whose `if:` (an expr-lang expression, evaluated by Kargo's controller when the promotion runs) is true while the
market is open. The expression does not load a time zone (Kargo does not embed Go's tz database and its image's
is unknown, FACTS): it computes US Eastern time from UTC — daylight time from the second Sunday of March, 07:00
UTC, to the first Sunday of November, 06:00 UTC. Exchange holidays are out of scope: the gate closes on a holiday
as on any weekday (a break-glass opens it).

The break-glass is a ConfigMap in the Kargo project's namespace that the expression reads with Kargo's
`configMap()`: `<stage>-until` (UTC, RFC 3339 with `Z`, compared as text) ends the window by itself; who, when
and why are kept beside it with an audit trail. This module is the product's own reading of the same rule (for
`verify --delivery`, `status` and the plan); `tests/test_market_hours.py` holds it to the expression in the
manifests and to the tz database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

GATED_STAGES = ("paper", "live")
BREAK_GLASS_CONFIGMAP = "market-hours-break-glass"
AUDIT_KEY = "audit"
AUDIT_KEEP = 100  # entries kept in the ConfigMap (a ConfigMap holds at most 1 MiB)
OPEN, CLOSE = (9, 30), (16, 0)
STAMP = "%Y-%m-%dT%H:%M:%SZ"  # the expression's u.Format("2006-01-02T15:04:05Z")


def us_eastern_dst(utc: datetime) -> bool:
    """US daylight time, from the UTC instant alone (the expression's arithmetic, in Python)."""
    m, d, h = utc.month, utc.day, utc.hour
    w = (utc.weekday() + 1) % 7  # Sunday = 0, as Go's Weekday
    s = d - w  # the date of the latest Sunday on or before today (≤ 0: it was last month)
    if 3 < m < 11:
        return True
    if m == 3:
        return s >= 8 and (w > 0 or d > 14 or h >= 7)
    if m == 11:
        return s < 1 or (w == 0 and d < 8 and h < 6)
    return False


def new_york(utc: datetime) -> datetime:
    utc = utc.astimezone(UTC)
    return utc - timedelta(hours=4 if us_eastern_dst(utc) else 5)


def market_open(utc: datetime) -> bool:
    ny = new_york(utc)
    return ny.weekday() < 5 and OPEN <= (ny.hour, ny.minute) < CLOSE


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime(STAMP)


@dataclass(frozen=True)
class BreakGlass:
    stage: str
    until: str  # UTC stamp
    by: str
    at: str
    reason: str

    def active(self, now: datetime) -> bool:
        return self.until > stamp(now)  # text comparison, exactly as the expression compares


def break_glass(data: dict[str, str] | None, stage: str) -> BreakGlass | None:
    data = data or {}
    until = data.get(f"{stage}-until")
    if not until:
        return None
    return BreakGlass(stage, until, data.get(f"{stage}-by", "?"), data.get(f"{stage}-at", "?"),
                      data.get(f"{stage}-reason", ""))


def audit_trail(data: dict[str, str] | None) -> list[dict[str, Any]]:
    try:
        entries = json.loads((data or {}).get(AUDIT_KEY) or "[]")
    except ValueError:
        return []
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def gate_closed(utc: datetime, data: dict[str, str] | None, stage: str) -> bool:
    """What the stage's gate step decides at `utc`: True = the promotion fails."""
    glass = break_glass(data, stage)
    return market_open(utc) and not (glass is not None and glass.active(utc))


def with_break_glass(data: dict[str, str] | None, stage: str, *, by: str, reason: str, minutes: int,
                     now: datetime) -> dict[str, str]:
    """The ConfigMap's data after opening a window for `stage` (or ending it early with minutes=0)."""
    out = dict(data or {})
    until = now + timedelta(minutes=minutes)
    out.update({f"{stage}-until": stamp(until), f"{stage}-by": by, f"{stage}-at": stamp(now),
                f"{stage}-reason": reason})
    trail = audit_trail(out)
    trail.append({"stage": stage, "by": by, "at": stamp(now), "until": stamp(until), "reason": reason,
                  "action": "open" if minutes else "close"})
    out[AUDIT_KEY] = json.dumps(trail[-AUDIT_KEEP:], separators=(",", ":"))
    return out


def describe(utc: datetime, data: dict[str, str] | None, stage: str) -> str:
    ny = new_york(utc)
    state = "open" if market_open(utc) else "closed"
    when = f"{ny:%a %H:%M} New York by this machine's clock; Kargo's controller decides by its own"
    glass = break_glass(data, stage)
    if glass is not None and glass.active(utc):
        return (f"the market is {state} ({when}); break-glass for {stage} by {glass.by} until {glass.until}: "
                f"{glass.reason}")
    if market_open(utc):
        return f"the market is open ({when}): a promotion into {stage} is refused until 16:00 New York"
    return f"the market is closed ({when}): a promotion into {stage} may run"
