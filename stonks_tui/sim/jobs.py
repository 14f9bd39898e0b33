"""Jobs as the job controller and a node run them: one pod per Job, Succeeded a moment later — unless the pod
writes to an NFS export the simulated NAS does not let its user write. The NAS's permissions come from
STONKS_SIM_FAULTS: `nfs:<server>:<path> uid=<uid>=403` (a regular expression, as for every fault) makes that
export refuse that uid, as an export owned by root (without all_squash to that uid) refuses uid 1000: `touch`
fails with "Permission denied" and the container exits 1. Kubernetes applies no fsGroup to NFS volumes, so nothing
in the pod can change that."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from stonks_tui.sim.kinds import Kind
from stonks_tui.sim.store import Obj, Store, now_rfc3339


def pod_uid(spec: dict[str, Any], container: dict[str, Any]) -> int:
    """The uid a container runs as: its own securityContext, else the pod's, else the image's root."""
    for ctx in (container.get("securityContext") or {}, spec.get("securityContext") or {}):
        if ctx.get("runAsUser") is not None:
            return int(ctx["runAsUser"])
    return 0


def refused_export(refused: Callable[[str], bool], nfs: dict[str, Any], uid: int) -> str:
    """The export ("SERVER:PATH") when the simulated NAS refuses `uid`'s writes to it, else ''."""
    export = f"{nfs.get('server')}:{nfs.get('path')}"
    return export if refused(f"{export} uid={uid}") else ""


class JobController:
    def __init__(self, store: Store, refused: Callable[[str], bool], delay: float = 0.3) -> None:
        self.store, self.refused, self.delay = store, refused, delay
        store.on_change.append(self._on_change)

    def _kind(self, group: str, plural: str) -> Kind:
        return self.store.kinds[(group, "v1", plural)]

    def _on_change(self, etype: str, kind: Kind, obj: Obj) -> None:
        if kind.group == "batch" and kind.plural == "jobs" and etype == "ADDED":
            ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
            self.store.scheduler.after(0.05, lambda: self.start(ns, name))

    def start(self, ns: str, name: str) -> None:
        jobs, pods = self._kind("batch", "jobs"), self._kind("", "pods")
        with self.store.lock:
            job = self.store.objects[jobs.key].get((ns, name))
            if job is None or job["metadata"].get("deletionTimestamp"):
                return
            template = (job.get("spec") or {}).get("template") or {}
            pod_name = f"{name}-{secrets.token_hex(3)[:5]}"
            owner = {"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": job["metadata"]["uid"],
                     "controller": True, "blockOwnerDeletion": True}
            labels = {**((template.get("metadata") or {}).get("labels") or {}), "job-name": name}
            self.store.create(pods, ns, {"metadata": {"name": pod_name, "labels": labels, "ownerReferences": [owner]},
                                         "spec": dict(template.get("spec") or {}), "status": {"phase": "Pending"}},
                              manager="job-controller")
        self.store.scheduler.after(self.delay, lambda: self.finish(ns, name, pod_name))

    def finish(self, ns: str, job_name: str, pod_name: str) -> None:
        jobs, pods = self._kind("batch", "jobs"), self._kind("", "pods")
        with self.store.lock:
            pod = self.store.objects[pods.key].get((ns, pod_name))
            if pod is None:
                return
            spec = pod.get("spec") or {}
            volumes = {v["name"]: v["nfs"] for v in spec.get("volumes") or [] if v.get("nfs")}
            statuses, failed = [], False
            for container in spec.get("containers") or []:
                uid = pod_uid(spec, container)
                denied = [export for m in container.get("volumeMounts") or [] if m.get("name") in volumes
                          if (export := refused_export(self.refused, volumes[m["name"]], uid))]
                mount = next((m["mountPath"] for m in container.get("volumeMounts") or []
                              if m.get("name") in volumes), "/")
                message = f"touch: {mount}/.stonks-probe: Permission denied\n" if denied else ""
                failed = failed or bool(denied)
                statuses.append({"name": container["name"], "image": container.get("image", ""), "ready": False,
                                 "state": {"terminated": {"exitCode": 1 if denied else 0, "message": message,
                                                          "reason": "Error" if denied else "Completed",
                                                          "finishedAt": now_rfc3339()}}})
            phase = "Failed" if failed else "Succeeded"

            def pod_done(o: Obj) -> None:
                o["status"] = {"phase": phase, "containerStatuses": statuses}

            def job_done(o: Obj) -> None:
                o["status"] = {"failed" if failed else "succeeded": 1, "completionTime": now_rfc3339(),
                               "conditions": [{"type": "Failed" if failed else "Complete", "status": "True",
                                               "reason": "BackoffLimitExceeded" if failed else "Completed"}]}

            self.store.mutate(pods, ns, pod_name, pod_done)
            self.store.mutate(jobs, ns, job_name, job_done)
