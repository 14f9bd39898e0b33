"""Preflight against passing and failing simulated worlds: each check says pass / warn / fail with a fix."""

from __future__ import annotations

import os
from pathlib import Path

from stonks_tui.checks.preflight import preflight
from stonks_tui.clients.gitea import GiteaClient
from stonks_tui.engine.step import MemorySecretStore, StepContext
from stonks_tui.redact import Redactor
from stonks_tui.settings import Settings
from stonks_tui.sim.helm_standin import install_wrapper
from stonks_tui.sim.world import World
from stonks_tui.steps.common import Runtime


def ctx_for(world: World, tmp_path: Path, **changes: object) -> StepContext:
    settings = Settings(**{**world.settings_overrides(), **changes})
    redactor = Redactor()
    ctx = StepContext(settings=settings, secrets=MemorySecretStore(redactor), redact=redactor)
    bin_dir = install_wrapper(tmp_path / "bin").parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "KUBECONFIG": str(world.kubeconfig),
           "STONKS_SIM_DIR": str(world.dir)}
    rt = Runtime(context="stonks-demo", kubeconfig=str(world.kubeconfig), state_dir=tmp_path, env=env)
    rt._clients["gitea"] = GiteaClient(world.gitea.server.url, timeout=5)
    ctx.clients["runtime"] = rt
    return ctx


async def results(ctx: StepContext) -> dict:
    try:
        return {r.name: r for r in await preflight(ctx, timeout=15)}
    finally:
        await ctx.clients["runtime"].aclose()


async def test_fresh_homelab_passes_and_lists_what_it_found(world: World, tmp_path: Path) -> None:
    got = await results(ctx_for(world, tmp_path))
    assert {n: r.status for n, r in got.items()} == {n: "pass" for n in got}, {n: r.line() for n, r in got.items()}
    assert "v1.36" in got["cluster"].reason
    assert "not initialised yet" in got["gitea"].reason
    assert "ARC to remove: arc-runners/arc-runner-set, arc-systems/arc" in got["releases"].reason
    assert "celestium-le-production" in got["ingress"].reason
    assert "longhorn (RWX)" in got["storage"].reason


async def test_failing_world_names_each_problem_and_its_fix(world: World, tmp_path: Path) -> None:
    world.store.denied.add(("create", "clusterrolebindings"))
    ctx = ctx_for(world, tmp_path, nfs_port=9, ingress_class="nginx", woodpecker_storage_class="local-path",
                  woodpecker_storage_rwx="true")
    got = await results(ctx)
    assert got["permissions"].status == "fail" and "create rbac" not in got["permissions"].reason
    assert "create clusterrolebindings" in got["permissions"].reason and "cluster-admin" in got["permissions"].fix
    assert got["nfs"].status == "fail" and "127.0.0.1:9" in got["nfs"].reason
    assert got["ingress"].status == "fail" and "IngressClass nginx" in got["ingress"].reason
    assert got["storage"].status == "fail" and "ReadWriteMany" in got["storage"].reason


async def test_harbor_registry_wants_credentials(tmp_path: Path) -> None:
    with World(tmp_path / "w", speed=0.0, faults="", profile="harbor") as world:
        got = await results(ctx_for(world, tmp_path))
        assert got["registry"].status == "warn" and "Harbor" in got["registry"].reason
        assert "credentials" in got["registry"].reason
