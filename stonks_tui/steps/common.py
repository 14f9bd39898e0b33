"""What steps share: manifest application by SSA, and the runtime (stonks_tui.runtime) they reach the world by."""

from __future__ import annotations

import json
from typing import Any

from stonks_tui.engine.step import Change, CheckResult, Done, NotDone, Step, StepContext
from stonks_tui.render import resolve_secrets
from stonks_tui.runtime import Runtime, cluster_facts, rendered, runtime  # noqa: F401 - what steps reach the world by

# Metadata the API server or controllers write, never this tool: not a difference between live and wanted.
# (finalizers: Kargo's controller adds its own to a Stage right after it is created — between a check's read and
# its dry-run, found on the real tier — which read as a change this tool would make.)
_BOOKKEEPING = ("resourceVersion", "managedFields", "generation", "creationTimestamp", "uid", "selfLink",
                "finalizers", "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences")


def ref(obj: dict) -> str:
    meta = obj.get("metadata", {})
    ns = meta.get("namespace")
    return f"{obj.get('kind')} {ns + '/' if ns else ''}{meta.get('name')}"


def _strip(obj: dict) -> dict:
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _BOOKKEEPING}
    out["metadata"] = meta
    return out


def _leaves(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict) and obj:
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_leaves(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: obj}


def field_diff(live: dict, wanted: dict) -> list[str]:
    """Short list of fields that differ, values of Secrets masked."""
    a, b = _leaves(_strip(live)), _leaves(_strip(wanted))
    changed = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    secret = live.get("kind") == "Secret" or wanted.get("kind") == "Secret"
    out = []
    for key in changed:
        if secret and key.startswith(("data.", "stringData.")):
            out.append(f"{key}: (secret value changed)")
        else:
            out.append(f"{key}: {json.dumps(a.get(key))} → {json.dumps(b.get(key))}")
    return out


async def object_change(ctx: StepContext, obj: dict) -> tuple[str, list[str]]:
    """create / update / unchanged for one object, by a server-side dry-run compared with the live object."""
    kube = runtime(ctx).kube()
    meta = obj["metadata"]
    live = await kube.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
    if live is None:
        return "create", []
    resolved = resolve_secrets(obj, ctx.secrets.get)
    would = await kube.would_be(resolved)
    diff = field_diff(live, would)
    return ("unchanged", []) if not diff else ("update", diff)


async def _changes(ctx: StepContext, objs: list[dict]) -> list[tuple[str, list[str]]]:
    """object_change for every object at once (read-only: a GET and a dry-run each; one after another they were
    most of a step's time in a no-op plan — more so behind Kargo's admission webhooks)."""
    import asyncio

    return list(await asyncio.gather(*(object_change(ctx, obj) for obj in objs)))


async def pending_objects(ctx: StepContext, objs: list[dict]) -> list[str]:
    """The objects that are not as wanted yet, as 'Kind ns/name (create|update)'."""
    return [f"{ref(obj)} ({action})" for obj, (action, _) in zip(objs, await _changes(ctx, objs), strict=True)
            if action != "unchanged"]


async def apply_objects(ctx: StepContext, objs: list[dict]) -> None:
    """Server-side apply each object (secrets filled from the keyring), logging created/updated/unchanged."""
    kube = runtime(ctx).kube()
    for obj in objs:
        result, _ = await kube.apply(resolve_secrets(obj, ctx.secrets.get))
        ctx.log(f"{result:<9} {ref(obj)}")


async def describe_objects(ctx: StepContext, objs: list[dict]) -> list[Change]:
    return [Change(action, obj["kind"], ref(obj).split(" ", 1)[1], "; ".join(diff[:4]))
            for obj, (action, diff) in zip(objs, await _changes(ctx, objs), strict=True)]


class ManifestStep(Step):
    """Applies a fixed set of rendered manifest files. Subclasses set `files` (relative to manifests/)."""

    files: tuple[str, ...] = ()


    async def objects(self, ctx: StepContext) -> list[dict]:
        r = await rendered(ctx)
        return [obj for f in self.files for obj in r.objects[f]]

    async def check(self, ctx: StepContext) -> CheckResult:
        pending = await pending_objects(ctx, await self.objects(ctx))
        return Done() if not pending else NotDone("to apply: " + ", ".join(pending))

    async def apply(self, ctx: StepContext) -> None:
        await apply_objects(ctx, await self.objects(ctx))

    async def describe(self, ctx: StepContext) -> list[Change]:
        return await describe_objects(ctx, await self.objects(ctx))
