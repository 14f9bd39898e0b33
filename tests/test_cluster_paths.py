"""Install paths beyond create/unchanged: a changed setting updates, a missing Woodpecker token stops the install
as "needs you" and a later run with the token finishes, an old helm is refused with the reason."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

import pytest

from stonks_tui.clients.helm import HelmClient
from stonks_tui.errors import StepFailed
from stonks_tui.sim.world import World
from tests.conftest import PYTHON


def cli(state: Path, *args: str, **env_extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_")}
    env.update({"STONKS_SIM_SPEED": "0", **env_extra})
    return subprocess.run([PYTHON, "-m", "stonks_tui", "--state-dir", str(state), "--demo", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def test_needs_operator_then_resume_with_token_and_a_setting_change_updates(tmp_path: Path) -> None:
    """Where Gitea cannot be signed in to without a person (the admin enrolled in 2FA), the step says so and every
    fallback works: a token given by the operator, a refused one asked for again."""
    twofa = {"STONKS_SIM_GITEA_2FA": "1"}
    first = cli(tmp_path, "install", "--yes", "--quiet", **twofa)
    assert first.returncode == 1
    assert ("needs you: stonks-tui cannot sign in to Woodpecker for you: Gitea requires two-factor authentication "
            "(2FA) for gitea_admin") in first.stdout
    assert "STONKS_WOODPECKER_TOKEN" in first.stdout and "secrets rotate woodpecker-token" in first.stdout
    journal = json.loads((tmp_path / "stonks-demo" / "install.json").read_text())
    assert journal["steps"]["woodpecker-activate"]["state"] == "needs-operator"
    assert journal["steps"]["verify"]["state"] == "pending"
    half = cli(tmp_path, "plan", **twofa)  # plan on a half-installed world
    assert "woodpecker-activate: 1 change\n" in half.stdout and "signs in through Gitea as gitea_admin" in half.stdout
    assert "install plan: 1 change (1 to create) in 1 step of 19" in half.stdout
    assert half.stdout.count("nothing to change") == 18, half.stdout
    refused = cli(tmp_path, "install", "--yes", "--quiet", STONKS_WOODPECKER_TOKEN="wp_a-token-Woodpecker-refuses",
                  **twofa)
    assert refused.returncode == 1  # a wrong token leads back to where a new one is given, not to a dead end
    assert "Gitea requires two-factor authentication (2FA)" in refused.stdout
    assert f"stonks-tui --state-dir {tmp_path} --demo secrets rotate woodpecker-token" in refused.stdout
    assert "woodpecker-token" not in cli(tmp_path, "secrets", "list", **twofa).stdout
    with World(tmp_path / "demo", speed=0.0, faults="") as world:  # the operator logs in and makes a token
        token = world.woodpecker.mint_token("gitea_admin")
    second = cli(tmp_path, "install", "--yes", "--quiet", STONKS_WOODPECKER_TOKEN=token, **twofa)
    assert second.returncode == 0, second.stdout[-2000:]
    assert token not in second.stdout

    plan = cli(tmp_path, "plan", STONKS_WOODPECKER_AGENT_REPLICAS="3", STONKS_RBAC_MODE="namespaced")
    assert "update    HelmRelease woodpecker/woodpecker" in plan.stdout
    assert "delete    ClusterRoleBinding woodpecker-agent-inttest  (other RBAC mode)" in plan.stdout
    changed = cli(tmp_path, "install", "--yes", "--quiet", STONKS_WOODPECKER_AGENT_REPLICAS="3",
                  STONKS_RBAC_MODE="namespaced")
    assert changed.returncode == 0, changed.stdout[-2000:]
    assert "✓ woodpecker " in changed.stdout and "✓ woodpecker-agent-rbac " in changed.stdout
    after = cli(tmp_path, "plan", STONKS_WOODPECKER_AGENT_REPLICAS="3", STONKS_RBAC_MODE="namespaced")
    assert after.stdout.count(": nothing to change\n") == 19, after.stdout
    assert "install plan: nothing to change (19 steps checked)" in after.stdout
    world = json.loads((tmp_path / "demo" / "world.json").read_text())
    agent = next(o["object"] for o in world["kube"]["objects"] if o["plural"] == "statefulsets"
                 and o["object"]["metadata"]["name"] == "woodpecker-agent")
    assert agent["spec"]["replicas"] == 3
    roles = {o["object"]["metadata"]["name"]: o["object"]["roleRef"]["name"] for o in world["kube"]["objects"]
             if o["plural"] == "clusterrolebindings" and o["object"]["metadata"]["name"] == "woodpecker-agent-inttest"}
    assert roles == {"woodpecker-agent-inttest": "woodpecker-agent-inttest"}  # no longer cluster-admin


def test_old_helm_is_refused_with_the_reason(tmp_path: Path) -> None:
    fake = tmp_path / "helm"
    fake.write_text("#!/bin/sh\necho v3.12.3+g3a31588\n")
    fake.chmod(0o755)
    helm = HelmClient(env={"PATH": str(tmp_path)})
    with pytest.raises(StepFailed, match=r"helm 3\.12\.3 is too old: Kargo's OCI chart needs ≥ 3\.13\.1"):
        asyncio.run(helm.require_version())
    missing = HelmClient(env={"PATH": str(tmp_path / "nowhere")})
    with pytest.raises(StepFailed, match="not installed"):
        asyncio.run(missing.require_version())


def test_a_finalizer_a_controller_adds_is_not_a_change() -> None:
    """Found on the real tier: Kargo's controller adds its finalizer to a Stage between a check's GET and its
    dry-run; the product never sets finalizers, so that must not read as an update it would make."""
    from stonks_tui.steps.common import field_diff

    live = {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Stage", "metadata": {"name": "live"}, "spec": {"a": 1}}
    would = {**live, "metadata": {"name": "live", "finalizers": ["kargo.akuity.io/finalizer"]}}
    assert field_diff(live, would) == []
    assert field_diff(live, {**would, "spec": {"a": 2}}) == ["spec.a: 1 → 2"]


def test_a_migration_written_but_not_committed_is_committed_by_the_resume(tmp_path: Path) -> None:
    """repo-migrate writes its files, then commits: a run that stops in between (a kill; here a git index.lock a
    crashed git left) leaves them uncommitted. They are the migration's own, so the resume commits them — before,
    repo-push refused the clone for 'uncommitted changes … the migration commit would sweep in' on every resume.
    An edit of the operator's (not what the migration wrote) is still refused."""
    assert cli(tmp_path, "plan").returncode == 0  # the demo's world and clone
    clone = tmp_path / "demo" / "stonks-oracle"
    lock = clone / ".git" / "index.lock"
    lock.touch()
    stopped = cli(tmp_path, "install", "--yes", "--quiet")
    assert stopped.returncode == 1 and "✗ repo-migrate  failed: git add failed (exit 128): fatal: Unable to create" \
        in stopped.stdout
    assert "remove the .git/index.lock" in stopped.stdout
    lock.unlink()
    written = sorted(line[3:] for line in subprocess.run(["git", "-C", str(clone), "status", "--porcelain"],
                                                         capture_output=True, text=True).stdout.splitlines())
    assert written == [".woodpecker.yml", "infra/helm/stonks-oracle/values.yaml"]
    resumed = cli(tmp_path, "install", "--yes", "--quiet")
    assert resumed.returncode == 0, resumed.stdout[-2000:]
    log = subprocess.run(["git", "-C", str(clone), "log", "--format=%s"], capture_output=True, text=True).stdout
    assert log.splitlines()[0].startswith("ci: build with Woodpecker on Gitea")
    assert not subprocess.run(["git", "-C", str(clone), "status", "--porcelain"], capture_output=True,
                              text=True).stdout.strip()
    values = clone / "infra" / "helm" / "stonks-oracle" / "values.yaml"
    values.write_text(values.read_text() + "# the operator's own edit\n")
    refused = cli(tmp_path, "install", "--yes", "--quiet")
    assert refused.returncode == 1 and "has uncommitted changes in infra/helm/stonks-oracle/values.yaml" in \
        refused.stdout
