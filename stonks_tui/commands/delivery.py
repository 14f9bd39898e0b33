"""verify --delivery (the chain from a commit to beta, proven live) and break-glass (the market-hours gate opened
for a while, recorded)."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

from stonks_tui.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from stonks_tui.commands.session import Session, safe_context
from stonks_tui.market_hours import GATED_STAGES

MAX_MINUTES = 24 * 60
AUDIT_FILE = "break-glass.jsonl"  # beside the journals (Runner.break_glass writes it), for `status`


def parse_minutes(text: str) -> int:
    """`30m`, `2h`, `1h30m` → minutes; a clear error otherwise (exit 2 at the caller)."""
    m = re.fullmatch(r"(?:([0-9]{1,2})h)?(?:([0-9]{1,4})m)?", text.strip())
    if not text.strip() or not m or not any(m.groups()):
        raise ValueError(f"--for {text!r}: write a duration like 30m, 2h or 1h30m")
    minutes = int(m.group(1) or 0) * 60 + int(m.group(2) or 0)
    if not 1 <= minutes <= MAX_MINUTES:
        raise ValueError(f"--for {text!r}: between 1 minute and 24h (a break-glass is short by design)")
    return minutes


def operator() -> str:
    who = os.environ.get("SUDO_USER") or getpass.getuser()
    return f"{who}@{socket.gethostname()}"


def cmd_verify_delivery(args: argparse.Namespace) -> int:
    import asyncio

    from stonks_tui.checks.delivery import Link
    from stonks_tui.documents import document, json_output

    with json_output(args.output == "json") as emit:
        session = Session(args)
        try:
            runner = session.runner()

            def report(link: Link) -> None:
                print(session.redactor(link.line()), flush=True)  # progress: stderr with -o json

            links = asyncio.run(runner.delivery(args.promote, report))
            failed = [link for link in links if link.status == "fail"]
            if args.output == "json":
                emit(document("DeliveryReport", context=runner.context, promote=args.promote,
                              proven=not failed, failedAt=failed[0].name if failed else None,
                              links=[{"name": link.name, "status": link.status,
                                      "detail": session.redactor(link.detail), "hint": session.redactor(link.hint)}
                                     for link in links]))
            else:
                print(f"\ndelivery: {'FAILED at ' + failed[0].name if failed else 'proven'} "
                      f"({sum(link.status == 'pass' for link in links)} links passed)")
        finally:
            session.close()
    return EXIT_FAILED if failed else EXIT_OK


def cmd_break_glass(args: argparse.Namespace) -> int:
    import asyncio
    import sys

    reason = " ".join(str(args.reason or "").split())
    if args.end:
        minutes = 0
    else:
        try:
            minutes = parse_minutes(args.duration)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    if not reason or len(reason) > 300 or any(ord(c) < 32 or 127 <= ord(c) < 160 for c in reason):
        print("error: --reason: say why in a few words (1-300 printable characters); it is recorded with your "
              "name", file=sys.stderr)
        return EXIT_USAGE
    session = Session(args)
    try:
        runner = session.runner()
        now = datetime.now(UTC)
        by = operator()
        entry = asyncio.run(runner.break_glass(args.stage, by=by, reason=reason, minutes=minutes, now=now))
        if minutes:
            print(f"break-glass: promotions into {args.stage} may run until {entry['until']} (UTC), opened by {by}: "
                  f"{reason}. It ends by itself; `break-glass --stage {args.stage} --end --reason …` ends it now.")
        else:
            print(f"break-glass for {args.stage} ended by {by}: {reason}")
        return EXIT_OK
    finally:
        session.close()


def audit_lines(state: Path, context: str, limit: int = 10) -> list[str]:
    path = state / safe_context(context) / AUDIT_FILE
    try:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError):
        return []
    out = []
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for row in rows[-limit:]:
        if not isinstance(row, dict):
            continue
        if row.get("action") in ("promoted", "refused"):  # a promotion asked by verify --delivery --promote
            out.append(f"  {row.get('at')} {row.get('stage')}: promotion {row.get('action')} (asked by "
                       f"{row.get('by')}): {row.get('reason')}")
            continue
        state_word = "ended" if row.get("action") == "close" else (
            "active" if str(row.get("until", "")) > now else "expired")
        out.append(f"  {row.get('at')} {row.get('stage')}: break-glass {state_word} until {row.get('until')}, by "
                   f"{row.get('by')}: {row.get('reason')}")
    return out


__all__ = ["GATED_STAGES", "audit_lines", "cmd_break_glass", "cmd_verify_delivery", "parse_minutes"]
