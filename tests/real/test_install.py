"""The product as an operator runs it, on the real control plane, helm and Gitea."""

from __future__ import annotations

import subprocess

import httpx

from tests.real.world import ADMIN_PASSWORD, World


def show(proc: subprocess.CompletedProcess) -> str:
    failed = [line for line in proc.stdout.splitlines() if "✗" in line or "hint:" in line]  # whatever the tail holds
    return (f"exit {proc.returncode} after {getattr(proc, 'seconds', 0):.1f} s\n--- failed\n" + "\n".join(failed)
            + f"\n--- stdout\n{proc.stdout[-8000:]}"
            f"\n--- stderr\n{proc.stderr[-3000:]}")


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, show(proc)
    return proc


def has_actions(world: World) -> bool:
    assert world.gitea is not None
    repo = httpx.get(f"{world.gitea.url}/api/v1/repos/gitea_admin/stonks-oracle", auth=("gitea_admin", ADMIN_PASSWORD),
                     timeout=10).json()
    return bool(repo["has_actions"])


def test_install_plan_verify_teardown_reinstall(world_each_helm: World) -> None:
    """A full install on a fresh homelab — Woodpecker's token fetched through the real Gitea's sign-in, Gitea
    Actions turned off for the repository; `plan` then has nothing to change and `verify` passes; `teardown` keeps
    the PVs and turns Actions back on; a second install binds the Released PVs again."""
    world = world_each_helm
    first = ok(world.cli("install", "--yes"))
    assert "signing in to Gitea as gitea_admin (for Woodpecker's token)" in first.stdout
    assert "granting Woodpecker access to the account" in first.stdout  # the real Gitea's grant page, once
    assert not has_actions(world)  # Gitea 1.27 had it on for the new repository
    # The export proved writable as uid 1000 by a Job the real API server validated (securityContext, inline NFS
    # volume) and the real job controller ran (kwok completes its pod), then removed.
    assert "writable  127.0.0.1:/volume1/Kubernetes/pipelines/woodpecker as uid 1000" in first.stdout
    assert world.cluster.get("/apis/batch/v1/namespaces/woodpecker/jobs/stonks-nfs-probe") is None
    # Kargo's webhooks, which the real API server calls (failurePolicy Fail): the first Kargo write met one not
    # answering yet (a CA not injected, a server not serving); the install waited, then every write passed them.
    assert "waiting   for Kargo's admission webhooks to answer" in first.stdout, first.stdout[-4000:]
    hooks = world.kargo_webhooks
    assert hooks.silenced >= 1 and all(allowed for _, _, allowed in hooks.calls)
    assert {path.rsplit("-", 1)[-1] for path, _, _ in hooks.calls} >= {"project", "stage", "warehouse"}
    # Kargo's management controller (its stand-in) holds its finalizer on its controller's account, the Project
    # and the live namespace, as on a real cluster: what hung `helm uninstall kargo --wait` and the namespace.
    kargo_sa = "/api/v1/namespaces/kargo/serviceaccounts/kargo-controller"
    assert "kargo.akuity.io/finalizer" in world.cluster.get(kargo_sa)["metadata"]["finalizers"]
    assert "kargo.akuity.io/finalizer" in world.cluster.get("/api/v1/namespaces/stonks-oracle")["metadata"][
        "finalizers"]
    # The real CRDs (../shared/upstream) validate and prune: what the install wrote survives them whole.
    crd = world.cluster.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/stages.kargo.akuity.io")
    assert "promotionTemplate" in crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "properties"]  # the real, structural schema (not the test charts' permissive one)
    from stonks_tui.render import render
    from stonks_tui.settings import Settings

    rendered = {o["metadata"]["name"]: o for _, o in render(Settings()).all_objects() if o["kind"] == "Stage"}
    for stage in ("beta", "paper", "live"):
        live = world.cluster.get(f"/apis/kargo.akuity.io/v1alpha1/namespaces/stonks-oracle/stages/{stage}")
        wrote = rendered[stage]["spec"]["promotionTemplate"]["spec"]["steps"]
        kept = live["spec"]["promotionTemplate"]["spec"]["steps"]
        assert [s.get("if") for s in kept] == [s.get("if") for s in wrote]
        assert [s.get("as") for s in kept] == [s.get("as") for s in wrote]
        assert [s["uses"] for s in kept] == [s["uses"] for s in wrote]
        assert kept[-1]["config"]["apps"][0]["sources"][0]["helm"]["images"][0]["key"] == "image.tag"
    # The NetworkPolicy selects the real chart's server pod (and lets its agents in on gRPC).
    policy = world.cluster.get("/apis/networking.k8s.io/v1/namespaces/woodpecker/networkpolicies/"
                               "allow-traefik-to-woodpecker")
    selector = ",".join(f"{k}={v}" for k, v in policy["spec"]["podSelector"]["matchLabels"].items())
    selected = world.cluster.get(f"/api/v1/namespaces/woodpecker/pods?labelSelector={selector}")["items"]
    assert [p["metadata"]["name"] for p in selected] == ["woodpecker-server-0"]
    agents = ",".join(f"{k}={v}" for k, v in policy["spec"]["ingress"][1]["from"][0]["podSelector"]
                      ["matchLabels"].items())
    assert len(world.cluster.get(f"/api/v1/namespaces/woodpecker/pods?labelSelector={agents}")["items"]) == 2
    cm = world.cluster.get("/api/v1/namespaces/argocd/configmaps/argocd-cm")
    assert cm["data"]["url"] == "https://stonks-argocd.celestium.life"  # global.domain from argocd_host
    for stage in ("beta", "paper", "live"):
        app = world.cluster.get(f"/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/stonks-{stage}")
        assert app["metadata"]["annotations"]["kargo.akuity.io/authorized-stage"] == f"stonks-oracle:{stage}"
    plan = ok(world.cli("plan"))
    assert "install plan: nothing to change (19 steps checked)" in plan.stdout, plan.stdout
    ok(world.cli("verify"))
    # A changed volume size changes the server StatefulSet's claim template, which the real API server refuses on
    # an update (helm upgrade failed): planned as a remake, done with consent, the claim (and data) kept.
    sts_path = "/apis/apps/v1/namespaces/woodpecker/statefulsets/woodpecker-server"
    claim_path = "/api/v1/namespaces/woodpecker/persistentvolumeclaims/data-woodpecker-server-0"
    sts, claim = world.cluster.get(sts_path), world.cluster.get(claim_path)
    agent_secret = "/api/v1/namespaces/woodpecker/secrets/woodpecker-default-agent-secret"
    agents_key = world.cluster.get(agent_secret)["data"]
    bigger = world.env(STONKS_NFS_SIZE_WOODPECKER="6Gi")
    plan = ok(world.cli("plan", env=bigger))
    assert "delete    StatefulSet woodpecker/woodpecker-server" in plan.stdout, plan.stdout
    ok(world.cli("install", "--yes", env=bigger))
    remade = world.cluster.get(sts_path)
    assert remade["metadata"]["uid"] != sts["metadata"]["uid"]
    assert remade["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "6Gi"
    assert world.cluster.get(claim_path)["metadata"]["uid"] == claim["metadata"]["uid"]
    assert world.cluster.get(agent_secret)["data"] == agents_key  # the chart keeps it across the upgrade
    ok(world.cli("teardown", "--yes"))
    assert has_actions(world)  # put back as the install found it
    # Kargo gone whole, nothing left Terminating; the live namespace kept, clean of Kargo's finalizer.
    assert world.cluster.get("/api/v1/namespaces/kargo") is None
    live = world.cluster.get("/api/v1/namespaces/stonks-oracle")
    assert live is not None and not live["metadata"].get("deletionTimestamp")
    assert "kargo.akuity.io/finalizer" not in (live["metadata"].get("finalizers") or [])
    assert world.cluster.get("/apis/kargo.akuity.io/v1alpha1/projects/stonks-oracle") is None
    pvs = {pv["metadata"]["name"]: pv for pv in world.cluster.get("/api/v1/persistentvolumes")["items"]}
    for name in ("pipeline-argocd-pv", "pipeline-kargo-pv", "pipeline-woodpecker-pv"):
        assert name in pvs and pvs[name]["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    ok(world.cli("verify"))
    ok(world.cli("install", "--yes"))
    pvs = {pv["metadata"]["name"]: pv for pv in world.cluster.get("/api/v1/persistentvolumes")["items"]}
    assert {pvs[n]["status"]["phase"] for n in ("pipeline-argocd-pv", "pipeline-kargo-pv",
                                                  "pipeline-woodpecker-pv")} == {"Bound"}


def test_helm_3_13_with_a_group_readable_kubeconfig(charts) -> None:
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


def _pending_release(world: World) -> str | None:
    for sec in (world.cluster.get("/api/v1/secrets?labelSelector=owner%3Dhelm") or {}).get("items", []):
        labels = sec["metadata"]["labels"]
        if labels.get("status", "").startswith("pending"):
            return f"{sec['metadata']['namespace']}/{labels['name']} {labels['status']}"
    return None


def test_sigkill_during_a_helm_step_then_resume(world_each_helm: World) -> None:
    """A dropped session kills the product and its helm mid-install: the release stays pending for good (helm
    never finishes it, and `helm list` hides it). The next install sees it, says so, and recovers."""
    world = world_each_helm
    import os
    import signal
    import time

    proc = world.spawn("install", "--yes")
    deadline = time.monotonic() + 300
    caught = None
    while time.monotonic() < deadline and proc.poll() is None:
        caught = _pending_release(world)
        if caught:
            # The engine process and its helm (its own session: issue 16), then the client: a lost machine.
            os.killpg(world.engine_pid(), signal.SIGKILL)
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait(30)
    assert caught, "no helm release was ever seen pending"
    time.sleep(1)
    assert _pending_release(world), "the kill should leave the release pending (as real helm does)"
    listed = world.helm_cmd("list", "-A", "-o", "json").stdout
    name = caught.split()[0].split("/")[1]
    if world.helm == "helm-4":  # helm 4 lists every state by default (and has no --all)
        assert name in listed and "pending" in listed
    else:  # helm 3 hides a pending release unless asked --all (or --pending)
        assert name not in listed or "pending" not in listed
    resumed = ok(world.cli("install", "--yes"))
    assert "was interrupted" in resumed.stdout, resumed.stdout[-3000:]
    assert _pending_release(world) is None
    ok(world.cli("plan"))
