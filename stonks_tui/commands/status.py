"""status: the journals, latest run first, and whether a run is live."""

from __future__ import annotations

import argparse
from pathlib import Path

from stonks_tui.commands import EXIT_OK
from stonks_tui.commands.session import command_for, safe_context, state_dir_for


def cmd_status(args: argparse.Namespace) -> int:
    from stonks_tui.journal import Journal, journal_path
    from stonks_tui.kubecontext import resolve_context
    from stonks_tui.redact import printable

    if args.demo:
        from stonks_tui.demo import DEMO_CONTEXT

        context = DEMO_CONTEXT
    else:
        context = resolve_context(args.context)
    state = state_dir_for(args)
    shown = False
    journals = []
    for plan_name in ("install", "teardown"):
        path = journal_path(state, context, plan_name)
        if path.exists():
            journals.append(Journal.open(path, plan_name, context))
    journals.sort(key=lambda j: (j.run.get("started_ts") or 0, str(j.run.get("started_at") or "")), reverse=True)
    live = _live_run(state, context)
    for index, journal in enumerate(journals):
        shown = True
        run = journal.run
        state_word = str(run.get("status", "?"))
        dead = state_word == "running" and (live is None or live.get("run_id") not in (None, run.get("id")))
        if dead:
            state_word = "interrupted (its process is gone; the next run resumes it)"
        elif state_word == "running" and live is not None:
            state_word = f"running — live, engine pid {live.get('pid')}; follow it: {command_for(args, 'attach')}"
            for question in live.get("asking") or ():
                state_word += f"\n  waiting for your answer: {printable(str(question))} (answer it in the attach)"
        latest = "latest run: " if index == 0 and len(journals) > 1 else ""
        # Only what the journal knows (a run that never started has no time, pid or host: no "None" printed).
        known = [f"started {run['started_at']}" if run.get("started_at") else "not started",
                 f"finished {run['finished_at']}" if run.get("finished_at") else "",
                 f"pid {run['pid']}" + (f" on {run['host']}" if run.get("host") else "") if run.get("pid") else ""]
        print(f"{latest}{journal.plan} on {context}: {state_word}\n  run {run.get('id', '?')}, "
              + ", ".join(k for k in known if k))
        for sid, rec in journal.steps.items():
            when = rec.finished_at or rec.started_at or ""
            tries = f" after {rec.attempts} attempts" if rec.attempts > 1 else ""
            step_state = "interrupted" if dead and rec.state == "running" else rec.state
            print(f"  {step_state:<11} {sid:<28} {when}{tries}")
            if rec.last_error and rec.state != "done":
                print(f"              last error: {printable(rec.last_error)}")
                if rec.hint:
                    print(f"              hint: {printable(rec.hint)}")
    if not shown:
        print(f"No run recorded for context {context} (state dir {state}).")
    from stonks_tui.commands.delivery import audit_lines

    glass = audit_lines(state, context)
    if glass:
        print("market-hours gate, from this machine (newest last; the gate reads ConfigMap "
              "market-hours-break-glass in the Kargo project):")
        for line in glass:
            print(printable(line))
    key = state / safe_context(context) / "github-deploy-key.pub"
    if key.is_file():
        print(f"GitHub mirror deploy key (public; add it with write access on GitHub): {key}")
    return EXIT_OK


def _live_run(state: Path, context: str) -> dict | None:
    """The run being done now for this context: the engine process's record if its socket answers; for a run in a
    foreground process, the context lock being held says it is alive ({} then: no record)."""
    from stonks_tui.journal import ContextLock, safe_name
    from stonks_tui.service.protocol import live_engine

    info = live_engine(state / safe_name(context))
    if info is not None:
        return info
    return {} if ContextLock(state, context).held() else None  # a probe: status writes nothing
