"""Remote text is data, not terminal control; advice that can destroy data must be earned (issue 15).

A server hook on Gitea declines the push and prints terminal escapes: the console, the step log and `status` show
neither the escapes nor "not a fast-forward" (which nudges toward rewriting history), but what Gitea said. A Gitea
5xx without Gitea's own words for leftover files never advises deleting anything."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from tests.conftest import PYTHON

HOOK = """#!/bin/sh
printf '\\033]0;PWNED\\007\\033[2J'
echo "policy: pushes to main need a signed-off release ticket" >&2
exit 1
"""


def cli(state: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_") and k != "PYTHON_KEYRING_BACKEND"}
    env.update({"STONKS_SIM_SPEED": "0", "PYTHONUNBUFFERED": "1", **extra})
    return subprocess.run([PYTHON, "-m", "stonks_tui", "--state-dir", str(state), "--demo", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def _git(clone: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(clone), "-c", "user.name=op", "-c", "user.email=op@example.test", *args],
                   check=True, capture_output=True)


def test_a_push_a_server_hook_declines_is_reported_in_gitea_words_without_its_escapes(tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert cli(state, "install", "--yes", "--quiet").returncode == 0
    bare = state / "demo" / "gitea-repos" / "gitea_admin" / "stonks-oracle.git"
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(HOOK)
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    clone = state / "demo" / "stonks-oracle"
    (clone / "NOTES.md").write_text("a new commit for Gitea\n")
    _git(clone, "add", "NOTES.md")
    _git(clone, "commit", "-m", "notes")
    r = cli(state, "install", "--yes")
    assert r.returncode == 1, r.stdout[-3000:]
    shown = r.stdout + r.stderr
    assert "Gitea refused main: pre-receive hook declined" in shown, shown[-3000:]
    assert "signed-off release ticket" in shown  # the hook's own words reach the operator
    assert "not a fast-forward" not in shown and "pull them" not in shown
    status = cli(state, "status")
    logs = "".join(p.read_text() for p in (state / "stonks-demo" / "logs" / "install").glob("*.log"))
    for where, text in (("console", shown), ("status", status.stdout), ("step logs", logs)):
        assert "\x1b" not in text and "\x07" not in text, f"terminal control reached the {where}"
    assert "pre-receive hook declined" in status.stdout


def test_a_gitea_failure_without_gitea_saying_so_never_advises_deleting_files(tmp_path: Path) -> None:
    r = cli(tmp_path / "state", "install", "--yes", STONKS_SIM_FAULTS="gitea:POST /api/v1/user/repos=500x*")
    assert r.returncode == 1, r.stdout[-3000:]
    assert "Gitea could not create gitea_admin/stonks-oracle (HTTP 500)" in r.stdout, r.stdout[-3000:]
    assert "Gitea failed internally: check its logs" in r.stdout
    lines = r.stdout.splitlines()
    failed = next(i for i, line in enumerate(lines) if "✗ gitea-repo" in line)
    assert "hint:" in lines[failed + 1] and "delete" not in lines[failed + 1].lower(), lines[failed + 1]
