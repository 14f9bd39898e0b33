"""Bad input, end to end: malformed answers files and hostile values given to `stonks-tui --demo install --yes`
each end with a clear error naming the setting (exit 2, no traceback) and nothing applied: no journal, no
namespace of the install in the (simulated) cluster. The per-rule table is tests/test_settings.py."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PYTHON

CASES = [
    ("not a number", "nfs_port: twenty\n", "nfs_port"),
    ("shell metacharacters in a host", 'woodpecker_host: "ci.example.test; rm -rf /"\n', "woodpecker_host"),
    ("command substitution in a name", 'kargo_project: "$(id)"\n', "kargo_project"),
    ("YAML injected into a name", 'live_namespace: "a\\nkind: ClusterRoleBinding"\n', "live_namespace"),
    ("a very long value", f"repo_name: {'a' * 5000}\n", "repo_name"),
    ("a secret in the answers file", "gitea_admin_password: hunter2hunter2\n", "keyring"),
    ("a misspelt setting", "woodpeker_host: ci.example.test\n", "did you mean woodpecker_host"),
    ("not a mapping", "- nfs_server\n", "mapping"),
    ("invalid YAML", "nfs_server: [unclosed\n", "is not valid YAML at line"),
]


def run(state: Path, answers: Path, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_")}
    env.update({"STONKS_SIM_SPEED": "0", **(extra_env or {})})
    return subprocess.run([PYTHON, "-m", "stonks_tui", "--state-dir", str(state), "--answers", str(answers), "--demo",
                           "install", "--yes"], env=env, capture_output=True, text=True, timeout=120)


def assert_nothing_applied(state: Path) -> None:
    assert not list(state.rglob("install.json")), "a journal was written"
    world = state / "demo" / "world.json"
    if world.exists():
        names = {o["object"]["metadata"]["name"] for o in json.loads(world.read_text())["kube"]["objects"]
                 if o["plural"] == "namespaces"}
        assert not names & {"woodpecker", "argocd", "kargo"}, names


@pytest.mark.parametrize(("content", "needle"), [pytest.param(c[1], c[2], id=c[0]) for c in CASES])
def test_bad_answers_exit_2_name_the_setting_and_apply_nothing(tmp_path: Path, content: str, needle: str) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text(content)
    r = run(tmp_path / "state", answers)
    assert r.returncode == 2, (r.stdout[-1000:], r.stderr[-1000:])
    assert needle in r.stderr and "Traceback" not in r.stderr + r.stdout, r.stderr
    assert "hunter2hunter2" not in r.stderr + r.stdout  # a refused secret is not echoed back
    assert_nothing_applied(tmp_path / "state")


def test_non_utf8_answers_and_a_bad_environment_value(tmp_path: Path) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_bytes(b"nfs_server: \xff\xfe\n")
    r = run(tmp_path / "state", answers)
    assert r.returncode == 2 and "not UTF-8" in r.stderr and "Traceback" not in r.stderr
    answers.write_text("{}\n")
    r = run(tmp_path / "state", answers, {"STONKS_NFS_PORT": "abc"})
    assert r.returncode == 2 and "STONKS_NFS_PORT" in r.stderr and "Traceback" not in r.stderr
    assert_nothing_applied(tmp_path / "state")
