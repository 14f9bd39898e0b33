"""Gitea in its second mode, a limited kubeconfig, and an API server that stops answering — on the real programs."""

from __future__ import annotations

import contextlib
import time

import httpx

from tests.real.test_install import ok, show
from tests.real.world import ADMIN_PASSWORD, World


def test_installed_gitea_without_admin_gets_one_through_pod_exec(world_installed_gitea: World) -> None:
    """Gitea installed (INSTALL_LOCK) with no admin: the product runs `su git -c "gitea admin user create …"` in the
    gitea pod through the API server's exec (kwok → the Gitea 'container'), password on stdin, then goes on:
    tokens, OAuth app, repository, a push over smart HTTP with real git, the migration commit."""
    world = world_installed_gitea
    ok(world.cli("install", "--yes"))
    me = httpx.get(f"{world.gitea.url}/api/v1/user", auth=("gitea_admin", ADMIN_PASSWORD), timeout=10)
    assert me.status_code == 200 and me.json()["is_admin"]
    apps = httpx.get(f"{world.gitea.url}/api/v1/user/applications/oauth2", auth=("gitea_admin", ADMIN_PASSWORD),
                     timeout=10).json()
    assert len([a for a in apps if a["name"] == "Woodpecker CI"]) == 1
    commits = httpx.get(f"{world.gitea.url}/api/v1/repos/gitea_admin/stonks-oracle/commits",
                        auth=("gitea_admin", ADMIN_PASSWORD), timeout=10).json()
    repo = httpx.get(f"{world.gitea.url}/api/v1/repos/gitea_admin/stonks-oracle", auth=("gitea_admin", ADMIN_PASSWORD),
                     timeout=10).json()
    assert repo["default_branch"] == "main"  # pushed develop and main: Gitea would have made develop the default
    pipeline = httpx.get(f"{world.gitea.url}/api/v1/repos/gitea_admin/stonks-oracle/contents/.woodpecker.yml",
                         auth=("gitea_admin", ADMIN_PASSWORD), timeout=10)
    assert pipeline.status_code == 200, "the migration's .woodpecker.yml is not in the pushed repository"
    # A second run changes nothing: no second OAuth app, no new token, no new commit.
    ok(world.cli("install", "--yes"))
    apps2 = httpx.get(f"{world.gitea.url}/api/v1/user/applications/oauth2", auth=("gitea_admin", ADMIN_PASSWORD),
                      timeout=10).json()
    assert [a["id"] for a in apps2] == [a["id"] for a in apps]
    commits2 = httpx.get(f"{world.gitea.url}/api/v1/repos/gitea_admin/stonks-oracle/commits",
                         auth=("gitea_admin", ADMIN_PASSWORD), timeout=10).json()
    assert commits2[0]["sha"] == commits[0]["sha"]


def test_preflight_with_a_limited_user_names_what_is_denied(world: World) -> None:
    """A kubeconfig without cluster-admin: a real SelfSubjectAccessReview per verb; nothing is applied."""
    proc = world.cli("install", "--yes", context="real-limited")
    assert proc.returncode == 1, show(proc)
    assert "FAIL permissions: not allowed: create namespaces" in proc.stdout, proc.stdout
    assert "nothing was applied" in proc.stdout
    assert world.cluster.get("/api/v1/namespaces/woodpecker") is None


def test_api_server_stops_answering_mid_install_then_resume(world: World) -> None:
    """SIGSTOP the API server during the install: it keeps its port and answers nothing. The step that waits on
    it fails in bounded time with a clear message; once it answers again, a resume completes."""
    proc = world.spawn("install", "--yes")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and world.cluster.get("/api/v1/namespaces/woodpecker") is None:
        time.sleep(0.1)
    api = world.cluster.procs["apiserver"]
    api.pause()
    started = time.monotonic()
    try:
        code = proc.wait(300)
        took = time.monotonic() - started
    finally:
        api.resume()
    log = (world.root / "spawn.log").read_text()
    assert code == 1, log[-4000:]
    assert took < 240, f"the install took {took:.0f} s to give up on a silent API server"
    assert "did not answer" in log or "timed out" in log or "unreachable" in log, log[-4000:]
    # The API server answers again; the kubelets (kwok) renew their leases and the node lifecycle controller,
    # which marked nodes and pods NotReady during the outage, sees them again — as after a real outage.
    from tests.real.procs import wait_until

    wait_until("nodes Ready again", world.cluster._nodes_ready, 120)
    wait_until("ARC's controller Ready again", lambda: world._ready("Deployment", "arc-systems",
                                                                   "arc-gha-rs-controller") or
               world.cluster.get("/apis/apps/v1/namespaces/arc-systems/deployments/arc-gha-rs-controller") is None,
               120)
    resumed = world.cli("install", "--yes")
    assert resumed.returncode == 0, "\n".join(ln for ln in resumed.stdout.splitlines() if "✗" in ln or "hint" in ln)


def test_arc_removal_when_arcs_controller_is_already_gone(world: World) -> None:
    """The operator removed ARC's controller before its scale set: nothing will clear ARC's finalizers. The
    install must not sit out `helm uninstall --wait`'s five minutes: it stops at the stuck namespace naming the
    finalizers, and with consent (--clear-arc-finalizers) clears exactly those and completes."""
    from tests.real.procs import wait_until

    def listed() -> list[dict]:
        path = "/apis/actions.github.com/v1alpha1/namespaces/arc-systems/autoscalinglisteners"
        with contextlib.suppress(httpx.HTTPStatusError):  # 429 while ARC's CRDs are being established
            return (world.cluster.get(path) or {}).get("items") or []
        return []

    wait_until("the scale set's listener", listed, 30)
    [listener] = listed()  # made by ARC's controller, held by its own finalizer
    assert listener["metadata"]["finalizers"] == ["autoscalinglistener.actions.github.com/finalizer"]
    world.helm_cmd("uninstall", "arc", "-n", "arc-systems", "--wait", "--timeout", "1m")
    first = world.cli("install", "--yes")
    assert first.returncode == 1, show(first)
    assert "stuck Terminating on ARC finalizers" in first.stdout, first.stdout[-3000:]
    assert first.seconds < 150, f"took {first.seconds:.0f} s"  # type: ignore[attr-defined]
    second = ok(world.cli("install", "--yes", "--clear-arc-finalizers"))
    assert "cleared" in second.stdout
    assert world.cluster.get("/api/v1/namespaces/arc-runners") is None
    assert world.cluster.get("/api/v1/namespaces/arc-systems") is None  # the listener's finalizer cleared too
    # Only ARC's own finalizers were touched: ARC's CRDs (helm never deletes crds/) are still there.
    assert world.cluster.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                             "autoscalingrunnersets.actions.github.com") is not None
