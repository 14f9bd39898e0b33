"""The official kubernetes client against the simulated API server, one semantic per test."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from kubernetes import client, dynamic, watch
from kubernetes.client.exceptions import ApiException

from stonks_tui.sim.world import World


def wait_until(pred, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_version_and_discovery(kube, tmp_path: Path) -> None:
    assert client.VersionApi(kube).get_code().git_version.startswith("v1.36")
    dc = dynamic.DynamicClient(kube, cache_file=str(tmp_path / "d.json"))
    for api_version, kind in [("v1", "PersistentVolume"), ("apps/v1", "StatefulSet"),
                              ("networking.k8s.io/v1", "NetworkPolicy"), ("cert-manager.io/v1", "ClusterIssuer"),
                              ("actions.github.com/v1alpha1", "AutoscalingRunnerSet"),
                              ("authorization.k8s.io/v1", "SelfSubjectAccessReview")]:
        assert dc.resources.get(api_version=api_version, kind=kind).kind == kind


def test_create_conflicts_and_status_objects(kube) -> None:
    v1 = client.CoreV1Api(kube)
    v1.create_namespaced_config_map("default", {"metadata": {"name": "a"}, "data": {"k": "1"}})
    with pytest.raises(ApiException) as err:
        v1.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    assert err.value.status == 409 and '"reason": "AlreadyExists"' in err.value.body
    cm = v1.read_namespaced_config_map("a", "default")
    cm.data = {"k": "2"}
    v1.replace_namespaced_config_map("a", "default", cm)
    cm.data = {"k": "3"}  # stale resourceVersion
    with pytest.raises(ApiException) as err:
        v1.replace_namespaced_config_map("a", "default", cm)
    assert err.value.status == 409 and "Conflict" in err.value.body
    with pytest.raises(ApiException) as err:
        v1.read_namespaced_config_map("nope", "default")
    assert err.value.status == 404 and '"kind": "Status"' in err.value.body
    with pytest.raises(ApiException) as err:
        v1.create_namespace({"metadata": {"name": "Bad_Name"}})
    assert err.value.status == 422
    with pytest.raises(ApiException) as err:
        v1.create_namespaced_config_map("no-such-ns", {"metadata": {"name": "a"}})
    assert err.value.status == 404


def test_selectors(kube) -> None:
    v1 = client.CoreV1Api(kube)
    for name, tier in (("x", "web"), ("y", "db"), ("z", "web")):
        v1.create_namespaced_config_map("default", {"metadata": {"name": name, "labels": {"tier": tier}}})
    web = v1.list_namespaced_config_map("default", label_selector="tier=web").items
    assert sorted(c.metadata.name for c in web) == ["x", "z"]
    assert [c.metadata.name for c in v1.list_namespaced_config_map(
        "default", label_selector="tier in (db)").items] == ["y"]
    assert [c.metadata.name for c in v1.list_namespaced_config_map(
        "default", field_selector="metadata.name=z").items] == ["z"]


def test_server_side_apply_semantics(kube, tmp_path: Path) -> None:
    dc = dynamic.DynamicClient(kube, cache_file=str(tmp_path / "d.json"))
    cm = dc.resources.get(api_version="v1", kind="ConfigMap")
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s", "namespace": "default"},
            "data": {"a": "1", "b": "2"}}
    first = dc.server_side_apply(cm, body=body, field_manager="me")
    again = dc.server_side_apply(cm, body=body, field_manager="me")
    assert again.metadata.resourceVersion == first.metadata.resourceVersion  # no-op apply
    body["data"] = {"a": "1"}
    dropped = dc.server_side_apply(cm, body=body, field_manager="me")
    assert dict(dropped.data) == {"a": "1"}  # a field the manager stopped applying is removed
    other = {**body, "data": {"a": "9"}}
    with pytest.raises(dynamic.exceptions.ConflictError):
        dc.server_side_apply(cm, body=other, field_manager="them")
    forced = dc.server_side_apply(cm, body=other, field_manager="them", force_conflicts=True)
    assert forced.data["a"] == "9"
    dry = dc.server_side_apply(cm, body={**body, "data": {"a": "dry"}}, field_manager="me", force_conflicts=True,
                               dry_run="All")
    assert dry.data["a"] == "dry" and client.CoreV1Api(kube).read_namespaced_config_map("s", "default").data["a"] == "9"


def test_watch_from_resource_version(kube) -> None:
    v1 = client.CoreV1Api(kube)
    rv = v1.list_namespaced_config_map("default").metadata.resource_version
    threading.Timer(0.2, lambda: v1.create_namespaced_config_map("default", {"metadata": {"name": "w"}})).start()
    w = watch.Watch()
    for event in w.stream(v1.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=5):
        assert (event["type"], event["object"].metadata.name) == ("ADDED", "w")
        w.stop()
        break
    else:
        pytest.fail("no watch event")


def test_finalizers_hold_deletion_and_namespace_hangs(kube, world: World) -> None:
    v1 = client.CoreV1Api(kube)
    v1.create_namespace({"metadata": {"name": "held"}})
    v1.create_namespaced_config_map("held", {"metadata": {"name": "f", "finalizers": ["example.com/keep"]}})
    v1.delete_namespace("held")
    wait_until(lambda: "finalizers remaining" in str(v1.read_namespace("held").status.conditions))
    assert v1.read_namespace("held").status.phase == "Terminating"
    held = v1.read_namespaced_config_map("f", "held")
    assert held.metadata.deletion_timestamp is not None
    with pytest.raises(ApiException) as err:  # no new content in a terminating namespace
        v1.create_namespaced_config_map("held", {"metadata": {"name": "new"}})
    assert err.value.status == 403
    v1.patch_namespaced_config_map("f", "held", {"metadata": {"finalizers": None}})
    wait_until(lambda: "held" not in [n.metadata.name for n in v1.list_namespace().items])


def test_pv_binding_retain_release_and_rebind(kube) -> None:
    v1 = client.CoreV1Api(kube)
    v1.create_persistent_volume({"metadata": {"name": "nfs-pv"}, "spec": {
        "capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteMany"], "persistentVolumeReclaimPolicy": "Retain",
        "storageClassName": "nfs", "nfs": {"server": "127.0.0.1", "path": "/x"},
        "claimRef": {"namespace": "default", "name": "data"}}})
    # A claim with another name and the same class must not take a PV pre-bound to someone else.
    v1.create_namespaced_persistent_volume_claim("default", {"metadata": {"name": "other"}, "spec": {
        "accessModes": ["ReadWriteMany"], "storageClassName": "nfs", "resources": {"requests": {"storage": "1Gi"}}}})
    v1.create_namespaced_persistent_volume_claim("default", {"metadata": {"name": "data"}, "spec": {
        "accessModes": ["ReadWriteMany"], "storageClassName": "nfs", "resources": {"requests": {"storage": "5Gi"}}}})
    wait_until(lambda: v1.read_persistent_volume("nfs-pv").status.phase == "Bound")
    assert v1.read_namespaced_persistent_volume_claim("other", "default").status.phase != "Bound"
    v1.delete_namespaced_persistent_volume_claim("data", "default")
    wait_until(lambda: v1.read_persistent_volume("nfs-pv").status.phase == "Released")
    v1.create_namespaced_persistent_volume_claim("default", {"metadata": {"name": "data"}, "spec": {
        "accessModes": ["ReadWriteMany"], "storageClassName": "nfs", "resources": {"requests": {"storage": "5Gi"}}}})
    time.sleep(0.3)
    assert v1.read_persistent_volume("nfs-pv").status.phase == "Released"  # old claim's uid: no re-bind
    v1.patch_persistent_volume("nfs-pv", [{"op": "remove", "path": "/spec/claimRef/uid"}])
    wait_until(lambda: v1.read_persistent_volume("nfs-pv").status.phase == "Bound")


def test_local_path_refuses_rwx(kube) -> None:
    v1 = client.CoreV1Api(kube)
    v1.create_namespaced_persistent_volume_claim("default", {"metadata": {"name": "shared"}, "spec": {
        "accessModes": ["ReadWriteMany"], "storageClassName": "local-path",
        "resources": {"requests": {"storage": "1Gi"}}}})
    wait_until(lambda: any(e.reason == "ProvisioningFailed" for e in v1.list_namespaced_event("default").items))
    assert v1.read_namespaced_persistent_volume_claim("shared", "default").status.phase != "Bound"


def test_workloads_become_ready(kube) -> None:
    apps = client.AppsV1Api(kube)
    apps.create_namespaced_deployment("default", {"metadata": {"name": "web"}, "spec": {
        "replicas": 2, "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "w", "image": "x"}]}}}})
    wait_until(lambda: (apps.read_namespaced_deployment("web", "default").status.ready_replicas or 0) == 2)
    assert len(client.CoreV1Api(kube).list_namespaced_pod("default", label_selector="app=web").items) == 2


def test_world_persists_and_reloads(tmp_path: Path) -> None:
    with World(tmp_path / "w", speed=0.0, faults="") as w:
        from kubernetes import config

        c = config.new_client_from_config(config_file=str(w.kubeconfig))
        client.CoreV1Api(c).create_namespace({"metadata": {"name": "kept-across-restarts"}})
        port = w.kube.server.server_address[1]
        c.close()
    with World(tmp_path / "w", speed=0.0, faults="") as w:
        from kubernetes import config

        c = config.new_client_from_config(config_file=str(w.kubeconfig))
        names = [n.metadata.name for n in client.CoreV1Api(c).list_namespace().items]
        assert "kept-across-restarts" in names and "arc-runners" in names
        assert w.kube.server.server_address[1] == port  # services keep their addresses
        c.close()


def test_a_namespace_left_terminating_by_a_stopped_world_finishes_after_restart(tmp_path: Path) -> None:
    from kubernetes import config

    with World(tmp_path / "w", speed=0.0, faults="") as w:
        c = config.new_client_from_config(config_file=str(w.kubeconfig))
        v1 = client.CoreV1Api(c)
        v1.create_namespace({"metadata": {"name": "half-deleted"}})
        v1.create_namespaced_config_map("half-deleted", {"metadata": {"name": "content"}})
        c.close()
        # The world stops between the DELETE and the namespace controller's work (a killed run).
        ns = w.store.objects[("", "namespaces")][("", "half-deleted")]
        ns["metadata"]["deletionTimestamp"] = "2026-11-28T00:00:00Z"
        ns["status"] = {"phase": "Terminating"}
        w.flush()
    with World(tmp_path / "w", speed=0.0, faults="") as w:
        c = config.new_client_from_config(config_file=str(w.kubeconfig))
        wait_until(lambda: "half-deleted" not in [n.metadata.name for n in client.CoreV1Api(c).list_namespace().items])
        c.close()


def test_an_ingress_or_application_made_just_before_a_stop_is_served_after_restart(tmp_path: Path) -> None:
    """cert-manager and Argo CD resync when they start: an Ingress whose certificate was not issued yet, and an
    Application never synced, when the world stopped (a kill), get them after the restart."""
    from kubernetes import config

    from stonks_tui.sim.kinds import crd

    with World(tmp_path / "w", speed=0.0, faults="") as w:
        c = config.new_client_from_config(config_file=str(w.kubeconfig))
        client.ApiextensionsV1Api(c).create_custom_resource_definition(crd("argoproj.io", "applications",
                                                                           "Application"))
        c.close()
        wait_until(lambda: ("argoproj.io", "applications") in w.store.objects)
        s = w.store
        ing = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {
            "name": "woodpecker", "namespace": "default", "uid": "u1", "resourceVersion": "1",
            "annotations": {"cert-manager.io/cluster-issuer": "ca-issuer"}},
            "spec": {"tls": [{"hosts": ["ci.example"], "secretName": "woodpecker-tls"}]}}
        s.objects[("networking.k8s.io", "ingresses")][("default", "woodpecker")] = ing  # no event: the kill
        app = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {
            "name": "stonks-beta", "namespace": "argocd", "uid": "u2", "resourceVersion": "1"},
            "spec": {"source": {"repoURL": "http://nowhere.invalid/x.git"}}}
        s.objects[("argoproj.io", "applications")][("argocd", "stonks-beta")] = app
        w.flush()
    with World(tmp_path / "w", speed=0.0, faults="") as w:
        c = config.new_client_from_config(config_file=str(w.kubeconfig))
        v1 = client.CoreV1Api(c)
        wait_until(lambda: "woodpecker-tls" in [x.metadata.name for x in
                                                 v1.list_namespaced_secret("default").items])
        custom = client.CustomObjectsApi(c)
        wait_until(lambda: (custom.get_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications",
                                                                "stonks-beta").get("status") or {}).get("sync"))
        c.close()


def test_fault_injection(tmp_path: Path) -> None:
    with World(tmp_path / "w", speed=0.0, faults="kube:GET /api/v1/namespaces$=500x2") as w:
        import httpx

        codes = [httpx.get(f"{w.kube.server.url}/api/v1/namespaces").status_code for _ in range(3)]
        assert codes == [500, 500, 200]


async def test_exec_of_a_command_the_image_lacks_says_so(world: World) -> None:
    """A Failure status without an exit-code cause (containerd: executable not found) used to surface as 'the
    cluster is unreachable (KeyError)' from the client library's returncode."""
    import asyncio

    from stonks_tui.clients.kube import KubeClient
    from stonks_tui.errors import StepFailed

    kube = KubeClient(str(world.kubeconfig), "stonks-demo")
    pods = await kube.list("v1", "Pod", "git-server", label_selector="app=gitea")
    deadline = time.monotonic() + 10
    while not any((p.get("status") or {}).get("phase") == "Running" for p in pods):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
        pods = await kube.list("v1", "Pod", "git-server", label_selector="app=gitea")
    name = pods[0]["metadata"]["name"]
    with pytest.raises(StepFailed) as failed:
        await kube.exec("git-server", name, ["kubectl", "version"])
    assert "executable file not found" in failed.value.message and "unreachable" not in failed.value.message
    code, _ = await kube.exec("git-server", name, ["gitea", "--version"])
    assert code == 1  # an exit code is still an exit code
    kube.close()


def test_a_stage_deleted_just_before_a_stop_is_finished_after_restart(tmp_path: Path) -> None:
    """Issue 25: a kill during kargo-resources-remove left the simulated Stages Terminating with Kargo's
    finalizer for ever (the controller reacted to the delete event only). Kargo's controller, starting, finishes."""
    from kubernetes import config

    from stonks_tui.sim.kinds import crd

    with World(tmp_path / "w", speed=0.0, faults="") as w:
        c = config.new_client_from_config(config_file=str(w.kubeconfig))
        client.ApiextensionsV1Api(c).create_custom_resource_definition(crd("kargo.akuity.io", "stages", "Stage"))
        c.close()
        wait_until(lambda: ("kargo.akuity.io", "stages") in w.store.objects)
        stage = {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Stage", "metadata": {
            "name": "paper", "namespace": "stonks-oracle", "uid": "u3", "resourceVersion": "1",
            "deletionTimestamp": "2026-12-03T10:00:00Z", "finalizers": ["kargo.akuity.io/finalizer"]},
            "spec": {"requestedFreight": []}}
        w.store.objects[("kargo.akuity.io", "stages")][("stonks-oracle", "paper")] = stage  # no event: the kill
        w.flush()
    with World(tmp_path / "w", speed=0.0, faults="") as w:
        wait_until(lambda: ("stonks-oracle", "paper") not in w.store.objects[("kargo.akuity.io", "stages")])


async def test_a_kind_the_cluster_does_not_serve_costs_one_request_not_a_rediscovery(world: World, tmp_path: Path,
                                                                                     monkeypatch) -> None:
    """The library answers an uncached kind by throwing its discovery away and fetching it all again: a no-op plan
    asking for legacy ARC's five kinds rediscovered five times (a third of its time on the real tier). A group the
    cluster does not serve is asked once, directly; one that appears later (a chart's CRD) is still found."""
    from kubernetes.dynamic.discovery import Discoverer

    from stonks_tui.clients.kube import KubeClient
    from stonks_tui.sim.kinds import crd

    refreshed: list[int] = []
    invalidate = Discoverer.invalidate_cache
    monkeypatch.setattr(Discoverer, "invalidate_cache", lambda self: (refreshed.append(1), invalidate(self))[1])
    kube = KubeClient(str(world.kubeconfig), "stonks-demo", tmp_path / "cache")
    assert await kube.get("v1", "Namespace", "git-server") is not None  # discovery made and cached
    before = len(refreshed)
    for kind in ("RunnerDeployment", "RunnerSet", "HorizontalRunnerAutoscaler", "RunnerReplicaSet", "Runner"):
        assert await kube.list("actions.summerwind.dev/v1alpha1", kind) == []
        assert await kube.get("actions.summerwind.dev/v1alpha1", kind, "x", "arc-runners") is None
    assert len(refreshed) == before

    c = kube.api_client
    client.ApiextensionsV1Api(c).create_custom_resource_definition(crd("example.stonks.test", "widgets", "Widget"))
    wait_until(lambda: ("example.stonks.test", "widgets") in world.store.objects)
    assert await kube.list("example.stonks.test/v1alpha1", "Widget") == []  # served now: found, not refused
    assert len(refreshed) == before + 1
    kube.close()


async def test_while_one_picture_is_read_an_unserved_group_is_asked_once(world: World, tmp_path: Path,
                                                                         monkeypatch) -> None:
    """A plan (and a run's checks asked ahead) read one picture of the cluster: legacy ARC's group, not served, was
    asked of the API server once per kind (five GETs per plan). Shared, once; not shared, every answer is the
    server's again — a CRD created meanwhile (a chart's) is found."""
    from stonks_tui.clients.kube import KubeClient
    from stonks_tui.sim.kinds import crd

    asked: list[str] = []
    served = KubeClient._served
    monkeypatch.setattr(KubeClient, "_served", staticmethod(lambda dyn, gv: (asked.append(gv), served(dyn, gv))[1]))
    kube = KubeClient(str(world.kubeconfig), "stonks-demo", tmp_path / "cache")
    kube.share(True)
    for kind in ("RunnerDeployment", "RunnerSet", "HorizontalRunnerAutoscaler", "RunnerReplicaSet", "Runner"):
        assert await kube.list("actions.summerwind.dev/v1alpha1", kind) == []
    assert asked == ["actions.summerwind.dev/v1alpha1"]
    kube.share(False)
    client.ApiextensionsV1Api(kube.api_client).create_custom_resource_definition(
        crd("actions.summerwind.dev", "runners", "Runner"))
    wait_until(lambda: ("actions.summerwind.dev", "runners") in world.store.objects)
    assert await kube.list("actions.summerwind.dev/v1alpha1", "Runner") == []  # asked again: served now
    assert asked == ["actions.summerwind.dev/v1alpha1"] * 2
    kube.close()


async def test_comparing_an_object_with_the_cluster_reads_it_once(world: World, monkeypatch) -> None:
    """Every plan and check compares each object with the cluster: a GET, then a server-side dry-run. The dry-run
    went through apply(), which reads the object first to tell created from updated — a second GET per object
    (about 40 of a no-op plan's 112 requests on the real tier). Once now, and the answer is the same."""
    from kubernetes.client import rest

    from stonks_tui.engine.step import MemorySecretStore, StepContext
    from stonks_tui.redact import Redactor
    from stonks_tui.runtime import Runtime
    from stonks_tui.settings import Settings
    from stonks_tui.steps.common import object_change

    sent: list[tuple[str, str]] = []
    request = rest.RESTClientObject.request
    monkeypatch.setattr(rest.RESTClientObject, "request", lambda self, method, url, *a, **k: (
        sent.append((method, url.split("?")[0].split("/api/v1/")[-1])), request(self, method, url, *a, **k))[1])
    r = Redactor()
    ctx = StepContext(settings=Settings(), secrets=MemorySecretStore(r), redact=r)
    rt = ctx.clients["runtime"] = Runtime(context="stonks-demo", kubeconfig=str(world.kubeconfig))
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "git-server"}}
    await rt.kube().get("v1", "Namespace", "git-server")  # discovery made
    sent.clear()
    action, _ = await object_change(ctx, ns)
    assert action in ("unchanged", "update")
    assert sent == [("GET", "namespaces/git-server"), ("PATCH", "namespaces/git-server")], sent
    await rt.aclose()
