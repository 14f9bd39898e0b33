"""What the install made, so teardown removes that and nothing else (issue 15: nothing foreign is deleted).

Namespaces the install creates carry MANAGED_BY; a namespace that existed before keeps no mark of ours and is never
deleted. Before a namespace of ours goes, every volume bound to a claim in it is made Retain, so no one's data
(a local-path directory, an NFS export with reclaim Delete) goes with it.
"""

from __future__ import annotations

from typing import Any

from stonks_tui.engine.step import StepContext
from stonks_tui.steps.common import rendered, runtime

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
