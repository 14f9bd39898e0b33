"""What the install owns and what the teardown may remove: the label on what it creates, the namespaces and
volumes it made, the pipeline PVs it keeps and ARC's namespaces it removes. Steps (install, teardown) and checks
(verify) both ask these questions, so the answers live here, below both."""

from __future__ import annotations

from typing import Any

from stonks_tui.engine.step import StepContext
from stonks_tui.runtime import rendered, runtime

MANAGED_BY = ("app.kubernetes.io/managed-by", "stonks-tui")
# What a stage namespace may hold and still be ours alone to delete: nothing that runs or stores.
WORKLOAD_KINDS = (("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("apps/v1", "DaemonSet"),
                  ("batch/v1", "Job"), ("v1", "Pod"), ("v1", "PersistentVolumeClaim"))


def made_by_install(namespace: dict) -> bool:
    labels = (namespace.get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY[0]) == MANAGED_BY[1]


async def wanted_namespaces(ctx: StepContext) -> list[str]:
    r = await rendered(ctx)
    return [obj["metadata"]["name"] for obj in r.objects["namespaces.yaml"]]


async def foreign_namespaces(ctx: StepContext) -> list[str]:
    """The wanted namespaces that exist without our mark (made by someone else before the install)."""
    kube = runtime(ctx).kube()
    out = []
    for name in await wanted_namespaces(ctx):
        live = await kube.get("v1", "Namespace", name)
        if live is not None and not made_by_install(live):
            out.append(name)
    return out


async def workloads_in(kube: Any, namespace: str) -> list[str]:
    found = []
    for api, kind in WORKLOAD_KINDS:
        for obj in await kube.list(api, kind, namespace):
            found.append(f"{kind} {obj['metadata']['name']}")
    return found


async def volumes_of(kube: Any, namespace: str) -> list[dict]:
    """Every PersistentVolume bound to a claim in `namespace` (ours and anyone else's)."""
    return [pv for pv in await kube.list("v1", "PersistentVolume")
            if ((pv.get("spec") or {}).get("claimRef") or {}).get("namespace") == namespace]


async def teardown_namespaces(ctx: StepContext) -> tuple[list[str], list[tuple[str, str]]]:
    """(namespaces to delete, [(namespace kept, why)])."""
    s = ctx.settings
    kube = runtime(ctx).kube()
    delete: list[str] = []
    kept = [(s.gitea_namespace, "Gitea runs there"), (s.live_namespace, "the live deployment runs there")]
    stages = {s.beta_namespace, s.paper_namespace}
    for name in await wanted_namespaces(ctx):
        if name in (s.gitea_namespace, s.live_namespace):
            continue
        live = await kube.get("v1", "Namespace", name)
        if live is None:
            continue
        if not made_by_install(live):
            kept.append((name, "it existed before the install"))
            continue
        if name in stages:
            running = await workloads_in(kube, name)
            if running:
                kept.append((name, f"the stage's deployment still runs there ({', '.join(running[:3])}"
                                   f"{', …' if len(running) > 3 else ''}): the Applications are gone, what "
                                   "they deployed is not; delete it with kubectl when you no longer need it"))
                continue
        delete.append(name)
    return delete, kept


PIPELINE_PVS = ("pipeline-argocd-pv", "pipeline-kargo-pv", "pipeline-woodpecker-pv")
DESIGN_NAMESPACES = ("arc-system", "arc-systems", "arc-runners")


def describe_pv(pv: dict) -> str:
    spec, status = pv.get("spec") or {}, pv.get("status") or {}
    nfs = spec.get("nfs") or {}
    return (f"{pv['metadata']['name']}: {nfs.get('server')}:{nfs.get('path')}, "
            f"{(spec.get('capacity') or {}).get('storage')}, {spec.get('persistentVolumeReclaimPolicy')}, "
            f"{status.get('phase')}")


async def existing_pvs(kube: Any) -> list[dict]:
    """The pipeline PVs that exist now (the ones teardown keeps, or --delete-pvs removes)."""
    return [pv for name in PIPELINE_PVS if (pv := await kube.get("v1", "PersistentVolume", name))]
