"""Proof that an NFS export is writable by the user a workload runs as, before that workload needs it.

Woodpecker's server runs as uid 1000 and keeps its SQLite database on its NFS volume; Kubernetes applies no fsGroup
to NFS volumes, so an export the NAS does not let uid 1000 write crash-loops the server — and preflight only knows
that the NFS port answers. A short Job writes and removes a file as that user on the export itself (an inline NFS
volume: the PV stays free for the claim it is meant for). Its image is the Gitea pod's — already on the node, with
a shell — so the probe pulls nothing.
"""

from __future__ import annotations

from typing import Any

from stonks_tui.engine.step import StepContext
from stonks_tui.errors import StepFailed
from stonks_tui.steps.common import runtime

PROBE_JOB = "stonks-nfs-probe"
PROBE_TIMEOUT = 120.0
MOUNT = "/probe"


def probe_job(namespace: str, server: str, path: str, uid: int, image: str) -> dict[str, Any]:
    """The Job: as `uid`, create and remove a file at the top of the export; nothing else, then gone."""
    script = f'f="{MOUNT}/.stonks-probe-$HOSTNAME" && touch "$f" && rm -f "$f"'
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": PROBE_JOB, "namespace": namespace,
                     "labels": {"app.kubernetes.io/managed-by": "stonks-tui",
                                "app.kubernetes.io/name": PROBE_JOB}},
        "spec": {"backoffLimit": 0, "activeDeadlineSeconds": int(PROBE_TIMEOUT), "ttlSecondsAfterFinished": 600,
                 "template": {
                     "metadata": {"labels": {"app.kubernetes.io/name": PROBE_JOB}},
                     "spec": {
                         "restartPolicy": "Never", "automountServiceAccountToken": False,
                         "securityContext": {"runAsUser": uid, "runAsGroup": uid, "runAsNonRoot": True,
                                             "seccompProfile": {"type": "RuntimeDefault"}},
                         "containers": [{
                             "name": "probe", "image": image, "command": ["sh", "-c", script],
                             "terminationMessagePolicy": "FallbackToLogsOnError",
                             "securityContext": {"allowPrivilegeEscalation": False,
                                                 "capabilities": {"drop": ["ALL"]}},
                             "resources": {"requests": {"cpu": "10m", "memory": "16Mi"},
                                           "limits": {"memory": "64Mi"}},
                             "volumeMounts": [{"name": "export", "mountPath": MOUNT}]}],
                         "volumes": [{"name": "export", "nfs": {"server": server, "path": path}}]}}}}


async def probe_image(kube: Any, gitea_namespace: str) -> str:
    pods = await kube.list("v1", "Pod", gitea_namespace, label_selector="app=gitea")
    for pod in pods:
        for container in (pod.get("spec") or {}).get("containers") or []:
            if container.get("image"):
                return str(container["image"])
    raise StepFailed(f"no Gitea pod (label app=gitea) in namespace {gitea_namespace} to take a probe image from",
                     hint=f"kubectl -n {gitea_namespace} get pods; set gitea_namespace if Gitea lives elsewhere")


async def prove_writable(ctx: StepContext, *, namespace: str, server: str, path: str, uid: int, setting: str,
                         who: str) -> None:
    """Raise StepFailed naming the export and what to change on the NAS unless `uid` can write to it."""
    kube = runtime(ctx).kube()
    image = await probe_image(kube, ctx.settings.gitea_namespace)
    ctx.log(f"proving {server}:{path} is writable as uid {uid} ({who}): Job {namespace}/{PROBE_JOB}")
    if await kube.delete("batch/v1", "Job", PROBE_JOB, namespace):  # one an interrupted run left
        await kube.wait_gone("batch/v1", "Job", PROBE_JOB, namespace, 60)
    await kube.create(probe_job(namespace, server, path, uid, image))
    try:
        async def why(_job: dict | None) -> str:
            return await kube.why_not_ready(namespace, {"app.kubernetes.io/name": PROBE_JOB})

        job = await kube.wait_for("batch/v1", "Job", PROBE_JOB, namespace,
                                  lambda job: job is None or _condition(job, "Complete", "Failed"), PROBE_TIMEOUT,
                                  "finished", why)
        if _condition(job, "Complete"):
            ctx.log(f"writable  {server}:{path} as uid {uid}")
            return
        said = await _container_said(kube, namespace)
        raise StepFailed(
            f"{who} runs as uid {uid} and keeps its data on the NFS export {server}:{path} ({setting}), which "
            f"uid {uid} cannot write" + (f": {said}" if said else ""),
            hint=f"on the NAS, let uid {uid} write that directory — `chown -R {uid}:{uid} {path}`, or export it "
                 f"with all_squash,anonuid={uid},anongid={uid} — then run again (Kubernetes applies no fsGroup "
                 "to NFS volumes: nothing in the pod can change it)")
    finally:
        await kube.delete("batch/v1", "Job", PROBE_JOB, namespace)


def _condition(job: dict | None, *types: str) -> bool:
    """Has the Job one of these conditions, true?"""
    conds = ((job or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") in types and c.get("status") == "True" for c in conds)


async def _container_said(kube: Any, namespace: str) -> str:
    for pod in await kube.list("v1", "Pod", namespace, label_selector=f"app.kubernetes.io/name={PROBE_JOB}"):
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            done = (status.get("state") or {}).get("terminated") or {}
            if done.get("exitCode"):
                text = (done.get("message") or "").strip().splitlines()
                return text[-1][:200] if text else f"exit {done['exitCode']}"
    return ""
