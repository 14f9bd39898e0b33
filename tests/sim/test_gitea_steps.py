"""The Gitea steps against the simulated Gitea: each FACTS edge case, faults, and idempotency by traffic."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from stonks_tui.clients.gitea import GiteaClient
from stonks_tui.engine.engine import Engine
from stonks_tui.engine.plan import Plan
from stonks_tui.engine.step import MemorySecretStore, StepContext
from stonks_tui.errors import StepFailed
from stonks_tui.journal import Journal
from stonks_tui.redact import Redactor
from stonks_tui.settings import Settings
from stonks_tui.sim.world import World
from stonks_tui.steps.common import Runtime
from stonks_tui.steps.gitea import GiteaInit, GiteaOAuthApp, GiteaRepo, GiteaTokens

PASSWORD = "Admin-Password-123"


def make_ctx(world: World, tmp_path: Path, *, timeout: float = 5.0) -> StepContext:
    settings = Settings(gitea_public_url=world.gitea.server.url, gitea_api_url=world.gitea.server.url)
    redactor = Redactor()
    ctx = StepContext(settings=settings, secrets=MemorySecretStore(redactor), redact=redactor)
    ctx.secrets.set("gitea-admin-password", PASSWORD)
    rt = Runtime(context="stonks-demo", kubeconfig=str(world.kubeconfig), state_dir=tmp_path, env=dict(os.environ))
    rt._clients["gitea"] = GiteaClient(world.gitea.server.url, timeout=timeout)
    ctx.clients["runtime"] = rt
    return ctx


async def run_steps(ctx: StepContext, tmp_path: Path, *steps) -> dict:
    plan = Plan("install", [s(ctx.settings) for s in steps])
    journal = Journal(tmp_path / "j.json", "install", "t")
    summary = await Engine(plan, ctx, journal).run()
    return {"ok": summary.ok, "errors": summary.errors, "hints": {k: r.hint for k, r in journal.steps.items()}}


ALL = (GiteaInit, GiteaTokens, GiteaOAuthApp, GiteaRepo)


async def test_fresh_gitea_then_second_run_writes_nothing(world: World, tmp_path: Path) -> None:
    ctx = make_ctx(world, tmp_path)
    assert (await run_steps(ctx, tmp_path, *ALL))["ok"]
    before = len(world.gitea.traffic)
    assert (await run_steps(ctx, tmp_path, *ALL))["ok"]
    writes = [t for t in world.gitea.traffic[before:] if t[0] != "GET"]
    assert writes == []  # idempotent: the second run only reads


async def test_token_clash_is_replaced_not_piled_up(world: World, tmp_path: Path) -> None:
    ctx = make_ctx(world, tmp_path)
    await run_steps(ctx, tmp_path, GiteaInit)
    httpx.post(f"{world.gitea.server.url}/api/v1/users/gitea_admin/tokens", auth=("gitea_admin", PASSWORD),
               json={"name": "stonks-tui", "scopes": ["all"]})  # a stale token of ours, value unknown
    assert (await run_steps(ctx, tmp_path, GiteaInit, GiteaTokens))["ok"]
    names = [t["name"] for t in world.gitea.state["tokens"]]
    assert sorted(names) == ["stonks-tui", "stonks-tui-argocd-readonly"]


async def test_existing_apps_are_reused_and_an_unknown_secret_rotated(world: World, tmp_path: Path) -> None:
    ctx = make_ctx(world, tmp_path)
    await run_steps(ctx, tmp_path, GiteaInit, GiteaTokens)
    token = {"Authorization": f"token {ctx.secrets.get('gitea-token')}"}
    body = {"name": "Woodpecker CI", "redirect_uris": ["https://stonks-ci.celestium.life/authorize"],
            "confidential_client": True}
    for _ in range(2):  # the old script's duplicates: names are not unique in Gitea
        httpx.post(f"{world.gitea.server.url}/api/v1/user/applications/oauth2", headers=token, json=body)
    before = [a["secret_hash"] for a in world.gitea.state["apps"]]
    assert (await run_steps(ctx, tmp_path, GiteaInit, GiteaTokens, GiteaOAuthApp))["ok"]
    assert len(world.gitea.state["apps"]) == 2  # no third app
    after = [a["secret_hash"] for a in world.gitea.state["apps"]]
    assert sum(a != b for a, b in zip(before, after, strict=True)) == 1  # exactly one rotated by PATCH
    assert ctx.secrets.get("woodpecker-oauth-client-secret")


async def test_must_change_password_and_reserved_name(world: World, tmp_path: Path) -> None:
    ctx = make_ctx(world, tmp_path)
    await run_steps(ctx, tmp_path, GiteaInit)
    world.gitea.state["users"]["gitea_admin"]["must_change_password"] = True
    result = await run_steps(ctx, tmp_path, GiteaInit, GiteaTokens)
    assert "change your password" in result["errors"]["gitea-init"]
    reserved = make_ctx(world, tmp_path)
    step = GiteaInit(reserved.settings.replace(gitea_admin_user="admin"))
    reserved.settings = step.settings
    with pytest.raises(StepFailed, match="reserved"):
        await step.apply(reserved.for_step("gitea-init", lambda _l: None))


async def test_repo_409_and_leftover_files(world: World, tmp_path: Path) -> None:
    ctx = make_ctx(world, tmp_path)
    await run_steps(ctx, tmp_path, GiteaInit, GiteaTokens)
    (world.gitea.repo_root / "gitea_admin" / "stonks-oracle.git").mkdir(parents=True)
    result = await run_steps(ctx, tmp_path, GiteaInit, GiteaTokens, GiteaRepo)
    assert "repository files already exist" in result["errors"]["gitea-repo"]
    assert "Unadopted" in result["hints"]["gitea-repo"]
    import shutil

    shutil.rmtree(world.gitea.repo_root / "gitea_admin" / "stonks-oracle.git")
    assert (await run_steps(ctx, tmp_path, GiteaInit, GiteaTokens, GiteaRepo))["ok"]
    token = {"Authorization": f"token {ctx.secrets.get('gitea-token')}"}
    again = httpx.post(f"{world.gitea.server.url}/api/v1/user/repos", headers=token, json={"name": "stonks-oracle"})
    assert again.status_code == 409


async def test_server_errors_are_retried_then_succeed(tmp_path: Path) -> None:
    with World(tmp_path / "w", speed=0.0, faults="gitea:POST /api/v1/user/repos=500x2") as world:
        ctx = make_ctx(world, tmp_path)
        result = await run_steps(ctx, tmp_path, GiteaInit, GiteaTokens, GiteaRepo)
        assert result["ok"], result
        posts = [t for t in world.gitea.traffic if t == ("POST", "/api/v1/user/repos")]
        assert len(posts) == 3  # two 500s, then created


async def test_timeout_is_retried(tmp_path: Path) -> None:
    with World(tmp_path / "w", speed=0.0, faults="gitea:GET /api/healthz=timeoutx1") as world:
        world.gitea.hang_seconds = 2.0
        ctx = make_ctx(world, tmp_path, timeout=0.5)
        assert (await run_steps(ctx, tmp_path, GiteaInit))["ok"]


async def test_connection_refused_names_the_cause(world: World, tmp_path: Path) -> None:
    ctx = make_ctx(world, tmp_path)
    ctx.clients["runtime"]._clients["gitea"] = GiteaClient("http://127.0.0.1:9", timeout=0.5)
    result = await run_steps(ctx, tmp_path, GiteaInit)
    assert "unreachable" in result["errors"]["gitea-init"]


async def test_install_form_survives_giteas_restart(world: World, tmp_path: Path) -> None:
    """Found on the real Gitea: after the form its listener closes for seconds while the installed server starts
    (longer than the client's retries), and it then refuses anonymous API calls (REQUIRE_SIGNIN_VIEW)."""
    world.gitea.speed, world.gitea.start_delay = 1.0, 5.0
    ctx = make_ctx(world, tmp_path)
    result = await run_steps(ctx, tmp_path, GiteaInit)
    assert result["ok"], result
    anonymous = httpx.get(f"{world.gitea.server.url}/api/v1/version", timeout=5)
    assert anonymous.status_code == 403
