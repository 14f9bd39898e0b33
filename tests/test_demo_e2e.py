"""The whole product against the simulated world, as an operator runs it: install, re-run, plan, teardown,
reinstall — and no secret anywhere it should not be."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PYTHON
from tests.leaks import assert_no_secret_leaked


def run(state: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "stonks_tui", "--state-dir", str(state), "--demo", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def pv_state(state: Path) -> dict[str, tuple[str, str, str]]:
    world = json.loads((state / "demo" / "world.json").read_text())
    return {o["object"]["metadata"]["name"]: (o["object"]["status"]["phase"],
                                              o["object"]["spec"]["nfs"]["path"],
                                              (o["object"]["spec"].get("claimRef") or {}).get("name", ""))
            for o in world["kube"]["objects"]
            if o["plural"] == "persistentvolumes" and o["object"]["metadata"]["name"].startswith("pipeline-")}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict:
    state = tmp_path_factory.mktemp("state")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_") and k != "PYTHON_KEYRING_BACKEND"}
    env.update({"STONKS_SIM_SPEED": "0", "PYTHONUNBUFFERED": "1"})
    first = run(state, "install", "--yes", env=env)
    return {"state": state, "env": env, "first": first, "outputs": [first]}


def test_install_completes(demo: dict) -> None:
    r = demo["first"]
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "install finished" in r.stdout
    assert "add this deploy key" in r.stdout and "ssh-ed25519 " in r.stdout
    key = (demo["state"] / "stonks-demo" / "github-deploy-key.pub").read_text().strip()  # whole, to copy
    assert key.startswith("ssh-ed25519 ") and key in r.stdout
    status = run(demo["state"], "status", "-o", "json", env=demo["env"])
    doc = json.loads(status.stdout)  # only the document on stdout
    assert (doc["kind"], doc["version"], doc["context"]) == ("Status", 1, "stonks-demo")
    assert doc["deployKeyFile"].endswith("github-deploy-key.pub") and doc["live"] is None
    [latest] = doc["runs"]
    assert (latest["plan"], latest["status"], len(latest["steps"])) == ("install", "done", 19)
    assert {step["state"] for step in latest["steps"]} == {"done"} and "outputs" not in latest["steps"][0]
    assert {name: phase for name, (phase, _, _) in pv_state(demo["state"]).items()} == {
        "pipeline-argocd-pv": "Bound", "pipeline-kargo-pv": "Bound", "pipeline-woodpecker-pv": "Bound"}
    # The NetworkPolicy selects the chart's server pod (labels app.kubernetes.io/name: server): found on the real
    # tier's chart contract; before, it selected nothing.
    kube = json.loads((demo["state"] / "demo" / "world.json").read_text())["kube"]["objects"]
    policy = next(o["object"] for o in kube if o["plural"] == "networkpolicies")
    want = policy["spec"]["podSelector"]["matchLabels"]
    pods = [o["object"]["metadata"]["name"] for o in kube if o["plural"] == "pods"
            and want.items() <= (o["object"]["metadata"].get("labels") or {}).items()]
    assert pods == ["woodpecker-server-0"], pods
    # Found on the real Gitea: a push of develop and main into an empty repository makes develop the default.
    world = json.loads((demo["state"] / "demo" / "world.json").read_text())
    assert [r.get("default_branch", "main") for r in world["gitea"]["repos"].values()] == ["main"]


def test_second_run_applies_nothing_and_plan_is_empty(demo: dict) -> None:
    argv_log = demo["state"] / "demo" / "helm-argv.jsonl"
    before = len(argv_log.read_text().splitlines())
    again = run(demo["state"], "install", "--yes", "--quiet", env=demo["env"])
    demo["outputs"].append(again)
    # Nothing applied: 18 steps found done, and verify ran its live checks (its check is its work).
    assert again.returncode == 0 and "(18 unchanged, 1 ok)" in again.stdout, again.stdout[-2000:]
    # preflight's listing, and one for the run's checks asked ahead (each release step and ARC's asked its own: 5).
    lists = [line for line in argv_log.read_text().splitlines()[before:] if '"list"' in line]
    assert len(lists) == 2, lists
    before = len(argv_log.read_text().splitlines())
    plan = run(demo["state"], "plan", env=demo["env"])
    demo["outputs"].append(plan)
    # The steps describe at once and share one `helm list` (each asked its own: 7 helm processes per plan).
    lists = [line for line in argv_log.read_text().splitlines()[before:] if '"list"' in line]
    assert len(lists) == 1, lists
    assert plan.returncode == 0
    assert plan.stdout.count(": nothing to change\n") == 19, plan.stdout
    assert plan.stdout.rstrip().endswith("install plan: nothing to change (19 steps checked)")
    drift = run(demo["state"], "plan", "--exit-code", "-o", "json", env=demo["env"])
    demo["outputs"].append(drift)
    assert drift.returncode == 0, drift.stderr
    doc = json.loads(drift.stdout)
    assert (doc["kind"], doc["plan"], doc["summary"]["changes"], doc["summary"]["steps"]) == ("Plan", "install", 0, 19)
    assert {step["status"] for step in doc["steps"]} == {"unchanged"}


def test_no_secret_on_helm_argv_or_in_any_file(demo: dict) -> None:
    state = demo["state"]
    captured = "".join(r.stdout + r.stderr for r in demo["outputs"])
    secrets = assert_no_secret_leaked(state, captured)
    assert {"gitea-admin-password", "gitea-token", "gitea-readonly-token", "woodpecker-oauth-client-secret",
            "kargo-admin-password", "kargo-token-signing-key", "github-mirror-deploy-key"} <= set(secrets)
    assert (state / "demo" / "helm-argv.jsonl").read_text().count('"argv"') >= 5


def test_teardown_keeps_pvs_and_reinstall_rebinds(demo: dict) -> None:
    state, env = demo["state"], demo["env"]
    before = pv_state(state)
    down = run(state, "teardown", "--yes", env=env)
    assert down.returncode == 0, down.stdout[-2000:]
    after = pv_state(state)
    assert set(after) == set(before)
    assert all(phase == "Released" and path == before[name][1] for name, (phase, path, _) in after.items())
    # The install's steps are no longer shown done: the teardown undid them (status and the Resume screen).
    runs = {r["plan"]: r for r in json.loads(run(state, "status", "-o", "json", env=env).stdout)["runs"]}
    assert runs["install"]["undoneAt"] == runs["teardown"]["finishedAt"] is not None
    assert {step["state"] for step in runs["install"]["steps"]} == {"pending"}
    drift = run(state, "plan", "--exit-code", "-o", "json", env=env)
    assert drift.returncode == 4, drift.stderr  # drift: the install would create again what teardown removed
    doc = json.loads(drift.stdout)
    assert doc["summary"]["create"] > 0 and doc["summary"]["unknown"] == []
    changed = {step["id"] for step in doc["steps"] if step["status"] == "changes"}
    assert {"namespaces", "woodpecker"} <= changed, changed
    kept = run(state, "verify", env=env)
    assert kept.returncode == 0, kept.stdout
    assert "last run was a teardown" in kept.stdout and "PASS kept-pvs" in kept.stdout
    assert "/volume1/Kubernetes/pipelines/woodpecker" in kept.stdout
    up = run(state, "install", "--yes", "--quiet", env=env)
    assert up.returncode == 0, up.stdout[-2000:]
    assert pv_state(state) == before  # same claims, same NFS paths, bound again
    live = run(state, "verify", "-o", "json", env=env)
    assert live.returncode == 0, live.stdout
    doc = json.loads(live.stdout)
    assert (doc["kind"], doc["afterTeardown"], doc["summary"]["failed"]) == ("VerifyReport", False, 0)
    names = {check["name"]: check["status"] for check in doc["checks"]}
    assert names["volumes"] == "pass" and "kept-pvs" not in names
    refused = run(state, "teardown", "--yes", "--delete-pvs", "--quiet", env=env)
    assert refused.returncode == 2 and "not typed" in refused.stderr and "--confirm-pv-names" in refused.stderr
    assert set(pv_state(state)) == set(before)
