"""Cluster steps that apply manifests: namespaces, NFS PVs, NetworkPolicy, agent RBAC, Argo CD and Kargo objects."""

from __future__ import annotations

import asyncio

from stonks_tui.engine.step import Change, CheckResult, NotDone, StepContext
from stonks_tui.errors import StepFailed
from stonks_tui.inventory import foreign_namespaces, made_by_install
from stonks_tui.steps.common import ManifestStep, object_change, runtime


class Namespaces(ManifestStep):
    """Creates the pipeline namespaces, marked as the install's (MANAGED_BY). One that exists without the mark was
    someone else's: it is used as it is — not labelled, not adopted — and teardown leaves it."""

    id, title, needs = "namespaces", "Create namespaces", ()
    reads_secrets = False  # manifests without ${secret:…}: the plan asks it at once
    files = ("namespaces.yaml",)

    async def objects(self, ctx: StepContext) -> list[dict]:
        kube = runtime(ctx).kube()
        wanted = await super().objects(ctx)
        # Asked at once: one after another, the namespaces step was the last of a no-op run's checks to answer.
        lives = await asyncio.gather(*(kube.get("v1", "Namespace", obj["metadata"]["name"]) for obj in wanted))
        return [obj for obj, live in zip(wanted, lives, strict=True) if live is None or made_by_install(live)]

    async def apply(self, ctx: StepContext) -> None:
        await super().apply(ctx)
        for name in await foreign_namespaces(ctx):
            ctx.log(f"kept      Namespace {name}: it existed before the install, so teardown will not delete it")


class PersistentVolumes(ManifestStep):
    """NFS PVs with Retain, pre-bound to their claims. A PV Released by an earlier teardown still names its old
    claim's uid and would never bind again: clear that uid (keeping namespace/name) so the new claim takes it."""

    id, title, needs = "pvs", "NFS PersistentVolumes (Retain)", ("namespaces",)
    reads_secrets = False  # manifests without ${secret:…}: the plan asks it at once
    files = ("pvs/argocd-pv.yaml", "pvs/kargo-pv.yaml", "pvs/woodpecker-pv.yaml",
             "pvs/argocd-pvc.yaml", "pvs/kargo-pvc.yaml")

    async def _released(self, ctx: StepContext) -> list[str]:
        kube = runtime(ctx).kube()
        out = []
        for obj in await self.objects(ctx):
            if obj["kind"] != "PersistentVolume":
                continue
            live = await kube.get("v1", "PersistentVolume", obj["metadata"]["name"])
            if live and (live.get("status") or {}).get("phase") == "Released":
                out.append(obj["metadata"]["name"])
        return out

    async def check(self, ctx: StepContext) -> CheckResult:
        released = await self._released(ctx)
        if released:
            return NotDone(f"Released by an earlier teardown, to re-bind: {', '.join(released)}")
        return await super().check(ctx)

    async def apply(self, ctx: StepContext) -> None:
        kube = runtime(ctx).kube()
        for name in await self._released(ctx):
            live = await kube.get("v1", "PersistentVolume", name)
            claim = (live.get("spec") or {}).get("claimRef") or {}
            await kube.patch("v1", "PersistentVolume", name, None,
                             [{"op": "remove", "path": "/spec/claimRef/uid"},
                              {"op": "remove", "path": "/spec/claimRef/resourceVersion"}]
                             if "resourceVersion" in claim else [{"op": "remove", "path": "/spec/claimRef/uid"}],
                             content_type="application/json-patch+json")
            ctx.log(f"re-bind   PersistentVolume {name}: cleared the old claim's uid, data untouched")
        await super().apply(ctx)

    async def describe(self, ctx: StepContext) -> list[Change]:
        released = set(await self._released(ctx))
        # A Released PV is one change (re-bind), not an "unchanged" row beside an "update" row for the same object.
        return [Change("update", "PersistentVolume", c.name, "Released by the last teardown → clear claimRef.uid to "
                       "re-bind it (its data is untouched)") if c.kind == "PersistentVolume" and c.name in released
                else c for c in await super().describe(ctx)]


class WoodpeckerNetworkPolicy(ManifestStep):
    id, title, needs = "woodpecker-network-policy", "NetworkPolicy: Traefik → Woodpecker", ("namespaces",)
    reads_secrets = False  # manifests without ${secret:…}: the plan asks it at once
    files = ("woodpecker/network-policy.yaml",)


class WoodpeckerAgentRbac(ManifestStep):
    """cluster-admin (the design) or namespaced (least privilege); switching modes removes the other's objects."""

    id, title, needs = "woodpecker-agent-rbac", "Woodpecker agent RBAC", ("namespaces",)
    reads_secrets = False  # manifests without ${secret:…}: the plan asks it at once

    @property
    def files(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("woodpecker/agent-rbac.yaml",) if self.settings.rbac_mode == "cluster-admin" else (
            "woodpecker/agent-rbac-namespaced.yaml",)

    async def _stale(self, ctx: StepContext) -> list[tuple[str, str]]:
        kube = runtime(ctx).kube()
        if self.settings.rbac_mode == "cluster-admin":
            role = await kube.get("rbac.authorization.k8s.io/v1", "ClusterRole", "woodpecker-agent-inttest")
            return [("ClusterRole", "woodpecker-agent-inttest")] if role else []
        binding = await kube.get("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "woodpecker-agent-inttest")
        if binding and binding["roleRef"]["name"] == "cluster-admin":
            return [("ClusterRoleBinding", "woodpecker-agent-inttest")]  # roleRef is immutable: recreate
        return []

    async def check(self, ctx: StepContext) -> CheckResult:
        stale = await self._stale(ctx)
        if stale:
            return NotDone(f"left from the other RBAC mode: {', '.join(k + ' ' + n for k, n in stale)}")
        return await super().check(ctx)

    async def apply(self, ctx: StepContext) -> None:
        kube = runtime(ctx).kube()
        for kind, name in await self._stale(ctx):
            await kube.delete("rbac.authorization.k8s.io/v1", kind, name)
            ctx.log(f"delete    {kind} {name} (other RBAC mode)")
        await super().apply(ctx)

    async def describe(self, ctx: StepContext) -> list[Change]:
        grants = rbac_grants(self.settings.rbac_mode)
        changes = [Change(c.action, c.kind, c.name, c.detail or grants) for c in await super().describe(ctx)]
        changes += [Change("delete", kind, name, "other RBAC mode") for kind, name in await self._stale(ctx)]
        return changes


def rbac_grants(mode: str) -> str:
    """What the Woodpecker agents' RBAC mode grants and who can use it, in one line (the plan shows it before
    anything is applied). Who: Woodpecker 3.16 lets any step of any activated repository name a ServiceAccount
    (WOODPECKER_BACKEND_K8S_SERVICE_ACCOUNT_NAME_ALLOW_FROM_STEP; repo trust settings do not gate it) — the
    install limits activation to the repository owner's repos (WOODPECKER_REPO_OWNERS)."""
    who = ("any pipeline step of the owner's repositories, not only integration-test, may run as it (whoever can "
           "push to them or open a pull request from their branches)")
    if mode == "cluster-admin":
        return f"binds woodpecker-agent to cluster-admin (anything in the cluster); {who} — namespaced limits it"
    return f"lets woodpecker-agent create/delete namespaces and manage workloads, nothing else; {who}"


class ArgoRepoSecret(ManifestStep):
    id, title, needs = "argocd-repo-secret", "Argo CD repository secret → Gitea", ("argocd", "gitea-token")
    files = ("argocd/repo-secret.yaml",)


class ArgoApps(ManifestStep):
    id, title = "argocd-apps", "Argo CD Applications → Gitea"
    reads_secrets = False  # manifests without ${secret:…}: the plan asks it at once
    needs = ("argocd-repo-secret", "repo-migrate")
    files = ("argocd/apps/stonks-beta.yaml", "argocd/apps/stonks-paper.yaml", "argocd/apps/stonks-live.yaml")


WEBHOOK_WAIT = 180.0  # seconds Kargo's webhooks get to answer after its chart (cert-manager's injection included)


class KargoResources(ManifestStep):
    id, title, needs = "kargo-resources", "Kargo project, warehouse and stages", ("kargo", "argocd-apps")
    reads_secrets = False  # manifests without ${secret:…}: the plan asks it at once
    files = ("kargo/project.yaml", "kargo/project-config.yaml", "kargo/warehouse.yaml",
             "kargo/stages/beta.yaml", "kargo/stages/paper.yaml", "kargo/stages/live.yaml")

    async def apply(self, ctx: StepContext) -> None:
        """Kargo's webhooks (failurePolicy Fail) answer only once kargo-webhooks-server serves — its Deployment has
        no readiness probe, so `helm --wait` ends before it does — and cert-manager has injected their CA: until
        then every Project or Stage write fails "failed calling webhook". Waited for, bounded; every apply here is
        a server-side apply, so trying again is safe."""
        import asyncio
        import time

        deadline, pause, said = time.monotonic() + WEBHOOK_WAIT, 1.0, False
        while True:
            try:
                await super().apply(ctx)
                return
            except StepFailed as exc:
                if "failed calling webhook" not in exc.message or time.monotonic() + pause > deadline:
                    raise
                if not said:
                    ctx.log("waiting   for Kargo's admission webhooks to answer (kargo-webhooks-server, its CA "
                            f"from cert-manager): {exc.message.split(': ', 1)[-1][:240]}")
                    said = True
                await asyncio.sleep(pause)
                pause = min(pause * 2, 8.0)

    async def objects(self, ctx: StepContext) -> list[dict]:
        # The design keeps Freight in the live namespace, which already exists: Kargo adopts an existing
        # namespace only when it carries the project label, so label it (nothing else about it changes).
        label = {"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": ctx.settings.kargo_project, "labels": {"kargo.akuity.io/project": "true"}}}
        return [label, *await super().objects(ctx)]

    async def describe(self, ctx: StepContext) -> list[Change]:
        # What each Stage does, said where it is created or changed (the plan is where an operator reads it).
        said = {"beta": "every new image, promoted by itself; sets the chart's image.tag from the Freight",
                "paper": "promoted only when asked; sets image.tag; refused 09:30-16:00 New York on weekdays (no "
                         "exchange holidays known) unless a break-glass is open",
                "live": "promoted only when asked, never by itself; sets image.tag; the same market-hours gate"}
        out = []
        for change in await super().describe(ctx):
            name = change.name.rsplit("/", 1)[-1]
            if change.kind == "Stage" and change.action in ("create", "update") and name in said:
                change = Change(change.action, change.kind, change.name,
                                "; ".join(x for x in (change.detail, said[name]) if x))
            out.append(change)
        return out


__all__ = ["ArgoApps", "ArgoRepoSecret", "KargoResources", "Namespaces", "PersistentVolumes",
           "WoodpeckerAgentRbac", "WoodpeckerNetworkPolicy", "object_change"]
