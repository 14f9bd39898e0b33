"""The fault matrix: every injectable fault fails the right step with an operator-facing reason and hint, leaves
independent steps finishing, leaks no secret into what the operator sees, and a re-run after the fault clears
completes. The real engine and clients against the simulated world (in-process, fresh per case), on the smallest
plan that reaches the faulty call plus an independent step. A namespace stuck Terminating is covered in
tests/sim/test_arc_removal.py (ARC's runner namespace held by its finalizers).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from stonks_tui.cli import Session
from stonks_tui.engine.plan import Plan
from stonks_tui.steps.cluster import Namespaces, WoodpeckerAgentRbac, WoodpeckerNetworkPolicy
from stonks_tui.steps.cluster import PersistentVolumes as Pvs
from stonks_tui.steps.gitea import GiteaInit, GiteaOAuthApp, GiteaRepo, GiteaTokens
from stonks_tui.steps.releases import Kargo
from stonks_tui.steps.repo import RepoPush
from tests.leaks import assert_no_secret_leaked

GITEA = (GiteaInit, GiteaTokens, GiteaOAuthApp, GiteaRepo, Namespaces)
CLUSTER = (Namespaces, Pvs, WoodpeckerNetworkPolicy, WoodpeckerAgentRbac, GiteaInit)

# (case, STONKS_SIM_FAULTS, steps, the step that must fail, words its error must contain, steps that must finish)
CASES = [
    ("gitea 401", "gitea:POST /api/v1/users/[^/]+/tokens=401x*", GITEA, "gitea-token", "401",
     {"gitea-init", "namespaces"}),
    ("gitea 403", "gitea:POST /api/v1/user/repos=403x*", GITEA, "gitea-repo", "403",
     {"gitea-oauth-app", "namespaces"}),
    ("gitea 409", "gitea:POST /api/v1/user/repos=409x*", GITEA, "gitea-repo", "409", {"gitea-oauth-app"}),
    ("gitea 422", "gitea:POST /api/v1/user/applications/oauth2=422x*", GITEA, "gitea-oauth-app", "422",
     {"gitea-repo", "namespaces"}),
    ("gitea 500", "gitea:POST /api/v1/user/repos=500x*", GITEA, "gitea-repo", "500", {"gitea-oauth-app"}),
    ("gitea timeout", "gitea:POST /api/v1/user/repos=timeoutx*", GITEA, "gitea-repo", "", {"gitea-oauth-app"}),
    ("kube 403", "kube:PATCH .*/networkpolicies/=403x*", CLUSTER, "woodpecker-network-policy", "403",
     {"pvs", "woodpecker-agent-rbac", "gitea-init"}),
    ("kube 409", "kube:PATCH .*/persistentvolumes/=409x*", CLUSTER, "pvs", "409",
     {"woodpecker-network-policy", "gitea-init"}),
    ("kube 500", "kube:PATCH .*/clusterrolebindings/=500x*", CLUSTER, "woodpecker-agent-rbac", "500",
     {"pvs", "gitea-init"}),
    ("kube timeout", "kube:PATCH .*/networkpolicies/=timeoutx*", CLUSTER, "woodpecker-network-policy", "",
     {"pvs", "gitea-init"}),
    ("helm exit 1", "helm:upgrade --install kargo=exit1x*", (Namespaces, Pvs, Kargo, GiteaInit), "kargo", "exit 1",
     {"pvs", "gitea-init"}),
]


@pytest.fixture
def demo(demo_session: Session) -> Session:
    return demo_session


async def run(session: Session, steps: tuple) -> tuple[object, dict]:
    runner = session.runner()
    plan = Plan("install", [step(session.settings) for step in steps])
    summary = await runner.run(plan, [])
    return summary, runner.journal("install").steps


def secrets_of(session: Session) -> list[str]:
    store = session.secrets
    return [v for name in store.list_names() if (v := store.get(name)) and len(v) >= 8]


@pytest.mark.parametrize(("spec", "steps", "failing", "words", "finishing"),
                         [pytest.param(*case[1:], id=case[0]) for case in CASES])
async def test_fault_fails_the_right_step_then_a_rerun_completes(demo: Session, tmp_path: Path, spec, steps,
                                                                   failing, words, finishing) -> None:
    world = demo.demo.world
    world.gitea.hang_seconds = world.kube.hang_seconds = 1.0  # a hang the clients' timeouts see quickly
    from stonks_tui.sim.faults import parse

    world.faults.rules = parse(spec)
    demo.runtime.env["STONKS_SIM_FAULTS"] = spec  # the helm stand-in runs as a child process with this env
    summary, steps_after = await run(demo, steps)
    assert not summary.ok
    record = steps_after[failing]
    assert record.state == "failed", {k: (r.state, r.last_error) for k, r in steps_after.items()}
    assert words in (record.last_error or "") and record.hint, (record.last_error, record.hint)
    assert "Traceback" not in (record.last_error or "")
    for sid in finishing:
        assert steps_after[sid].state == "done", (sid, steps_after[sid].state, steps_after[sid].last_error)
    shown = " ".join(f"{r.last_error} {r.hint}" for r in steps_after.values())
    assert not [s for s in secrets_of(demo) if s in shown]  # nothing secret in what the operator reads

    world.faults.rules = []  # the fault clears
    demo.runtime.env.pop("STONKS_SIM_FAULTS")
    summary, steps_after = await run(demo, steps)
    assert summary.ok, {k: (r.state, r.last_error) for k, r in steps_after.items()}
    demo.secrets.flush()
    assert_no_secret_leaked(tmp_path, "")  # logs, journal, helm's argv: nothing secret after a faulted run


async def test_git_push_rejected_explains_and_completes_once_resolved(demo: Session, tmp_path: Path) -> None:
    steps = (GiteaInit, GiteaTokens, GiteaRepo, RepoPush, Namespaces)
    summary, _ = await run(demo, steps[:3])
    assert summary.ok
    # Someone pushed to Gitea first: a commit the local clone does not have.
    bare = demo.demo.world.gitea.repo_root / demo.settings.gitea_admin_user / "stonks-oracle.git"
    other = tmp_path / "other"
    git = ["git", "-c", "user.name=someone", "-c", "user.email=someone@example.test"]
    subprocess.run([*git, "init", "-q", "-b", "main", str(other)], check=True)
    (other / "README.md").write_text("a commit made elsewhere\n")
    subprocess.run([*git, "-C", str(other), "add", "."], check=True)
    subprocess.run([*git, "-C", str(other), "commit", "-qm", "elsewhere"], check=True)
    subprocess.run([*git, "-C", str(other), "push", "-q", str(bare), "main"], check=True)

    summary, steps_after = await run(demo, steps)
    record = steps_after["repo-push"]
    assert record.state == "failed" and "rejected" in (record.last_error or "")
    assert "commits your clone lacks" in (record.hint or "")
    assert steps_after["namespaces"].state == "done"
    subprocess.run(["git", "-C", str(bare), "update-ref", "-d", "refs/heads/main"], check=True)  # resolved
    summary, steps_after = await run(demo, steps)
    assert summary.ok, {k: (r.state, r.last_error) for k, r in steps_after.items()}
