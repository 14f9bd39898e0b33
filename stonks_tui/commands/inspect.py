"""The read-only commands: plan, check, verify, render and settings."""

from __future__ import annotations

import argparse
from pathlib import Path

from stonks_tui.commands import EXIT_CHANGES, EXIT_FAILED, EXIT_OK
from stonks_tui.commands.session import Session, answers_path, load_valid_settings, state_dir_for
from stonks_tui.words import count


def cmd_plan(args: argparse.Namespace) -> int:
    import asyncio

    from stonks_tui.documents import json_output, plan_document

    as_json = args.output == "json"
    with json_output(as_json) as emit:
        session = Session(args, background_unlock=True)
        try:
            runner = session.runner()
            plan = runner.plan(args.which, delete_pvs=args.which == "teardown" and args.delete_pvs)
            from stonks_tui.plan_summary import summarise

            rows = asyncio.run(runner.describe(plan))
            summary = summarise(plan.name, rows)
            if as_json:
                emit(plan_document(plan.name, runner.context, rows, summary, session.redactor))
            else:
                print_plan(rows, session.redactor)
                print(f"\n{summary.line()}")
        finally:
            session.close()
    if summary.unknown:
        return EXIT_FAILED
    return EXIT_CHANGES if args.exit_code and summary.todo else EXIT_OK


def print_plan(rows: list, redact) -> None:  # type: ignore[no-untyped-def]
    for sid, changes in rows:
        if isinstance(changes, str):
            print(f"{sid}: cannot tell — {changes}")
            continue
        todo = [c for c in changes if c.action != "unchanged"]
        # What is already as wanted needs no listing — except what a teardown keeps, and why.
        kept = [c for c in changes if c.action == "unchanged" and c.detail.startswith("kept")]
        print(f"{sid}: " + (count(len(todo), "change") if todo else "nothing to change"))
        for change in todo + kept:
            print(f"    {redact(str(change))}")
            for line in change.lines:
                print(f"        {redact(line)}")


def cmd_settings(args: argparse.Namespace) -> int:
    import dataclasses

    import yaml

    from stonks_tui.errors import UsageError
    from stonks_tui.settings import GROUP_TITLES, Settings, load_settings

    settings = load_settings(answers_path(args, existing=True))
    known = [f.name for f in dataclasses.fields(Settings)]
    unknown = [n for n in args.names if n not in known]
    if unknown:
        raise UsageError(f"not a setting: {', '.join(unknown)}", hint="the settings are: " + ", ".join(known))
    if args.demo:
        settings = settings.replace(**_demo_settings(args))
    defaults = Settings()
    group = None
    for f in dataclasses.fields(Settings):
        if args.names and f.name not in args.names:
            continue
        if f.metadata.get("group") != group:
            print(("\n" if group else "") + f"# {GROUP_TITLES.get(f.metadata.get('group', ''), '')}")
            group = f.metadata.get("group")
        value = getattr(settings, f.name)
        line = yaml.safe_dump({f.name: value}, default_flow_style=False, allow_unicode=True).strip()
        changed = "" if value == getattr(defaults, f.name) else " (changed)"
        print(f"{line}  # {f.metadata.get('help', '')}{changed}")
    return EXIT_OK


def _demo_settings(args: argparse.Namespace) -> dict:
    """What `--demo` runs with on top of the settings: its world's endpoints (ports are kept across starts; a
    world not made yet is made now, as the demo's first start would) and its clone."""
    import sys

    from stonks_tui.demo import saved_overrides, start_demo

    state = state_dir_for(args)
    if not (state / "demo" / "world.json").is_file():
        start_demo(state).stop()
    print(f"# the demo's settings: its simulated world on 127.0.0.1 in {state / 'demo'}", file=sys.stderr)
    return saved_overrides(state)


def _offline_demo_overrides(args: argparse.Namespace) -> dict | None:
    """--demo for the commands that contact nothing (check, render): the demo's clone and endpoints, without
    starting its world."""
    if not args.demo:
        return None
    from stonks_tui.demo import demo_clone

    return {"local_clone": str(demo_clone(state_dir_for(args))), "gitea_public_url": "http://127.0.0.1:30300"}


def cmd_check(args: argparse.Namespace) -> int:
    from stonks_tui.checks.offline import offline_checks
    from stonks_tui.documents import checks_document, json_output

    with json_output(args.output == "json") as emit:
        settings = load_valid_settings(args, _offline_demo_overrides(args))
        results = offline_checks(settings)
        if args.output == "json":
            emit(checks_document("CheckReport", results, str))
        else:
            print_checks(results, "check", str)
    return EXIT_FAILED if any(r.status == "fail" for r in results) else EXIT_OK


def print_checks(results: list, noun: str, redact) -> None:  # type: ignore[no-untyped-def]
    for r in results:
        print(redact(r.line()))
    failed = sum(r.status == "fail" for r in results)
    print(f"\n{count(len(results), noun)}: {failed} failed, "
          f"{count(sum(r.status == 'warn' for r in results), 'warning')}")


def cmd_verify(args: argparse.Namespace) -> int:
    import asyncio

    from stonks_tui.documents import checks_document, json_output

    with json_output(args.output == "json") as emit:
        session = Session(args, background_unlock=True)
        try:
            runner = session.runner()
            torn = runner.torn_down()
            if torn and args.output != "json":
                print("The last run was a teardown: checking what it keeps.")
            results = asyncio.run(runner.verify())
            if args.output == "json":
                emit(checks_document("VerifyReport", results, session.redactor, context=runner.context,
                                     afterTeardown=torn))
            else:
                print_checks(results, "live check", session.redactor)
        finally:
            session.close()
    return EXIT_FAILED if any(r.status == "fail" for r in results) else EXIT_OK


def cmd_render(args: argparse.Namespace) -> int:
    from stonks_tui.render import render, write_rendered

    settings = load_valid_settings(args, _offline_demo_overrides(args))
    out = Path(args.out).expanduser()
    written = write_rendered(render(settings), out)
    from stonks_tui.steps.cluster import WoodpeckerAgentRbac, rbac_grants

    applied = set(WoodpeckerAgentRbac(settings).files)
    for path in written:
        rel = path.relative_to(out).as_posix() if path.is_relative_to(out) else str(path)
        other = rel.startswith("woodpecker/agent-rbac") and rel not in applied
        print(f"{path}  (the other rbac_mode's: not applied)" if other else path)
    print(f"agent RBAC: rbac_mode is {settings.rbac_mode}, so the install applies {', '.join(sorted(applied))}: "
          f"{rbac_grants(settings.rbac_mode)}.")
    print(f"{len(written)} files written to {out}. Secrets appear as <secret:NAME> placeholders: their values stay "
          "in the keyring and reach the cluster only when a step applies them.")
    return EXIT_OK
