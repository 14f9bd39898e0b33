"""The simulated cluster's controllers: what makes objects *do* something after they are written.

- PV binder: static PVs bind to their intended claims (claimRef / volumeName / class), Retain → Released
- dynamic provisioning for classes with a provisioner (local-path is RWO only, as on k3s)
- workloads: StatefulSets create their PVCs and pods; pods start once their claims are bound; Deployments too;
  status.readyReplicas appears after a delay (scaled by STONKS_SIM_SPEED)
- cert-manager: an Ingress with a TLS section and a known ClusterIssuer gets its TLS Secret
- Argo CD: an Application whose repoURL the simulated Gitea serves becomes Synced/Healthy
Each reacts to store events and does its work on the scheduler thread, never inline.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

from stonks_tui.quantity import quantity
from stonks_tui.sim.kinds import Kind
from stonks_tui.sim.store import Obj, Store, now_rfc3339

KARGO_FINALIZER = "kargo.akuity.io/finalizer"
ACCESS_ORDER = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")


class Controllers:
    def __init__(self, store: Store, *, ready_delay: float = 2.0,
                 repo_exists: Callable[[str], bool] | None = None,
                 repo_head: Callable[[str, str], str] | None = None,
                 nfs_refused: Callable[[str], bool] | None = None) -> None:
        self.store = store
        # The NAS's permissions (sim/jobs.py): "SERVER:PATH uid=UID" → does the export refuse that user's writes?
        self.nfs_refused = nfs_refused or (lambda subject: False)
        self.ready_delay = ready_delay
        self.repo_exists = repo_exists or (lambda url: False)
        self.repo_head = repo_head or (lambda url, rev: "")
        self.broken_images: dict[str, str] = {}  # image substring -> waiting reason (ImagePullBackOff...)
        store.on_change.append(self._on_change)

    def k(self, group: str, version: str, plural: str) -> Kind:
        return self.store.kinds[(group, version, plural)]

    # -- dispatch -----------------------------------------------------------------------------------------
    def _on_change(self, etype: str, kind: Kind, obj: Obj) -> None:
        after = self.store.scheduler.after
        if kind.plural in ("persistentvolumes", "persistentvolumeclaims", "storageclasses"):
            after(0.1, self.reconcile_volumes)
            if kind.plural == "persistentvolumeclaims":
                after(0.15, self.reconcile_all_workloads)
        elif kind.plural == "secrets":
            after(0.15, self.reconcile_all_workloads)
        elif kind.plural in ("deployments", "statefulsets") and etype != "DELETED":
            status = obj.get("status") or {}
            if status.get("observedGeneration") != obj["metadata"].get("generation"):
                ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
                after(0.3, lambda: self.create_workload_children(kind, ns, name))
                after(self.ready_delay, lambda: self.reconcile_workload(kind, ns, name))
        elif kind.plural == "ingresses" and etype != "DELETED":
            ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
            after(1.0, lambda: self.issue_certificates(ns, name))
        elif kind.kind == "Stage" and kind.group == "kargo.akuity.io" and etype != "DELETED":
            self.kargo_stage(kind, obj)
        elif kind.kind == "Application" and kind.group == "argoproj.io" and etype != "DELETED":
            ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
            after(1.5, lambda: self.sync_application(kind, ns, name))

    # -- Kargo --------------------------------------------------------------------------------------------
    def kargo_stage(self, kind: Kind, obj: Obj) -> None:
        """Kargo's controller puts its finalizer on every Stage and, after a Stage is deleted, removes it only
        once verifications and AnalysisRuns are cleaned up: a delete is never instantaneous (at least 0.3 s,
        even at speed 0, so a check right after a delete sees the Stage Terminating as on a real cluster)."""
        meta = obj["metadata"]
        ns, name = meta["namespace"], meta["name"]
        fins = meta.get("finalizers") or []
        if not meta.get("deletionTimestamp") and KARGO_FINALIZER not in fins:
            self.store.scheduler.after(0.05, lambda: self.store.mutate(kind, ns, name, lambda o: o["metadata"]
                                                                       .setdefault("finalizers", []).append(
                                                                           KARGO_FINALIZER)))
        elif meta.get("deletionTimestamp") and KARGO_FINALIZER in fins:
            def release() -> None:
                try:
                    current = self.store.get(kind, ns, name)
                except Exception:
                    return
                left = [f for f in current["metadata"].get("finalizers") or [] if f != KARGO_FINALIZER]
                self.store.merge_patch(kind, ns, name, {"metadata": {"finalizers": left or None}}, "kargo")

            self.store.scheduler.after(1.5, release, at_least=0.3)

    # -- volumes ------------------------------------------------------------------------------------------
    def reconcile_volumes(self) -> None:
        s = self.store
        pv_kind, pvc_kind = self.k("", "v1", "persistentvolumes"), self.k("", "v1", "persistentvolumeclaims")
        with s.lock:
            pvs = {name: o for (_, name), o in s.objects[pv_kind.key].items()}
            pvcs = {key: o for key, o in s.objects[pvc_kind.key].items()}
            # Claims that vanished: Retain → Released; Delete → the PV goes.
            for name, pv in pvs.items():
                ref = pv["spec"].get("claimRef")
                phase = (pv.get("status") or {}).get("phase")
                if ref and phase == "Bound":
                    claim = pvcs.get((ref.get("namespace", ""), ref.get("name", "")))
                    if claim is None or (ref.get("uid") and claim["metadata"]["uid"] != ref["uid"]):
                        if pv["spec"].get("persistentVolumeReclaimPolicy", "Retain") == "Delete":
                            s.delete(pv_kind, "", name)
                        else:
                            s.update_status(pv_kind, "", name, {"phase": "Released"})
                elif phase in (None, "Released", "Pending") and not (ref or {}).get("uid"):
                    # No claim, or pre-bound by name only (an operator cleared the old claim's uid): Available.
                    s.update_status(pv_kind, "", name, {"phase": "Available"})
            for pvc in pvcs.values():
                if (pvc.get("status") or {}).get("phase") == "Bound" or pvc["metadata"].get("deletionTimestamp"):
                    continue
                pv = self._find_volume(pvc)
                if pv is not None:
                    self._bind(pv["metadata"]["name"], pvc)
                else:
                    self._provision_or_wait(pvc)

    def _find_volume(self, pvc: Obj) -> Obj | None:
        s = self.store
        pv_kind = self.k("", "v1", "persistentvolumes")
        spec = pvc.get("spec") or {}
        ns, name, uid = pvc["metadata"]["namespace"], pvc["metadata"]["name"], pvc["metadata"]["uid"]
        want_class = spec.get("storageClassName")
        if want_class is None:
            want_class = self.default_class_name()
        requested = quantity(((spec.get("resources") or {}).get("requests") or {}).get("storage", "0"))
        modes = set(spec.get("accessModes") or [])
        candidates = []
        for pv in s.objects[pv_kind.key].values():
            pspec = pv.get("spec") or {}
            phase = (pv.get("status") or {}).get("phase")
            ref = pspec.get("claimRef")
            if spec.get("volumeName") and pv["metadata"]["name"] != spec["volumeName"]:
                continue
            if ref:
                if (ref.get("namespace"), ref.get("name")) != (ns, name):
                    continue
                if ref.get("uid") and ref["uid"] != uid:
                    continue  # a Released PV still remembers its old claim: it will not bind again
            elif phase not in (None, "Available"):
                continue
            if phase == "Bound":
                continue
            if not spec.get("volumeName") and (pspec.get("storageClassName") or "") != (want_class or ""):
                continue
            if quantity((pspec.get("capacity") or {}).get("storage", "0")) < requested:
                continue
            if not modes <= set(pspec.get("accessModes") or []):
                continue
            candidates.append(pv)
        # Pre-bound (claimRef) volumes first, then the smallest that fits, as the real binder prefers.
        candidates.sort(key=lambda pv: (pv["spec"].get("claimRef") is None,
                                        quantity(pv["spec"]["capacity"]["storage"])))
        return candidates[0] if candidates else None

    def default_class_name(self) -> str | None:
        sc_kind = self.k("storage.k8s.io", "v1", "storageclasses")
        for (_, name), sc in self.store.objects[sc_kind.key].items():
            if (sc["metadata"].get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class") == "true":
                return name
        return None

    def _bind(self, pv_name: str, pvc: Obj) -> None:
        s = self.store
        pv_kind, pvc_kind = self.k("", "v1", "persistentvolumes"), self.k("", "v1", "persistentvolumeclaims")
        ns, name, uid = pvc["metadata"]["namespace"], pvc["metadata"]["name"], pvc["metadata"]["uid"]

        def set_ref(pv: Obj) -> None:
            pv["spec"]["claimRef"] = {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": ns,
                                      "name": name, "uid": uid}

        s.mutate(pv_kind, "", pv_name, set_ref)
        s.update_status(pv_kind, "", pv_name, {"phase": "Bound"})
        pv = s.objects[pv_kind.key][("", pv_name)]

        def set_volume(claim: Obj) -> None:
            claim["spec"]["volumeName"] = pv_name

        s.mutate(pvc_kind, ns, name, set_volume)
        s.update_status(pvc_kind, ns, name, {"phase": "Bound", "accessModes": pv["spec"].get("accessModes", []),
                                             "capacity": pv["spec"].get("capacity", {})})

    def _provision_or_wait(self, pvc: Obj) -> None:
        s = self.store
        spec = pvc.get("spec") or {}
        class_name = spec.get("storageClassName")
        if class_name is None:
            class_name = self.default_class_name()
        if not class_name or spec.get("volumeName"):
            return
        sc = s.objects[self.k("storage.k8s.io", "v1", "storageclasses").key].get(("", class_name))
        if sc is None or sc.get("provisioner") in (None, "kubernetes.io/no-provisioner"):
            return
        modes = spec.get("accessModes") or ["ReadWriteOnce"]
        if sc["provisioner"] == "rancher.io/local-path" and set(modes) - {"ReadWriteOnce", "ReadWriteOncePod"}:
            self._event(pvc, "ProvisioningFailed", "NodePath only supports ReadWriteOnce and ReadWriteOncePod "
                                                   "(1.22+) access modes")
            return
        pv_name = f"pvc-{pvc['metadata']['uid']}"
        pv_kind = self.k("", "v1", "persistentvolumes")
        if ("", pv_name) in s.objects[pv_kind.key]:
            return
        size = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
        s.create(pv_kind, "", {"metadata": {"name": pv_name, "annotations": {
            "pv.kubernetes.io/provisioned-by": sc["provisioner"]}},
            "spec": {"capacity": {"storage": size}, "accessModes": modes, "storageClassName": class_name,
                     "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy", "Delete"),
                     "claimRef": {"kind": "PersistentVolumeClaim", "apiVersion": "v1",
                                  "namespace": pvc["metadata"]["namespace"], "name": pvc["metadata"]["name"],
                                  "uid": pvc["metadata"]["uid"]},
                     "csi": {"driver": sc["provisioner"], "volumeHandle": pv_name}}},
                 manager=sc["provisioner"])

    def _event(self, obj: Obj, reason: str, message: str) -> None:
        s = self.store
        ev_kind = self.k("", "v1", "events")
        ns = obj["metadata"].get("namespace") or "default"
        name = f"{obj['metadata']['name']}.{hashlib.sha1(reason.encode()).hexdigest()[:8]}"
        if (ns, name) in s.objects[ev_kind.key] or ("", ns) not in s.objects[("", "namespaces")]:
            return
        s.create(ev_kind, ns, {"metadata": {"name": name}, "type": "Warning", "reason": reason, "message": message,
                               "involvedObject": {"kind": obj.get("kind", ""), "name": obj["metadata"]["name"],
                                                  "namespace": ns, "uid": obj["metadata"]["uid"]},
                               "firstTimestamp": now_rfc3339(), "lastTimestamp": now_rfc3339(), "count": 1},
                 manager="sim-controllers")

    # -- workloads ----------------------------------------------------------------------------------------
    def create_workload_children(self, kind: Kind, ns: str, name: str) -> None:
        """StatefulSets make their PVCs and pods; Deployments their pods (Pending until ready)."""
        s = self.store
        pvc_kind, pod_kind = self.k("", "v1", "persistentvolumeclaims"), self.k("", "v1", "pods")
        with s.lock:
            wl = s.objects[kind.key].get((ns, name))
            if wl is None or wl["metadata"].get("deletionTimestamp"):
                return
            spec = wl.get("spec") or {}
            replicas = int(spec.get("replicas", 1))
            owner = {"apiVersion": kind.group_version, "kind": kind.kind, "name": name,
                     "uid": wl["metadata"]["uid"], "controller": True}
            template = spec.get("template") or {}
            labels = dict((template.get("metadata") or {}).get("labels") or {})
            pod_hash = hashlib.sha1(str(wl["metadata"].get("generation")).encode()).hexdigest()[:9]
            wanted = set()
            for i in range(replicas):
                pod_name = f"{name}-{i}" if kind.kind == "StatefulSet" else f"{name}-{pod_hash}-{i:05d}"[:63]
                wanted.add(pod_name)
                claims = []
                if kind.kind == "StatefulSet":
                    for tmpl in spec.get("volumeClaimTemplates") or []:
                        claim = f"{tmpl['metadata']['name']}-{name}-{i}"
                        claims.append(claim)
                        if (ns, claim) not in s.objects[pvc_kind.key]:
                            s.create(pvc_kind, ns, {"metadata": {"name": claim, "labels": labels},
                                                    "spec": tmpl.get("spec", {})}, manager="statefulset-controller")
                if (ns, pod_name) not in s.objects[pod_kind.key]:
                    s.create(pod_kind, ns, {
                        "metadata": {"name": pod_name, "labels": labels, "ownerReferences": [owner],
                                     "annotations": {"sim/claims": ",".join(claims)}},
                        "spec": {**(template.get("spec") or {})},
                        "status": {"phase": "Pending"}}, manager="kube-controller-manager")
            for (pns, pname), pod in list(s.objects[pod_kind.key].items()):
                refs = pod["metadata"].get("ownerReferences") or []
                if pns == ns and any(r.get("uid") == owner["uid"] for r in refs) and pname not in wanted:
                    s.delete(pod_kind, pns, pname)

    def resync(self) -> None:
        """What a controller manager does when it starts: bring every workload's children and status up to date
        (a world restarted mid-install has Deployments whose pods were never made)."""
        s = self.store
        for plural in ("statefulsets", "deployments"):
            kind = self.k("apps", "v1", plural)
            for (ns, name) in list(s.objects[kind.key]):
                self.create_workload_children(kind, ns, name)
        self.reconcile_volumes()
        self.reconcile_all_workloads()
        # The namespace controller picks up namespaces left Terminating (a world stopped mid-deletion would
        # otherwise keep them forever: the deletion was only ever scheduled by the DELETE that started it).
        ns_kind = self.k("", "v1", "namespaces")
        for (_, name), ns in list(s.objects[ns_kind.key].items()):
            if ns["metadata"].get("deletionTimestamp"):
                s.scheduler.after(0.05, lambda name=name: s.terminate_namespace(name))
        # cert-manager and Argo CD resync when they start as well: an Ingress or Application made just before the
        # world stopped would otherwise never get its certificate or its sync status (they reacted to events only).
        for (ns, name) in list(s.objects[self.k("networking.k8s.io", "v1", "ingresses").key]):
            s.scheduler.after(0.05, lambda ns=ns, name=name: self.issue_certificates(ns, name))
        app_kind = s.kinds.get(("argoproj.io", "v1alpha1", "applications"))
        for (ns, name) in list(s.objects[app_kind.key]) if app_kind is not None else ():
            s.scheduler.after(0.05, lambda ns=ns, name=name: self.sync_application(app_kind, ns, name))
        # Kargo's controller, starting, finishes what it was doing: a Stage deleted just before the world stopped
        # still carries its finalizer, and only the controller takes it off (its delete event is long gone).
        stage_kind = s.kinds.get(("kargo.akuity.io", "v1alpha1", "stages"))
        for stage in list(s.objects[stage_kind.key].values()) if stage_kind is not None else ():
            s.scheduler.after(0.05, lambda stage=stage: self.kargo_stage(stage_kind, stage))

    def reconcile_all_workloads(self) -> None:
        s = self.store
        for plural in ("statefulsets", "deployments"):
            kind = self.k("apps", "v1", plural)
            for (ns, name) in list(s.objects[kind.key]):
                self.reconcile_workload(kind, ns, name)

    def _refused_export(self, pod: Obj, claims: list[str]) -> str:
        """The NFS export behind one of the pod's claims that refuses its containers' user, or ''. (Kubernetes
        applies no fsGroup to NFS: the export's own permissions decide.)"""
        from stonks_tui.sim.jobs import pod_uid, refused_export

        s, ns = self.store, pod["metadata"]["namespace"]
        pvc_kind, pv_kind = self.k("", "v1", "persistentvolumeclaims"), self.k("", "v1", "persistentvolumes")
        spec = pod.get("spec") or {}
        for claim in claims:
            volume = ((s.objects[pvc_kind.key].get((ns, claim)) or {}).get("spec") or {}).get("volumeName")
            nfs = ((s.objects[pv_kind.key].get(("", volume or "")) or {}).get("spec") or {}).get("nfs")
            for uid in dict.fromkeys(pod_uid(spec, c) for c in spec.get("containers") or []) if nfs else ():
                if export := refused_export(self.nfs_refused, nfs, uid):
                    return f"{export} is not writable by uid {uid}"
        return ""

    def _pod_state(self, pod: Obj) -> tuple[bool, Obj]:
        """(ready, status) of a pod: Pending on unbound claims, waiting on broken images, else Running."""
        s = self.store
        pvc_kind = self.k("", "v1", "persistentvolumeclaims")
        ns = pod["metadata"]["namespace"]
        claims = [c for c in (pod["metadata"].get("annotations") or {}).get("sim/claims", "").split(",") if c]
        for vol in (pod.get("spec") or {}).get("volumes") or []:
            if vol.get("persistentVolumeClaim"):
                claims.append(vol["persistentVolumeClaim"]["claimName"])
        unbound = [c for c in claims
                   if ((s.objects[pvc_kind.key].get((ns, c)) or {}).get("status") or {}).get("phase") != "Bound"]
        if unbound:
            return False, {"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                 "message": f"0/4 nodes are available: pod has unbound immediate PersistentVolumeClaims "
                            f"({', '.join(unbound)})"}]}
        containers = (pod.get("spec") or {}).get("containers") or []
        refused = self._refused_export(pod, claims)
        if refused:  # Woodpecker's server cannot open its SQLite database as uid 1000: it exits, again and again
            return False, {"phase": "Running", "containerStatuses": [
                {"name": c.get("name", ""), "image": c.get("image", ""), "imageID": "", "ready": False,
                 "restartCount": 5, "state": {"waiting": {
                     "reason": "CrashLoopBackOff", "message": f"back-off restarting failed container: {refused}"}}}
                for c in containers]}
        secret_kind = self.k("", "v1", "secrets")
        for c in containers:
            for src in c.get("envFrom") or []:
                ref = (src.get("secretRef") or {}).get("name")
                if ref and (ns, ref) not in s.objects[secret_kind.key]:
                    return False, {"phase": "Pending", "containerStatuses": [
                        {"name": c.get("name", ""), "image": c.get("image", ""), "imageID": "", "ready": False,
                         "restartCount": 0, "state": {"waiting": {
                            "reason": "CreateContainerConfigError", "message": f'secret "{ref}" not found'}}}]}
        statuses = []
        ready = True
        for c in containers:
            image = c.get("image", "")
            broken = next((reason for pat, reason in self.broken_images.items() if pat in image), None)
            if broken:
                ready = False
                statuses.append({"name": c.get("name", ""), "image": image, "imageID": "", "ready": False,
                                 "restartCount": 0,
                                 "state": {"waiting": {"reason": broken,
                                                       "message": f'Back-off pulling image "{image}"'}}})
            else:
                statuses.append({"name": c.get("name", ""), "image": image, "ready": True, "restartCount": 0,
                                 "imageID": f"{image}@sha256:{hashlib.sha256(image.encode()).hexdigest()}",
                                 "state": {"running": {"startedAt": now_rfc3339()}}})
        return ready, {"phase": "Running" if ready else "Pending", "containerStatuses": statuses,
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                       "simLog": [f"{c.get('name', 'main')}: started" for c in containers]}

    def reconcile_workload(self, kind: Kind, ns: str, name: str) -> None:
        s = self.store
        pod_kind = self.k("", "v1", "pods")
        with s.lock:
            wl = s.objects[kind.key].get((ns, name))
            if wl is None:
                return
            uid = wl["metadata"]["uid"]
            ready = 0
            pods = [(pname, p) for (pns, pname), p in s.objects[pod_kind.key].items()
                    if pns == ns and any(r.get("uid") == uid for r in p["metadata"].get("ownerReferences") or [])]
            for pname, pod in pods:
                ok, status = self._pod_state(pod)
                ready += ok
                s.update_status(pod_kind, ns, pname, status)
            replicas = int((wl.get("spec") or {}).get("replicas", 1))
            status: dict[str, Any] = {"observedGeneration": wl["metadata"].get("generation", 1),
                                      "replicas": len(pods), "readyReplicas": ready, "updatedReplicas": len(pods)}
            if kind.kind == "StatefulSet":
                status.update({"currentReplicas": len(pods), "availableReplicas": ready})
            else:
                status.update({"availableReplicas": ready, "conditions": [
                    {"type": "Available", "status": "True" if ready >= replicas else "False"}]})
            s.update_status(kind, ns, name, status)

    # -- cert-manager -------------------------------------------------------------------------------------
    def issue_certificates(self, ns: str, name: str) -> None:
        s = self.store
        ing_kind = self.k("networking.k8s.io", "v1", "ingresses")
        secret_kind = self.k("", "v1", "secrets")
        with s.lock:
            ing = s.objects[ing_kind.key].get((ns, name))
            if ing is None:
                return
            issuer = (ing["metadata"].get("annotations") or {}).get("cert-manager.io/cluster-issuer")
            issuer_kind = s.kinds.get(("cert-manager.io", "v1", "clusterissuers"))
            if not issuer or issuer_kind is None or ("", issuer) not in s.objects[issuer_kind.key]:
                return
            for tls in (ing.get("spec") or {}).get("tls") or []:
                secret = tls.get("secretName")
                if not secret or (ns, secret) in s.objects[secret_kind.key]:
                    continue
                fake = base64.b64encode(f"simulated certificate for {tls.get('hosts')}".encode()).decode()
                s.create(secret_kind, ns, {"metadata": {"name": secret, "annotations": {
                    "cert-manager.io/issuer-name": issuer, "cert-manager.io/issuer-kind": "ClusterIssuer",
                    "cert-manager.io/alt-names": ",".join(tls.get("hosts") or [])}},
                    "type": "kubernetes.io/tls", "data": {"tls.crt": fake, "tls.key": fake}}, manager="cert-manager")

    # -- Argo CD ------------------------------------------------------------------------------------------
    def sync_application(self, kind: Kind, ns: str, name: str) -> None:
        s = self.store
        with s.lock:
            app = s.objects[kind.key].get((ns, name))
            if app is None:
                return
            source = (app.get("spec") or {}).get("source") or {}
            url = source.get("repoURL", "")
            if self.repo_exists(url):
                # What was synced: the source as it is now, helm parameters (Kargo's image.tag) included.
                synced = {"repoURL": url, "path": source.get("path", ""),
                          "targetRevision": source.get("targetRevision", "")}
                if (source.get("helm") or {}).get("parameters"):
                    synced["helm"] = {"parameters": [dict(p) for p in source["helm"]["parameters"]]}
                status = {"sync": {"status": "Synced", "comparedTo": {"source": synced},
                                   "revision": self.repo_head(url, source.get("targetRevision") or "HEAD")},
                          "health": {"status": "Healthy"}}
                if app.get("operation"):
                    status["operationState"] = {"phase": "Succeeded", "operation": app["operation"],
                                                "syncResult": {"source": synced,
                                                               "revision": status["sync"]["revision"]}}
            else:
                status = {"sync": {"status": "Unknown"}, "health": {"status": "Unknown"},
                          "conditions": [{"type": "ComparisonError",
                                          "message": f"failed to list refs: repository not found: {url}"}]}
            s.update_status(kind, ns, name, status)
            if app.get("operation"):  # done: the operation moves to status.operationState
                s.mutate(kind, ns, name, lambda o: o.pop("operation", None))


def release_finalizers(store: Store, namespaces: set[str], mark: str, deletes: Callable[[Kind], bool],
                       manager: str) -> None:
    """What a controller does when it cleans up after its objects (ARC's, legacy ARC's): in `namespaces`, every
    finalizer containing `mark` is removed and every object of a kind `deletes` names is deleted."""
    with store.lock:
        for k in list(store.kinds.values()):
            if not k.namespaced:
                continue
            for (ns, name), obj in list(store.objects.get(k.key, {}).items()):
                if ns not in namespaces:
                    continue
                fins = obj["metadata"].get("finalizers") or []
                marked = [f for f in fins if mark in f]
                if marked:
                    store.json_patch(k, ns, name, [{"op": "replace", "path": "/metadata/finalizers",
                                                    "value": [f for f in fins if f not in marked]}], manager=manager)
                if deletes(k) and (ns, name) in store.objects.get(k.key, {}):
                    store.delete(k, ns, name)
