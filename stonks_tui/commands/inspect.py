"""The read-only commands: plan, check, verify, render and settings."""

from __future__ import annotations

import argparse
from pathlib import Path

from stonks_tui.commands import EXIT_FAILED, EXIT_OK
from stonks_tui.commands.session import Session, answers_path, load_valid_settings, state_dir_for
from stonks_tui.words import count


def cmd_plan(args: argparse.Namespace) -> int:
    import asyncio

    session = Session(args)
    try:
        runner = session.runner()
        plan = runner.plan(args.which, delete_pvs=args.which == "teardown" and args.delete_pvs)
        from stonks_tui.plan_summary import summarise

        rows = asyncio.run(runner.describe(plan))
        for sid, changes in rows:
            if isinstance(changes, str):
                print(f"{sid}: cannot tell — {changes}")
                continue
            todo = [c for c in changes if c.action != "unchanged"]
            # What is already as wanted needs no listing — except what a teardown keeps, and why.
            kept = [c for c in changes if c.action == "unchanged" and c.detail.startswith("kept")]
            print(f"{sid}: " + (count(len(todo), "change") if todo else "nothing to change"))
            for change in todo + kept:
                print(f"    {session.redactor(str(change))}")
                for line in change.lines:
                    print(f"        {session.redactor(line)}")
        summary = summarise(plan.name, rows)
        print(f"\n{summary.line()}")
        return EXIT_FAILED if summary.unknown else EXIT_OK
    finally:
        session.close()


def cmd_settings(args: argparse.Namespace) -> int:
    import dataclasses

    import yaml

    from stonks_tui.settings import GROUP_TITLES, Settings, load_settings

    settings = load_settings(answers_path(args, existing=True))
    defaults = Settings()
    group = None
    for f in dataclasses.fields(Settings):
        if f.metadata.get("group") != group:
            print(("\n" if group else "") + f"# {GROUP_TITLES.get(f.metadata.get('group', ''), '')}")
            group = f.metadata.get("group")
        value = getattr(settings, f.name)
        line = yaml.safe_dump({f.name: value}, default_flow_style=False, allow_unicode=True).strip()
        changed = "" if value == getattr(defaults, f.name) else " (changed)"
        print(f"{line}  # {f.metadata.get('help', '')}{changed}")
    return EXIT_OK


def _offline_demo_overrides(args: argparse.Namespace) -> dict | None:
    """--demo for the commands that contact nothing (check, render): the demo's clone and endpoints, without
    starting its world."""
    if not args.demo:
        return None
    from stonks_tui.demo import demo_clone

    return {"local_clone": str(demo_clone(state_dir_for(args))), "gitea_public_url": "http://127.0.0.1:30300"}


def cmd_check(args: argparse.Namespace) -> int:
    from stonks_tui.checks.offline import offline_checks

    settings = load_valid_settings(args, _offline_demo_overrides(args))
    results = offline_checks(settings)
    for r in results:
        print(r.line())
    failed = sum(r.status == "fail" for r in results)
    warned = sum(r.status == "warn" for r in results)
    print(f"\n{count(len(results), 'check')}: {failed} failed, {count(warned, 'warning')}")
    return EXIT_FAILED if failed else EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    import asyncio

    session = Session(args)
    try:
        runner = session.runner()
        if runner.torn_down():
            print("The last run was a teardown: checking what it keeps.")
        results = asyncio.run(runner.verify())
        for r in results:
            print(session.redactor(r.line()))
        failed = sum(r.status == "fail" for r in results)
        print(f"\n{count(len(results), 'live check')}: {failed} failed, "
              f"{count(sum(r.status == 'warn' for r in results), 'warning')}")
        return EXIT_FAILED if failed else EXIT_OK
    finally:
        session.close()


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
