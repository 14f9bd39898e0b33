"""What the operator's cluster runs that kwok cannot: the controllers whose observable effects the product
depends on. Each is small and does only what its upstream does to objects the product reads:

- a volume provisioner (Longhorn / local-path): PVs for claims of those classes, deleted when Released;
- ARC's controller: finalizers on scale sets, their children and their AutoscalingListener (in the controller's
  namespace), cleared only while its Deployment is ready;
- cert-manager: the TLS Secret of every Ingress that asks a ClusterIssuer for one;
- Kargo's controller: `kargo.akuity.io/finalizer` on Stages, removed a moment after a Stage is deleted;
- Kargo's management controller: its finalizer on the controller's ServiceAccount, Projects and their namespaces,
  removed only while its Deployment runs (and Kargo's webhooks: tests/real/kargo_webhooks.py).

Everything else (scheduling, pods, StatefulSets, PV binding, namespaces, GC, RBAC) is the real control plane.
"""

from __future__ import annotations

import base64
import time
from typing import Any

from tests.real.cluster import Cluster

PROVISIONERS = {"driver.longhorn.io", "rancher.io/local-path"}
ARC = "/apis/actions.github.com/v1alpha1"
ARS_FINALIZER = "autoscalingrunnerset.actions.github.com/finalizer"
ERS_FINALIZER = "ephemeralrunnerset.actions.github.com/finalizer"
CLEANUP = "actions.github.com/cleanup-protection"
LISTENER_FINALIZER = "autoscalinglistener.actions.github.com/finalizer"
ARC_CONTROLLER_NS = "arc-systems"
KARGO_FINALIZER = "kargo.akuity.io/finalizer"
KEEP_NAMESPACE = "kargo.akuity.io/keep-namespace"


def _items(cluster: Cluster, path: str) -> list[dict]:
    return (cluster.get(path) or {}).get("items", [])


def _patch(cluster: Cluster, path: str, body: dict) -> None:
    cluster.request("PATCH", path, json=body, headers={"Content-Type": "application/merge-patch+json"})


def provision(cluster: Cluster) -> None:
    classes = {sc["metadata"]["name"]: sc for sc in _items(cluster, "/apis/storage.k8s.io/v1/storageclasses")}
    for pvc in _items(cluster, "/api/v1/persistentvolumeclaims"):
        meta, spec = pvc["metadata"], pvc["spec"]
        ann = meta.get("annotations") or {}
        sc = classes.get(spec.get("storageClassName") or "")
        if pvc.get("status", {}).get("phase") != "Pending" or spec.get("volumeName") or sc is None:
            continue
        if sc["provisioner"] not in PROVISIONERS:
            continue
        if sc.get("volumeBindingMode") == "WaitForFirstConsumer" and "volume.kubernetes.io/selected-node" not in ann:
            continue
        name = f"pvc-{meta['uid']}"
        cluster.apply({"apiVersion": "v1", "kind": "PersistentVolume",
                       "metadata": {"name": name,
                                    "annotations": {"pv.kubernetes.io/provisioned-by": sc["provisioner"]}},
                       "spec": {"capacity": {"storage": spec["resources"]["requests"]["storage"]},
                                "accessModes": spec["accessModes"], "storageClassName": sc["metadata"]["name"],
                                "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy", "Delete"),
                                "hostPath": {"path": f"/var/lib/fake-volumes/{name}"},
                                "claimRef": {"namespace": meta["namespace"], "name": meta["name"],
                                             "uid": meta["uid"]}}})
    for pv in _items(cluster, "/api/v1/persistentvolumes"):
        ann = pv["metadata"].get("annotations") or {}
        if (ann.get("pv.kubernetes.io/provisioned-by") in PROVISIONERS and pv["status"].get("phase") == "Released"
                and pv["spec"].get("persistentVolumeReclaimPolicy") == "Delete"):
            cluster.delete(f"/api/v1/persistentvolumes/{pv['metadata']['name']}")


def _arc_controller_ready(cluster: Cluster) -> bool:
    for dep in _items(cluster, "/apis/apps/v1/deployments"):
        if dep["metadata"]["name"].endswith("gha-rs-controller"):
            return int(dep.get("status", {}).get("readyReplicas") or 0) >= 1
    return False


def _listener_name(scale_set: str, namespace: str) -> str:
    """ARC 0.12.1's scaleSetListenerName: the scale set's name, then its namespace's hash — FNV-1a 32 in decimal,
    each digit mapped by apimachinery's rand.SafeEncodeString (hash.FNVHashString), cut to 8 — then -listener."""
    h = 0x811C9DC5
    for byte in namespace.encode():
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    alphanums = "bcdfghjklmnpqrstvwxz2456789"
    encoded = "".join(alphanums[ord(c) % len(alphanums)] for c in str(h))
    return f"{scale_set}-{encoded[:8]}-listener"


def arc_controller(cluster: Cluster) -> None:
    if not _arc_controller_ready(cluster):
        return  # only ARC's controller clears ARC's finalizers: with it gone, they stay
    for ars in _items(cluster, f"{ARC}/autoscalingrunnersets"):
        meta = ars["metadata"]
        ns, name = meta["namespace"], meta["name"]
        path = f"{ARC}/namespaces/{ns}/autoscalingrunnersets/{name}"
        fins = meta.get("finalizers") or []
        if not meta.get("deletionTimestamp"):
            if ARS_FINALIZER not in fins:
                _patch(cluster, path, {"metadata": {"finalizers": [*fins, ARS_FINALIZER]}})
            cluster.apply({"apiVersion": "actions.github.com/v1alpha1", "kind": "EphemeralRunnerSet",
                           "metadata": {"name": f"{name}-runners", "namespace": ns, "finalizers": [ERS_FINALIZER],
                                        "labels": {"actions.github.com/scale-set-name": name},
                                        "ownerReferences": [{"apiVersion": "actions.github.com/v1alpha1",
                                                             "kind": "AutoscalingRunnerSet", "name": name,
                                                             "uid": meta["uid"]}]},
                           "spec": {"replicas": 0, "patchID": 0}})  # the real CRD requires patchID
            # Its listener (resourcebuilder.go): in the controller's namespace, named after the scale set and a
            # hash of its namespace, held by its own finalizer until the controller has cleaned up after it.
            cluster.apply({"apiVersion": "actions.github.com/v1alpha1", "kind": "AutoscalingListener",
                           "metadata": {"name": _listener_name(name, ns), "namespace": ARC_CONTROLLER_NS,
                                        "finalizers": [LISTENER_FINALIZER],
                                        "labels": {"actions.github.com/scale-set-name": name,
                                                   "actions.github.com/scale-set-namespace": ns,
                                                   "app.kubernetes.io/component": "runner-scale-set-listener"}},
                           "spec": {"autoscalingRunnerSetName": name, "autoscalingRunnerSetNamespace": ns,
                                    "ephemeralRunnerSetName": f"{name}-runners", "runnerScaleSetId": 1,
                                    "githubConfigUrl": (ars.get("spec") or {}).get("githubConfigUrl", ""),
                                    "githubConfigSecret": (ars.get("spec") or {}).get("githubConfigSecret", ""),
                                    "image": "ghcr.io/actions/gha-runner-scale-set-controller:0.12.1"}})
            continue
        # Deleting: its listener, runners, then the chart's cleanup-protected objects, then the scale set itself.
        lpath = f"{ARC}/namespaces/{ARC_CONTROLLER_NS}/autoscalinglisteners/{_listener_name(name, ns)}"
        if cluster.get(lpath) is not None:
            _patch(cluster, lpath, {"metadata": {"finalizers": None}})
            cluster.delete(lpath)
        for ers in _items(cluster, f"{ARC}/namespaces/{ns}/ephemeralrunnersets"):
            epath = f"{ARC}/namespaces/{ns}/ephemeralrunnersets/{ers['metadata']['name']}"
            _patch(cluster, epath, {"metadata": {"finalizers": None}})
            cluster.delete(epath)
        for api, plural in (("/api/v1", "secrets"), ("/api/v1", "serviceaccounts"),
                            ("/apis/rbac.authorization.k8s.io/v1", "roles"),
                            ("/apis/rbac.authorization.k8s.io/v1", "rolebindings")):
            for obj in _items(cluster, f"{api}/namespaces/{ns}/{plural}"):
                if CLEANUP in (obj["metadata"].get("finalizers") or []):
                    opath = f"{api}/namespaces/{ns}/{plural}/{obj['metadata']['name']}"
                    _patch(cluster, opath, {"metadata": {"finalizers": [
                        f for f in obj["metadata"]["finalizers"] if f != CLEANUP] or None}})
        _patch(cluster, path, {"metadata": {"finalizers": [f for f in fins if f != ARS_FINALIZER] or None}})


def cert_manager(cluster: Cluster) -> None:
    issuers = {i["metadata"]["name"] for i in _items(cluster, "/apis/cert-manager.io/v1/clusterissuers")}
    for ing in _items(cluster, "/apis/networking.k8s.io/v1/ingresses"):
        meta = ing["metadata"]
        if (meta.get("annotations") or {}).get("cert-manager.io/cluster-issuer") not in issuers:
            continue
        for tls in ing["spec"].get("tls") or []:
            path = f"/api/v1/namespaces/{meta['namespace']}/secrets/{tls['secretName']}"
            if cluster.get(path) is None:
                fake = base64.b64encode(b"-----BEGIN CERTIFICATE-----\n(test tier)\n").decode()
                cluster.apply({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                               "metadata": {"name": tls["secretName"], "namespace": meta["namespace"],
                                            "annotations": {"cert-manager.io/issuer-name": meta["annotations"][
                                                "cert-manager.io/cluster-issuer"]}},
                               "data": {"tls.crt": fake, "tls.key": fake}})


_deleting_since: dict[str, float] = {}


def kargo_controller(cluster: Cluster) -> float | None:
    """Its finalizer on each Stage; taken off a deleted Stage a moment later (then it looks again: 0.5 s)."""
    if cluster.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/stages.kargo.akuity.io") is None:
        return None
    again = None
    for stage in _items(cluster, "/apis/kargo.akuity.io/v1alpha1/stages"):
        meta = stage["metadata"]
        path = f"/apis/kargo.akuity.io/v1alpha1/namespaces/{meta['namespace']}/stages/{meta['name']}"
        fins = meta.get("finalizers") or []
        if not meta.get("deletionTimestamp"):
            if KARGO_FINALIZER not in fins:
                _patch(cluster, path, {"metadata": {"finalizers": [*fins, KARGO_FINALIZER]}})
            continue
        # The controller cleans verifications and AnalysisRuns first: a Stage delete takes a moment.
        first = _deleting_since.setdefault(meta["uid"], time.monotonic())
        if time.monotonic() - first > 1.5:
            _patch(cluster, path, {"metadata": {"finalizers": [f for f in fins if f != KARGO_FINALIZER] or None}})
        else:
            again = 0.5
    return again


def kargo_management(cluster: Cluster) -> None:
    """Kargo v1.11.0's management controller (pkg/controller/management/{serviceaccounts,projects,namespaces}),
    only while its Deployment is ready: its finalizer on the ServiceAccounts labelled component: controller in its
    namespace, on each Project and on the Project's namespace; taken off a deleted ServiceAccount; a deleted
    Project takes it off its namespace, deletes that namespace unless `kargo.akuity.io/keep-namespace: "true"` is on
    the Project or the namespace, then lets the Project go. Stopped, it does nothing: the finalizers stay."""
    dep = cluster.get("/apis/apps/v1/namespaces/kargo/deployments/kargo-management-controller") or {}
    if int((dep.get("status") or {}).get("readyReplicas") or 0) < 1:
        return

    def without(fins: list[str]) -> list[str] | None:
        return [f for f in fins if f != KARGO_FINALIZER] or None

    for sa in _items(cluster, "/api/v1/namespaces/kargo/serviceaccounts"):
        meta = sa["metadata"]
        if (meta.get("labels") or {}).get("app.kubernetes.io/component") != "controller":
            continue
        fins, path = meta.get("finalizers") or [], f"/api/v1/namespaces/kargo/serviceaccounts/{meta['name']}"
        if not meta.get("deletionTimestamp") and KARGO_FINALIZER not in fins:
            _patch(cluster, path, {"metadata": {"finalizers": [*fins, KARGO_FINALIZER]}})
        elif meta.get("deletionTimestamp") and KARGO_FINALIZER in fins:
            _patch(cluster, path, {"metadata": {"finalizers": without(fins)}})
    if cluster.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/projects.kargo.akuity.io") is None:
        return
    for project in _items(cluster, "/apis/kargo.akuity.io/v1alpha1/projects"):
        meta = project["metadata"]
        name, fins = meta["name"], meta.get("finalizers") or []
        path, ns_path = f"/apis/kargo.akuity.io/v1alpha1/projects/{name}", f"/api/v1/namespaces/{name}"
        ns = cluster.get(ns_path)
        ns_fins = ((ns or {}).get("metadata") or {}).get("finalizers") or []
        if not meta.get("deletionTimestamp"):
            if KARGO_FINALIZER not in fins:
                _patch(cluster, path, {"metadata": {"finalizers": [*fins, KARGO_FINALIZER]}})
            if ns is not None and not ns["metadata"].get("deletionTimestamp") and KARGO_FINALIZER not in ns_fins:
                _patch(cluster, ns_path, {"metadata": {"finalizers": [*ns_fins, KARGO_FINALIZER]}})
            continue
        if KARGO_FINALIZER not in fins:
            continue
        if ns is not None:
            if KARGO_FINALIZER in ns_fins:
                _patch(cluster, ns_path, {"metadata": {"finalizers": without(ns_fins)}})
            keep = "true" in ((meta.get("annotations") or {}).get(KEEP_NAMESPACE),
                              (ns["metadata"].get("annotations") or {}).get(KEEP_NAMESPACE))
            if not keep:
                cluster.request("DELETE", ns_path)
        _patch(cluster, path, {"metadata": {"finalizers": without(fins)}})


def kubelet_readiness(cluster: Cluster) -> None:
    """What a kubelet's status manager does after an outage and kwok does not: a Running pod on a Ready node
    that the node lifecycle controller marked NotReady (while the node's lease was stale) is Ready again."""
    ready_nodes = {n["metadata"]["name"] for n in _items(cluster, "/api/v1/nodes")
                   if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))}
    for pod in _items(cluster, "/api/v1/pods"):
        st = pod.get("status", {})
        if (st.get("phase") != "Running" or pod["spec"].get("nodeName") not in ready_nodes
                or pod["metadata"].get("deletionTimestamp")):
            continue
        conds = st.get("conditions") or []
        if any(c["type"] == "Ready" and c["status"] == "False" for c in conds):
            fixed = [{**c, "status": "True", "reason": None, "message": None}
                     if c["type"] in ("Ready", "ContainersReady") else c for c in conds]
            statuses = [{**cs, "ready": True} for cs in st.get("containerStatuses") or []]
            meta = pod["metadata"]
            cluster.request("PATCH", f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/status",
                            json={"status": {"conditions": fixed, "containerStatuses": statuses}},
                            headers={"Content-Type": "application/strategic-merge-patch+json"})


def start_all(cluster: Cluster, *, arc: bool = True) -> None:
    # Each reconciles when what it reads changes, as the controllers it stands for do (informers, not polling).
    cluster.loop("provisioner", 0.3, lambda: provision(cluster),
                 watch=("/apis/storage.k8s.io/v1/storageclasses", "/api/v1/persistentvolumeclaims",
                        "/api/v1/persistentvolumes"))
    cluster.loop("kubelet-readiness", 1.0, lambda: kubelet_readiness(cluster), watch=("/api/v1/nodes", "/api/v1/pods"))
    cluster.loop("cert-manager", 0.5, lambda: cert_manager(cluster),
                 watch=("/apis/cert-manager.io/v1/clusterissuers", "/apis/networking.k8s.io/v1/ingresses",
                        "/api/v1/secrets"))
    cluster.loop("kargo-controller", 0.5, lambda: kargo_controller(cluster),
                 watch=("/apis/kargo.akuity.io/v1alpha1/stages",))
    cluster.loop("kargo-management-controller", 0.5, lambda: kargo_management(cluster),
                 watch=("/apis/apps/v1/namespaces/kargo/deployments", "/api/v1/namespaces/kargo/serviceaccounts",
                        "/apis/kargo.akuity.io/v1alpha1/projects", "/api/v1/namespaces"))
    if arc:
        cluster.loop("arc-controller", 0.3, lambda: arc_controller(cluster),
                     watch=("/apis/apps/v1/deployments", f"{ARC}/autoscalingrunnersets",
                            f"{ARC}/ephemeralrunnersets", f"{ARC}/autoscalinglisteners"))


def preconditions() -> list[dict[str, Any]]:
    """The operator's cluster before the migration (FACTS, last section), as objects."""
    crd = _crd
    return [
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
         "metadata": {"name": "longhorn", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
         "provisioner": "driver.longhorn.io", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate",
         "allowVolumeExpansion": True},
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "local-path"},
         "provisioner": "rancher.io/local-path", "reclaimPolicy": "Delete",
         "volumeBindingMode": "WaitForFirstConsumer"},
        {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "traefik"},
         "spec": {"controller": "traefik.io/ingress-controller"}},
        crd("cert-manager.io", "clusterissuers", "ClusterIssuer", "Cluster", "v1"),
        crd("cert-manager.io", "certificates", "Certificate", "Namespaced", "v1"),
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "git-server"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "stonks-oracle"}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "gitea", "namespace": "git-server",
                                                                      "labels": {"app": "gitea"}},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "gitea"}},
                  "template": {"metadata": {"labels": {"app": "gitea"}},
                               "spec": {"containers": [{"name": "gitea", "image": "gitea/gitea:latest"}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "gitea-service", "namespace": "git-server",
                                                              "labels": {"app": "gitea"}},
         "spec": {"type": "NodePort", "selector": {"app": "gitea"},
                  "ports": [{"name": "http", "port": 3000, "targetPort": 3000, "nodePort": 30300},
                            {"name": "ssh", "port": 22, "targetPort": 22, "nodePort": 30022}]}},
        # The design's ARC PV: the operator's static NFS style.
        {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pipeline-arc-pv"},
         "spec": {"capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteMany"],
                  "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "nfs",
                  "mountOptions": ["vers=4.1"],
                  "nfs": {"server": "127.0.0.1", "path": "/volume1/Kubernetes/pipelines/arc"}}},
    ]


def issuers() -> list[dict]:
    return [{"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": n},
             "spec": {"ca": {"secretName": "ca"}} if n == "ca-issuer" else {"acme": {}}}
            for n in ("ca-issuer", "celestium-le-production")]


def _crd(group: str, plural: str, kind: str, scope: str, version: str) -> dict:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {"group": group, "scope": scope,
                     "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "listKind": f"{kind}List"},
                     "versions": [{"name": version, "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": {"type": "object",
                                                                  "x-kubernetes-preserve-unknown-fields": True}}}]}}
