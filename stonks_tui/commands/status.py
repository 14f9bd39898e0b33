"""status: the journals, latest run first, and whether a run is live."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from stonks_tui.commands import EXIT_OK
from stonks_tui.commands.session import command_for, safe_context, state_dir_for


def cmd_status(args: argparse.Namespace) -> int:
    from stonks_tui.documents import document, json_output

    with json_output(args.output == "json") as emit:
        context, state, runs, live = gather(args)
        if args.output == "json":
            emit(document("Status", context=context, stateDir=str(state), live=_live_doc(live), runs=runs,
                          breakGlass=_break_glass(state, context), deployKeyFile=_deploy_key(state, context)))
        else:
            print_status(args, context, state, runs, live)
    return EXIT_OK


def gather(args: argparse.Namespace) -> tuple[str, Path, list[dict[str, Any]], dict | None]:
    """The journals, latest run first, as plain data (what the text and the JSON both show)."""
    from stonks_tui.journal import Journal, journal_path
    from stonks_tui.kubecontext import resolve_context
    from stonks_tui.redact import printable

    if args.demo:
        from stonks_tui.demo import DEMO_CONTEXT

        context = DEMO_CONTEXT
    else:
        context = resolve_context(args.context)
    state = state_dir_for(args)
    journals = []
    for plan_name in ("install", "teardown"):
        path = journal_path(state, context, plan_name)
        if path.exists():
            journals.append(Journal.open(path, plan_name, context))
    journals.sort(key=lambda j: (j.run.get("started_ts") or 0, str(j.run.get("started_at") or "")), reverse=True)
    live = _live_run(state, context)
    runs = []
    for journal in journals:
        run = journal.run
        status = str(run.get("status") or "not started")
        dead = status == "running" and (live is None or live.get("run_id") not in (None, run.get("id")))
        if dead:
            status = "interrupted"
        steps = []
        for sid, rec in journal.steps.items():
            steps.append({"id": sid, "state": "interrupted" if dead and rec.state == "running" else rec.state,
                          "at": rec.finished_at or rec.started_at, "attempts": rec.attempts,
                          "durationSeconds": rec.duration,
                          "lastError": printable(rec.last_error) if rec.last_error else None,
                          "hint": printable(rec.hint) if rec.hint else None})
        runs.append({"plan": journal.plan, "id": run.get("id"), "status": status, "live": status == "running",
                     "startedAt": run.get("started_at"), "finishedAt": run.get("finished_at"),
                     "undoneAt": run.get("undone_at"),
                     "pid": run.get("pid"), "host": run.get("host"), "steps": steps})
    return context, state, runs, live


def _live_doc(live: dict | None) -> dict | None:
    from stonks_tui.redact import printable

    if live is None:
        return None
    return {"enginePid": live.get("pid"), "runId": live.get("run_id"),
            "asking": [printable(str(q)) for q in live.get("asking") or ()]}


def _break_glass(state: Path, context: str) -> list[str]:
    from stonks_tui.commands.delivery import audit_lines
    from stonks_tui.redact import printable

    return [printable(line) for line in audit_lines(state, context)]


def _deploy_key(state: Path, context: str) -> str | None:
    key = state / safe_context(context) / "github-deploy-key.pub"
    return str(key) if key.is_file() else None


def print_status(args: argparse.Namespace, context: str, state: Path, runs: list[dict[str, Any]],
                 live: dict | None) -> None:
    from stonks_tui.redact import printable

    for index, run in enumerate(runs):
        state_word = run["status"]
        if run.get("undoneAt"):
            state_word += f", then undone by the teardown finished {run['undoneAt']} (its steps: pending again)"
        if state_word == "interrupted":
            state_word = "interrupted (its process is gone; the next run resumes it)"
        elif state_word == "running" and live is not None:
            state_word = f"running — live, engine pid {live.get('pid')}; follow it: {command_for(args, 'attach')}"
            for question in live.get("asking") or ():
                state_word += f"\n  waiting for your answer: {printable(str(question))} (answer it in the attach)"
        latest = "latest run: " if index == 0 and len(runs) > 1 else ""
        # Only what the journal knows (a run that never started has no time, pid or host: no "None" printed).
        known = [f"started {run['startedAt']}" if run["startedAt"] else "not started",
                 f"finished {run['finishedAt']}" if run["finishedAt"] else "",
                 f"pid {run['pid']}" + (f" on {run['host']}" if run["host"] else "") if run["pid"] else ""]
        print(f"{latest}{run['plan']} on {context}: {state_word}\n  run {run['id'] or '?'}, "
              + ", ".join(k for k in known if k))
        for step in run["steps"]:
            tries = f" after {step['attempts']} attempts" if step["attempts"] > 1 else ""
            print(f"  {step['state']:<11} {step['id']:<28} {step['at'] or ''}{tries}")
            if step["lastError"] and step["state"] != "done":
                print(f"              last error: {step['lastError']}")
                if step["hint"]:
                    print(f"              hint: {step['hint']}")
    if not runs:
        print(f"No run recorded for context {context} (state dir {state}).")
    glass = _break_glass(state, context)
    if glass:
        print("market-hours gate, from this machine (newest last; the gate reads ConfigMap "
              "market-hours-break-glass in the Kargo project):")
        for line in glass:
            print(line)
    key = _deploy_key(state, context)
    if key:
        print(f"GitHub mirror deploy key (public; add it with write access on GitHub): {key}")


def _live_run(state: Path, context: str) -> dict | None:
    """The run being done now for this context: the engine process's record if its socket answers; for a run in a
    foreground process, the context lock being held says it is alive ({} then: no record)."""
    from stonks_tui.journal import ContextLock, safe_name
    from stonks_tui.service.protocol import live_engine

    info = live_engine(state / safe_name(context))
    if info is not None:
        return info
    return {} if ContextLock(state, context).held() else None  # a probe: status writes nothing
