"""Differential tests: the same calls against the real program and the simulated one, comparing what the product
reads (status codes, and the fields its steps branch on). Where they differ the simulator is wrong: fix it."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.real.world import World

APPLY = {"Content-Type": "application/apply-patch+yaml"}
MANAGER = {"fieldManager": "stonks-tui", "force": "true"}


@pytest.fixture
def sim() -> Iterator[Any]:
    from stonks_tui.sim.world import World as SimWorld

    root = Path(tempfile.mkdtemp(prefix="stonks-sim-diff-"))
    world = SimWorld(root, speed=0.0, faults="").start()
    yield world
    world.stop()


def _real(world: World) -> Callable[..., httpx.Response]:
    return world.cluster.request


def _simulated(sim: Any) -> Callable[..., httpx.Response]:
    from stonks_tui.sim.world import SIM_TOKEN

    client = httpx.Client(base_url=sim.kube.server.url, headers={"Authorization": f"Bearer {SIM_TOKEN}"}, timeout=10)
    return client.request


def kube_sequence(call: Callable[..., httpx.Response]) -> list[tuple[str, Any]]:
    """The kinds of call the product's steps make, in order; each row is what the product reads back."""
    out: list[tuple[str, Any]] = []
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "diff"}}
    out.append(("ssa create namespace", call("PATCH", "/api/v1/namespaces/diff", params=MANAGER,
                                              content=json.dumps(ns), headers=APPLY).status_code))
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "diff"}, "data": {"a": "1"}}
    path = "/api/v1/namespaces/diff/configmaps/c"
    first = call("PATCH", path, params=MANAGER, content=json.dumps(cm), headers=APPLY)
    out.append(("ssa create", first.status_code))
    same = call("PATCH", path, params=MANAGER, content=json.dumps(cm), headers=APPLY)
    out.append(("ssa no-op keeps resourceVersion", (same.status_code,
                                                     same.json()["metadata"]["resourceVersion"] ==
                                                     first.json()["metadata"]["resourceVersion"])))
    changed = {**cm, "data": {"a": "2"}}
    dry = call("PATCH", path, params={**MANAGER, "dryRun": "All"}, content=json.dumps(changed), headers=APPLY)
    out.append(("ssa dry-run shows the change, stores nothing", (dry.status_code, dry.json()["data"],
                                                                  call("GET", path).json()["data"])))
    upd = call("PATCH", path, params=MANAGER, content=json.dumps(changed), headers=APPLY)
    out.append(("ssa update", (upd.status_code, upd.json()["data"])))
    forced = call("PATCH", path, params={"fieldManager": "someone-else", "force": "1"},
                  content=json.dumps({**cm, "data": {"a": "3"}}), headers=APPLY)
    out.append(("ssa force=1 is force", forced.status_code))
    yes = call("PATCH", path, params={"fieldManager": "stonks-tui", "force": "yes"},
               content=json.dumps({**cm, "data": {"a": "4"}}), headers=APPLY)
    out.append(("ssa force=yes is force too", yes.status_code))
    conflict = call("PATCH", path, params={"fieldManager": "someone-else"}, content=json.dumps(changed),
                    headers=APPLY)
    out.append(("ssa conflict without force", conflict.status_code))
    pv = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "diff-pv"},
          "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteMany"], "storageClassName": "nfs",
                   "persistentVolumeReclaimPolicy": "Retain", "nfs": {"server": "127.0.0.1", "path": "/a"}}}
    out.append(("create PV", call("PATCH", "/api/v1/persistentvolumes/diff-pv", params=MANAGER,
                                  content=json.dumps(pv), headers=APPLY).status_code))
    pv["spec"]["nfs"]["path"] = "/b"
    out.append(("change an immutable PV source", call("PATCH", "/api/v1/persistentvolumes/diff-pv", params=MANAGER,
                                                      content=json.dumps(pv), headers=APPLY).status_code))
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "s", "namespace": "diff"},
           "spec": {"serviceName": "s", "replicas": 0, "selector": {"matchLabels": {"app": "s"}},
                    "template": {"metadata": {"labels": {"app": "s"}},
                                 "spec": {"containers": [{"name": "c", "image": "example/c:1"}]}},
                    "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}}}}]}}
    sts_path = "/apis/apps/v1/namespaces/diff/statefulsets/s"
    out.append(("create StatefulSet", call("PATCH", sts_path, params=MANAGER, content=json.dumps(sts),
                                           headers=APPLY).status_code))
    sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] = "6Gi"
    refused = call("PATCH", sts_path, params=MANAGER, content=json.dumps(sts), headers=APPLY)
    out.append(("change a StatefulSet's claim template", (refused.status_code, refused.json().get("reason"),
                                                          refused.json().get("message"))))
    orphaned = call("DELETE", sts_path, json={"propagationPolicy": "Orphan"})
    out.append(("delete a StatefulSet orphaning", orphaned.status_code))
    fin = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "held", "namespace": "diff", "finalizers": ["example.com/hold"]}}
    call("PATCH", "/api/v1/namespaces/diff/configmaps/held", params=MANAGER, content=json.dumps(fin), headers=APPLY)
    deleted = call("DELETE", "/api/v1/namespaces/diff/configmaps/held")
    still = call("GET", "/api/v1/namespaces/diff/configmaps/held")
    out.append(("delete behind a finalizer", (deleted.status_code, still.status_code,
                                              bool(still.json()["metadata"].get("deletionTimestamp")))))
    call("PATCH", "/api/v1/namespaces/diff/configmaps/held", json={"metadata": {"finalizers": None}},
         headers={"Content-Type": "application/merge-patch+json"})
    out.append(("gone once the finalizer is removed", call("GET", "/api/v1/namespaces/diff/configmaps/held")
                .status_code))
    for attempt in range(4):
        try:
            watch = call("GET", "/api/v1/namespaces/diff/configmaps", params={"watch": "1", "resourceVersion": "1",
                                                                              "timeoutSeconds": "2"})
            break
        except httpx.RemoteProtocolError:
            # On a loaded machine the server (the real one once, the simulator once) closed this keep-alive
            # connection as the request went out: asked again on a new one. What it answers is what is compared.
            if attempt == 3:
                raise
            time.sleep(0.5)
    first_event = json.loads(watch.text.splitlines()[0]) if watch.text.strip() else {}
    out.append(("watch from a compacted resourceVersion", (watch.status_code, first_event.get("type"),
                                                           (first_event.get("object") or {}).get("code"))))
    missing = call("GET", "/apis/argoproj.io/v1alpha1/namespaces/diff/applications")
    out.append(("a kind no CRD serves", missing.status_code))
    return out


def test_kube_api_sim_matches_the_real_api_server(world: World, sim: Any) -> None:
    # The real API server compacts history: make sure resourceVersion 1 is long gone there.
    etcd = f"http://127.0.0.1:{world.cluster.etcd_port}"
    head = httpx.post(f"{etcd}/v3/kv/range", json={"key": "Zm9v"}, timeout=5).json()["header"]["revision"]
    httpx.post(f"{etcd}/v3/kv/compaction", json={"revision": head, "physical": True}, timeout=10)
    real = kube_sequence(_real(world))
    simulated = kube_sequence(_simulated(sim))
    diffs = [(r[0], r[1], s[1]) for r, s in zip(real, simulated, strict=True) if r != s]
    assert not diffs, "simulator differs from kube-apiserver v1.36.3:\n" + "\n".join(
        f"  {what}: real {r!r}, simulated {s!r}" for what, r, s in diffs)


def gitea_sequence(url: str) -> list[tuple[str, Any]]:
    """The product's Gitea calls (steps/gitea.py), from the install form to the OAuth app's rotation."""
    import time

    admin = ("gitea_admin", "Diff-admin-pw-12345")
    out: list[tuple[str, Any]] = []
    c = httpx.Client(base_url=url, timeout=15)
    form = {"db_type": "sqlite3", "db_path": "/data/gitea/gitea.db", "app_name": "Gitea",
            "repo_root_path": "/data/git/repositories", "lfs_root_path": "/data/git/lfs", "run_user": "git",
            "domain": "127.0.0.1", "ssh_port": "30022", "http_port": "3000", "app_url": f"{url}/",
            "log_root_path": "/data/gitea/log", "admin_name": admin[0], "admin_passwd": admin[1],
            "admin_confirm_passwd": admin[1], "admin_email": "admin@example.com", "disable_registration": "on",
            "require_sign_in_view": "on"}
    health = c.get("/api/healthz")
    out.append(("installer healthz has no checks", (health.status_code, "checks" in health.json())))
    out.append(("installer /api/v1/version", c.get("/api/v1/version").status_code))
    out.append(("install form", c.post("/", data=form).status_code))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if c.get("/api/v1/version", auth=admin).status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    out.append(("anonymous /version after install", c.get("/api/v1/version").status_code))
    out.append(("installed healthz has checks", "checks" in c.get("/api/healthz").json()))
    me = c.get("/api/v1/user", auth=admin)
    out.append(("admin /user", (me.status_code, me.json().get("is_admin"))))
    out.append(("wrong password", c.get("/api/v1/user", auth=(admin[0], "nope-nope-1")).status_code))
    body = {"name": "stonks-tui", "scopes": ["write:admin", "write:repository", "write:user"]}
    tok = c.post(f"/api/v1/users/{admin[0]}/tokens", json=body, auth=admin)
    out.append(("create token", (tok.status_code, len(tok.json().get("sha1", "")) == 40)))
    out.append(("same token name again", c.post(f"/api/v1/users/{admin[0]}/tokens", json=body, auth=admin)
                .status_code))
    token = {"Authorization": f"token {tok.json()['sha1']}"}
    out.append(("token endpoint with a token", c.post(f"/api/v1/users/{admin[0]}/tokens", json={**body, "name": "x"},
                                                      headers=token).status_code))
    repo = {"name": "stonks-oracle", "private": True, "default_branch": "main"}
    out.append(("create repo", c.post("/api/v1/user/repos", json=repo, headers=token).status_code))
    out.append(("create repo again", c.post("/api/v1/user/repos", json=repo, headers=token).status_code))
    got = c.get(f"/api/v1/repos/{admin[0]}/stonks-oracle", headers=token).json()
    out.append(("new repo", (got["empty"], got["default_branch"], got["private"])))
    out.append(("missing repo", c.get(f"/api/v1/repos/{admin[0]}/nope", headers=token).status_code))
    app = {"name": "Woodpecker CI", "redirect_uris": ["https://ci.example/authorize"], "confidential_client": True}
    a1 = c.post("/api/v1/user/applications/oauth2", json=app, headers=token)
    a2 = c.post("/api/v1/user/applications/oauth2", json=app, headers=token)
    out.append(("oauth app twice: two apps", (a1.status_code, a2.status_code, a1.json()["id"] != a2.json()["id"],
                                              bool(a1.json().get("client_secret")))))
    listed = c.get("/api/v1/user/applications/oauth2", headers=token).json()
    out.append(("listed secrets are unreadable", sorted({x.get("client_secret", "") for x in listed})))
    rotated = c.patch(f"/api/v1/user/applications/oauth2/{a1.json()['id']}", json=app, headers=token)
    out.append(("PATCH rotates the secret", (rotated.status_code,
                                             rotated.json().get("client_secret") != a1.json().get("client_secret"))))
    return out


def test_gitea_sim_matches_the_real_gitea(world: World, sim: Any) -> None:
    sim.gitea.speed, sim.gitea.start_delay = 1.0, 2.0
    real = gitea_sequence(world.gitea.url)
    simulated = gitea_sequence(sim.gitea.server.url)
    diffs = [(r[0], r[1], s[1]) for r, s in zip(real, simulated, strict=True) if r != s]
    assert not diffs, "simulator differs from Gitea 1.27.3:\n" + "\n".join(
        f"  {what}: real {r!r}, simulated {s!r}" for what, r, s in diffs)
