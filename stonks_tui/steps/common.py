"""What steps share: the runtime (clients built lazily, once per run) and manifest application by SSA."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stonks_tui.engine.step import Change, CheckResult, Done, NotDone, Step, StepContext
from stonks_tui.errors import StepFailed
from stonks_tui.render import ClusterFacts, Rendered, render, resolve_secrets
from stonks_tui.settings import Settings

# Metadata the API server or controllers write, never this tool: not a difference between live and wanted.
# (finalizers: Kargo's controller adds its own to a Stage right after it is created — between a check's read and
# its dry-run, found on the real tier — which read as a change this tool would make.)
_BOOKKEEPING = ("resourceVersion", "managedFields", "generation", "creationTimestamp", "uid", "selfLink",
                "finalizers", "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences")


@dataclass
class Runtime:
    """How to reach the world: kubeconfig + context, the environment for helm/git, and where state lives."""

    context: str
    kubeconfig: str | None = None
    state_dir: Path | None = None
    env: dict[str, str] | None = None
    demo: bool = False
    confirm: Any = None  # callable(question) -> bool for operator decisions mid-run; None = decline
    assume_yes: bool = False  # install --yes: consent to put back our own releases an interrupted run left pending
    # "`stonks-tui [--state-dir …] [--demo | --context …] <name>`": a hint the operator copies works where it was
    # shown (the session's options carried); the bare command when no session says otherwise.
    command: Any = None

    def cmd(self, name: str) -> str:
        return self.command(name) if self.command is not None else f"`stonks-tui {name}`"
    _clients: dict[str, Any] = field(default_factory=dict)

    def kube(self) -> Any:
        if "kube" not in self._clients:
            from stonks_tui.clients.kube import KubeClient

            cache = self.state_dir / "cache" if self.state_dir else None
            self._clients["kube"] = KubeClient(self.kubeconfig, self.context, cache)
        return self._clients["kube"]

    def helm(self) -> Any:
        if "helm" not in self._clients:
            from stonks_tui.clients.helm import HelmClient

            self._clients["helm"] = HelmClient(kube_context=self.context, env=self.env)
        return self._clients["helm"]

    def gitea(self, settings: Settings) -> Any:
        if "gitea" not in self._clients:
            from stonks_tui.clients.gitea import GiteaClient

            self._clients["gitea"] = GiteaClient.from_settings(settings)
        return self._clients["gitea"]

    def woodpecker(self, settings: Settings, token: str) -> Any:
        from stonks_tui.clients.woodpecker import WoodpeckerClient

        return WoodpeckerClient(settings.effective_woodpecker_url, token)

    async def aclose(self) -> None:
        for client in self._clients.values():
            close = getattr(client, "aclose", None)
            if close is not None:
                await close()
            elif hasattr(client, "close"):
                client.close()
        self._clients.clear()


def runtime(ctx: StepContext) -> Runtime:
    rt = ctx.clients.get("runtime")
    if rt is None:
        raise StepFailed("no cluster runtime configured for this run", hint="this is a bug in stonks-tui")
    return rt


async def cluster_facts(ctx: StepContext) -> ClusterFacts:
    """Facts rendering depends on, read once per run: does the pipeline storage class do RWX?"""
    cached = ctx.clients.get("facts")
    if cached is not None:
        return cached
    from stonks_tui.render import RWX_PROVISIONERS

    kube = runtime(ctx).kube()
    name = ctx.settings.woodpecker_storage_class
    classes = await kube.list("storage.k8s.io/v1", "StorageClass")
    chosen = None
    for sc in classes:
        default = (sc["metadata"].get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class")
        if (name and sc["metadata"]["name"] == name) or (not name and default == "true"):
            chosen = sc
    rwx = bool(chosen) and any(p in (chosen or {}).get("provisioner", "") for p in RWX_PROVISIONERS)
    facts = ClusterFacts(rwx=rwx)
    ctx.clients["facts"] = facts
    return facts


async def rendered(ctx: StepContext) -> Rendered:
    return render(ctx.settings, await cluster_facts(ctx))


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
    _, would = await kube.apply(resolved, dry_run=True)
    diff = field_diff(live, would)
    return ("unchanged", []) if not diff else ("update", diff)


async def pending_objects(ctx: StepContext, objs: list[dict]) -> list[str]:
    """The objects that are not as wanted yet, as 'Kind ns/name (create|update)'."""
    out = []
    for obj in objs:
        action, _ = await object_change(ctx, obj)
        if action != "unchanged":
            out.append(f"{ref(obj)} ({action})")
    return out


async def apply_objects(ctx: StepContext, objs: list[dict]) -> None:
    """Server-side apply each object (secrets filled from the keyring), logging created/updated/unchanged."""
    kube = runtime(ctx).kube()
    for obj in objs:
        result, _ = await kube.apply(resolve_secrets(obj, ctx.secrets.get))
        ctx.log(f"{result:<9} {ref(obj)}")


async def describe_objects(ctx: StepContext, objs: list[dict]) -> list[Change]:
    changes = []
    for obj in objs:
        action, diff = await object_change(ctx, obj)
        changes.append(Change(action, obj["kind"], ref(obj).split(" ", 1)[1], "; ".join(diff[:4])))
    return changes


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
