"""The product as an operator runs it, on the real control plane, helm and Gitea."""

from __future__ import annotations

import subprocess

from tests.real.world import World


def show(proc: subprocess.CompletedProcess) -> str:
    return (f"exit {proc.returncode} after {getattr(proc, 'seconds', 0):.1f} s\n--- stdout\n{proc.stdout[-8000:]}"
            f"\n--- stderr\n{proc.stderr[-3000:]}")


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, show(proc)
    return proc


def test_install_plan_verify_teardown_reinstall(world: World) -> None:
    """A full install on a fresh homelab; `plan` then has nothing to change and `verify` passes; `teardown` keeps
    the PVs; a second install binds the Released PVs again."""
    ok(world.cli("install", "--yes"))
    plan = ok(world.cli("plan"))
    assert "change(s)" not in plan.stdout, plan.stdout
    ok(world.cli("verify"))
    ok(world.cli("teardown", "--yes"))
    pvs = {pv["metadata"]["name"]: pv for pv in world.cluster.get("/api/v1/persistentvolumes")["items"]}
    for name in ("pipeline-argocd-pv", "pipeline-kargo-pv", "pipeline-woodpecker-pv"):
        assert name in pvs and pvs[name]["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    ok(world.cli("verify"))
    ok(world.cli("install", "--yes"))
    pvs = {pv["metadata"]["name"]: pv for pv in world.cluster.get("/api/v1/persistentvolumes")["items"]}
    assert {pvs[n]["status"]["phase"] for n in ("pipeline-argocd-pv", "pipeline-kargo-pv",
                                                  "pipeline-woodpecker-pv")} == {"Bound"}


def test_helm_3_13_with_a_group_readable_kubeconfig(charts) -> None:  # noqa: ANN001
    """helm 3.13.1 (the lowest supported) warns on stderr on every call when the kubeconfig is group/world-
    readable (k3s --write-kubeconfig-mode 644): the product must not read that as output."""
    from tests.real.conftest import _world

    gen = _world(charts, helm="helm-3.13")
    world = next(gen)
    try:
        world.cluster.kubeconfig.chmod(0o644)
        warn = world.helm_cmd("list", "-A", "-o", "json")
        assert "WARNING: Kubernetes configuration file is" in warn.stderr  # the real helm really does it
        proc = ok(world.cli("install", "--yes"))
        assert "Kubernetes configuration file is" in proc.stdout  # shown in the step log, as a warning
        ok(world.cli("plan"))
    finally:
        gen.close()
