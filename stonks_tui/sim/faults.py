"""Fault injection for the simulated world: `STONKS_SIM_FAULTS`.

Syntax: rules separated by `;`, each `TARGET:PATTERN=ACTION[xCOUNT]`
  TARGET   kube | gitea | woodpecker | registry | helm | git | pipeline (a simulated Woodpecker step, by name) |
           nfs (the NAS: a pod's write to an export, "SERVER:PATH uid=UID"; any action refuses it)
  PATTERN  a regular expression matched against "METHOD /path" (HTTP), the argv joined by spaces (helm) or the
           export and uid (nfs)
  ACTION   an HTTP status (500), `timeout` (hang past the client's timeout), `drop` (close the connection),
           `exitN` for executables (exit1), or `webhook` (kube: the API server could not call the admission
           webhook for this write — Kargo's right after its chart, before cert-manager injected the CA)
  COUNT    how many times it fires (default 1; `*` = always)
Example: STONKS_SIM_FAULTS='gitea:POST /api/v1/user/repos=500x2;helm:upgrade woodpecker=exit1'

Counters live in a JSON file when one is given, so faults in separate processes (the helm stand-in) count once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Rule:
    target: str
    pattern: re.Pattern[str]
    action: str
    count: int | None  # None = always
    index: int


class FaultSpecError(ValueError):
    pass


def parse(spec: str) -> list[Rule]:
    rules = []
    for i, part in enumerate(p.strip() for p in spec.split(";")):
        if not part:
            continue
        m = re.match(r"^(kube|gitea|woodpecker|registry|helm|git|pipeline|nfs):(.+)="
                     r"(\d{3}|timeout|drop|exit\d+|webhook)(?:x(\d+|\*))?$", part)
        if not m:
            raise FaultSpecError(f"STONKS_SIM_FAULTS rule {part!r} is not TARGET:PATTERN=ACTION[xCOUNT]")
        target, pattern, action, count = m.groups()
        if not re.match(r"^(\d{3}|timeout|drop|exit\d+|webhook)$", action):
            raise FaultSpecError(f"STONKS_SIM_FAULTS rule {part!r}: action must be a status, timeout, drop or exitN")
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise FaultSpecError(f"STONKS_SIM_FAULTS rule {part!r}: the pattern is not a regular expression "
                                 f"({exc})") from None
        rules.append(Rule(target, compiled, action, None if count == "*" else int(count or 1), i))
    return rules


class Faults:
    def __init__(self, spec: str = "", counter_file: Path | None = None) -> None:
        self.rules = parse(spec)
        self.counter_file = counter_file
        self._fired: dict[int, int] = {}

    def check(self, target: str, subject: str) -> str | None:
        """The action to take for this request, or None. Counts the firing."""
        for rule in self.rules:
            if rule.target == target and rule.pattern.search(subject):
                if rule.count is None:
                    return rule.action
                if self._take(rule):
                    return rule.action
        return None

    def _take(self, rule: Rule) -> bool:
        if self.counter_file is None:
            fired = self._fired.get(rule.index, 0)
            if fired >= (rule.count or 0):
                return False
            self._fired[rule.index] = fired + 1
            return True
        self.counter_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.counter_file, "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.seek(0)
            data: dict[str, int] = {}
            with contextlib.suppress(ValueError):
                data = json.loads(fh.read() or "{}")
            key = f"{rule.index}:{rule.target}:{rule.pattern.pattern}"
            if data.get(key, 0) >= (rule.count or 0):
                return False
            data[key] = data.get(key, 0) + 1
            fh.seek(0)
            fh.truncate()
            fh.write(json.dumps(data))
            return True
