"""No child of ours inherits a secret it does not need (issue 15.1): helm, git and the clone's hooks start from an
allowlisted environment; git's credential reaches only its askpass, and the clone's hooks do not run on a push."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

from tests.conftest import PYTHON

SECRET_VARS = {"STONKS_GITEA_ADMIN_PASSWORD": "Hostile-tester-pw-42", "STONKS_KEYRING_PASSPHRASE": "hostile-phrase-42"}
HOOK = "#!/bin/sh\nenv > \"$(git rev-parse --git-dir)/../hook-env-$(basename \"$0\").txt\"\nexit 0\n"


def _run(state: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "stonks_tui", "--state-dir", str(state), "--demo", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def test_helm_git_and_hooks_never_see_the_operators_secrets(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_") and k != "PYTHON_KEYRING_BACKEND"}
    env.update({"STONKS_SIM_SPEED": "0", "PYTHONUNBUFFERED": "1", **SECRET_VARS})
    assert _run(state, "check", env=env).returncode == 0  # makes the demo clone
    clone = state / "demo" / "stonks-oracle"
    for name in ("pre-commit", "pre-push", "post-commit", "reference-transaction"):
        hook = clone / ".git" / "hooks" / name
        hook.write_text(HOOK)
        hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    r = _run(state, "install", "--yes", env=env)
    assert r.returncode == 0, r.stdout[-3000:]

    dumps = {p.name: p.read_text() for p in clone.glob("hook-env-*.txt")}
    assert "hook-env-pre-commit.txt" in dumps, sorted(dumps)  # the operator's commit hooks still run ...
    assert "hook-env-pre-push.txt" not in dumps  # ... but none runs while git holds the Gitea token
    for name, text in dumps.items():
        for var, value in SECRET_VARS.items():
            assert var not in text and value not in text, f"{name} saw {var}"
        assert "STONKS_GIT_PASSWORD" not in text, f"{name} saw the Gitea token"
    calls = [json.loads(line) for line in (state / "demo" / "helm-argv.jsonl").read_text().splitlines()]
    assert calls and all(set(SECRET_VARS).isdisjoint(c["env"]) for c in calls), calls[-1]["env"]
