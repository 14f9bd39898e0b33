"""`-o json`: the documents `plan`, `status`, `verify` and `check` print for scripts.

Each is one JSON object with `kind` and `version` first; keys are stable within a version (new keys may be added;
a key is never renamed, retyped or dropped without a new version). Every text in them went through the redactor the
command uses, and none carries a secret: step outputs (which may hold keys and names minted by the install) are
left out of `status`. The operator guide (docs/operator-guide.md, "Output for scripts") documents each kind.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

VERSION = 1
API = "stonks-tui/v1"


def document(kind: str, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": API, "kind": kind, "version": VERSION, **fields}


def plan_document(plan: str, context: str, rows: list[tuple[str, Any]], summary: Any,
                  redact: Callable[[str], str]) -> dict[str, Any]:
    steps = []
    for sid, changes in rows:
        if isinstance(changes, str):
            steps.append({"id": sid, "status": "unknown", "reason": redact(changes), "changes": []})
            continue
        listed = [{"action": c.action, "kind": c.kind, "name": redact(c.name), "detail": redact(c.detail),
                   "diff": [redact(line) for line in c.lines]} for c in changes]
        todo = any(c.action != "unchanged" for c in changes)
        steps.append({"id": sid, "status": "changes" if todo else "unchanged", "reason": "", "changes": listed})
    return document("Plan", plan=plan, context=context, steps=steps,
                    summary={"steps": summary.steps, "stepsChanging": summary.steps_changing,
                             "create": summary.actions.get("create", 0), "update": summary.actions.get("update", 0),
                             "delete": summary.actions.get("delete", 0), "unknown": list(summary.unknown),
                             "changes": summary.todo, "line": summary.line()})


def checks_document(kind: str, results: list[Any], redact: Callable[[str], str], **fields: Any) -> dict[str, Any]:
    checks = [{"name": r.name, "status": r.status, "reason": redact(r.reason), "fix": redact(r.fix)}
              for r in results]
    counts = {"checks": len(results), "failed": sum(r.status == "fail" for r in results),
              "warnings": sum(r.status == "warn" for r in results)}
    return document(kind, **fields, checks=checks, summary=counts)


@contextlib.contextmanager
def json_output(enabled: bool) -> Iterator[Callable[[dict[str, Any]], None]]:
    """While a command works in `-o json` mode, whatever it prints goes to stderr (notes, the demo's words), so
    stdout carries the one document only; `emit` writes it there."""
    real = sys.stdout

    def emit(doc: dict[str, Any]) -> None:
        real.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        real.flush()

    if not enabled:
        yield emit
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield emit
