"""Teardown (runmelast.sh): Kargo → Argo CD → Woodpecker → its cluster RBAC → the namespaces the install made.

Never touched: PersistentVolumes (unless --delete-pvs with their names typed), NFS data (never, by this tool),
the Gitea namespace, the live namespace, and any namespace that existed before the install. Every volume bound
to a claim in a namespace that goes is made Retain first, so deleting the claim cannot delete data.
"""

from __future__ import annotations

from stonks_tui.clients.kube import FIELD_MANAGER
from stonks_tui.engine.step import Change, CheckResult, Done, NotDone, Step, StepContext
from stonks_tui.errors import StepFailed
from stonks_tui.inventory import describe_pv, existing_pvs, made_by_install, teardown_namespaces, volumes_of
from stonks_tui.market_hours import BREAK_GLASS_CONFIGMAP
from stonks_tui.settings import Settings
from stonks_tui.steps.common import rendered, runtime
from stonks_tui.words import count

KEEP_NAMESPACE = "kargo.akuity.io/keep-namespace"
KARGO_FINALIZER = "kargo.akuity.io/finalizer"
KARGO_CONTROLLER_SA = "kargo-controller"
KARGO_SA_WAIT = 60.0

WAIT = 300.0
DELETE_WAIT = 120.0
# Who removes a finalizer: named when a deletion waits on one, so the operator knows what to look at.
FINALIZER_OWNERS = {
    "kargo.akuity.io/finalizer": "Kargo's controller (kargo-controller), after it cleans up verifications",
    "resources-finalizer.argocd.argoproj.io": "Argo CD's application controller, after it prunes the app",
    "kubernetes.io/pv-protection": "Kubernetes, once no claim is bound to the volume",
    "kubernetes.io/pvc-protection": "Kubernetes, once no pod uses the claim",
}


def holders(finalizers: list[str]) -> str:
    return "held by " + "; ".join(f"{f} (removed by {FINALIZER_OWNERS[f]})" if f in FINALIZER_OWNERS else f
                                  for f in finalizers)


def ref_of(obj: dict) -> str:
    meta = obj["metadata"]
    return f"{obj['kind']} {meta.get('namespace', '')}/{meta['name']}".replace(" /", " ")


class TeardownStep(Step):
    """A step of the teardown plan (reverse of the install; keeps PVs and data)."""


class PvsRetain(TeardownStep):
    id, title, needs = "pvs-retain", "Make every kept PV Retain", ()

    async def _pvs(self, ctx: StepContext) -> list[dict]:
        return await existing_pvs(runtime(ctx).kube())

    async def check(self, ctx: StepContext) -> CheckResult:
        pvs = await self._pvs(ctx)
        for pv in pvs:
            ctx.log("kept: " + describe_pv(pv))
        loose = [pv["metadata"]["name"] for pv in pvs if pv["spec"].get("persistentVolumeReclaimPolicy") != "Retain"]
        return Done() if not loose else NotDone(f"not Retain: {', '.join(loose)}")

    async def apply(self, ctx: StepContext) -> None:
        kube = runtime(ctx).kube()
        for pv in await self._pvs(ctx):
            if pv["spec"].get("persistentVolumeReclaimPolicy") != "Retain":
                await kube.patch("v1", "PersistentVolume", pv["metadata"]["name"], None,
                                 {"spec": {"persistentVolumeReclaimPolicy": "Retain"}})
                ctx.log(f"set Retain on {pv['metadata']['name']}: deleting its claim will not delete data")

    async def describe(self, ctx: StepContext) -> list[Change]:
        return [Change("unchanged" if pv["spec"].get("persistentVolumeReclaimPolicy") == "Retain" else "update",
                       "PersistentVolume", pv["metadata"]["name"], "kept — " + describe_pv(pv))
                for pv in await self._pvs(ctx)]


class DeleteObjects(TeardownStep):
    """Delete the rendered objects of some manifest files (those that exist)."""

    files: tuple[str, ...] = ()

    async def targets(self, ctx: StepContext) -> list[dict]:
        r = await rendered(ctx)
        kube = runtime(ctx).kube()
        out = []
        for f in self.files:
            for obj in r.objects[f]:
                if obj["kind"] == "Namespace" or not self.deletable(ctx, obj):
                    continue
                meta = obj["metadata"]
                if await kube.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace")):
                    out.append(obj)
        return out

    def deletable(self, ctx: StepContext, obj: dict) -> bool:
        return True

    async def check(self, ctx: StepContext) -> CheckResult:
        left = await self.targets(ctx)
        return Done() if not left else NotDone(f"{count(len(left), 'object')} to delete")

    async def apply(self, ctx: StepContext) -> None:
        kube = runtime(ctx).kube()
        targets = await self.targets(ctx)
        for obj in targets:
            meta = obj["metadata"]
            await kube.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
            ctx.log(f"deleting  {ref_of(obj)}")
        # A delete is a request: objects behind finalizers (Kargo's Stages) go only when their controller lets
        # them. Wait for each by watch, saying what holds it if it does not go.
        for obj in targets:
            meta = obj["metadata"]

            async def held(live: dict | None, obj: dict = obj) -> str:
                fins = ((live or {}).get("metadata") or {}).get("finalizers") or []
                return holders(fins) if fins else "still present"

            await kube.wait_gone(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"), DELETE_WAIT,
                                 explain=held)
            ctx.log(f"gone      {ref_of(obj)}")

    async def describe(self, ctx: StepContext) -> list[Change]:
        return [Change("delete", o["kind"], f"{o['metadata'].get('namespace', '')}/{o['metadata']['name']}")
                for o in await self.targets(ctx)] or [Change("unchanged", "Objects", "(already gone)")]


async def kargo_manager_running(ctx: StepContext) -> bool:
    """Is Kargo's management controller up? Only it takes kargo.akuity.io/finalizer off Projects, their
    namespaces and its controller's ServiceAccount."""
    manager = await runtime(ctx).kube().get("apps/v1", "Deployment", "kargo-management-controller",
                                            ctx.settings.kargo_namespace)
    return int(((manager or {}).get("status") or {}).get("readyReplicas") or 0) > 0


async def clear_kargo_finalizer(ctx: StepContext, api_version: str, kind: str, name: str, ns: str | None) -> None:
    """Take exactly Kargo's finalizer off one object, with consent (teardown --yes, or yes when asked), naming it."""
    kube = runtime(ctx).kube()
    obj = await kube.get(api_version, kind, name, ns)
    if obj is None or KARGO_FINALIZER not in (obj["metadata"].get("finalizers") or []):
        return
    what = f"{KARGO_FINALIZER} on {kind} {ns + '/' if ns else ''}{name}"
    ctx.log(f"{what} stays: Kargo's management controller, which takes it off, is not running")
    rt = runtime(ctx)
    if not (rt.assume_yes or await rt.ask(f"Clear exactly Kargo's finalizer {what}, so the teardown can finish? "
                                          "(nothing else is touched)")):
        raise StepFailed(f"{kind} {name} is held by {KARGO_FINALIZER} and Kargo's management controller is not "
                         "running to take it off",
                         hint=f"answer yes when asked, or {rt.cmd('teardown --yes')} (it clears exactly that "
                              "finalizer); or start kargo-management-controller again")
    keep = [f for f in obj["metadata"].get("finalizers") or [] if f != KARGO_FINALIZER]
    await kube.patch(api_version, kind, name, ns, {"metadata": {"finalizers": keep or None}})
    ctx.log(f"cleared   {what}")


class KargoResourcesRemove(DeleteObjects):
    id, title, needs = "kargo-resources-remove", "Remove Kargo resources", ("pvs-retain",)
    files = ("kargo/stages/live.yaml", "kargo/stages/paper.yaml", "kargo/stages/beta.yaml", "kargo/warehouse.yaml",
             "kargo/project-config.yaml", "kargo/project.yaml")

    async def targets(self, ctx: StepContext) -> list[dict]:
        # Beside the rendered objects: the break-glass ConfigMap (made by `break-glass`, marked as ours) and the
        # market-hours AnalysisTemplate installs before the gate became a promotion step left in the project.
        out = await super().targets(ctx)
        kube = runtime(ctx).kube()
        project = ctx.settings.kargo_project
        glass = await kube.get("v1", "ConfigMap", BREAK_GLASS_CONFIGMAP, project)
        if glass is not None and made_by_install(glass):
            out.insert(0, {"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": BREAK_GLASS_CONFIGMAP, "namespace": project}})
        try:
            legacy = await kube.get("argoproj.io/v1alpha1", "AnalysisTemplate", "market-hours-check", project)
        except Exception:  # the kind is not served (no Argo Rollouts): nothing of that kind can be left
            legacy = None
        managers = {m.get("manager") for m in ((legacy or {}).get("metadata") or {}).get("managedFields") or []}
        if legacy is not None and FIELD_MANAGER in managers:  # applied by stonks-tui, not the operator's own
            out.insert(0, {"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
                           "metadata": {"name": "market-hours-check", "namespace": project}})
        return out

    async def apply(self, ctx: StepContext) -> None:
        # The Project's namespace is the live one (the design keeps Freight there): deleting the Project without
        # Kargo's keep-namespace annotation would have Kargo delete that namespace. The install's Project carries
        # it; one made by an older install gets it first. Deleted while Kargo runs, the Project takes Kargo's
        # finalizers off itself and the namespace, which stays, clean.
        kube = runtime(ctx).kube()
        project = ctx.settings.kargo_project
        live = await kube.get("kargo.akuity.io/v1alpha1", "Project", project)
        if live is not None and ((live["metadata"].get("annotations") or {}).get(KEEP_NAMESPACE) != "true"):
            await kube.patch("kargo.akuity.io/v1alpha1", "Project", project, None,
                             {"metadata": {"annotations": {KEEP_NAMESPACE: "true"}}})
            ctx.log(f"annotated Project {project} {KEEP_NAMESPACE}=true: its namespace stays when it goes")
        if live is not None and not await kargo_manager_running(ctx):
            # Nothing will take Kargo's finalizers off the Project and its namespace: only with consent.
            await clear_kargo_finalizer(ctx, "kargo.akuity.io/v1alpha1", "Project", project, None)
            await clear_kargo_finalizer(ctx, "v1", "Namespace", project, None)
        await super().apply(ctx)


class ArgoAppsRemove(DeleteObjects):
    """Applications carry no resources-finalizer here, so deleting them leaves the deployed app running."""

    id, title, needs = "argocd-apps-remove", "Remove Argo CD Applications and repo secret", ("kargo-uninstall",)
    files = ("argocd/apps/stonks-beta.yaml", "argocd/apps/stonks-paper.yaml", "argocd/apps/stonks-live.yaml",
             "argocd/repo-secret.yaml")


class HelmUninstall(TeardownStep):
    release_attr = ""
    namespace_attr = ""

    async def _present(self, ctx: StepContext) -> bool:
        return await runtime(ctx).helm().find(getattr(self.settings, self.release_attr),
                                              getattr(self.settings, self.namespace_attr)) is not None

    async def check(self, ctx: StepContext) -> CheckResult:
        return NotDone("release installed") if await self._present(ctx) else Done("release not installed")

    async def apply(self, ctx: StepContext) -> None:
        await runtime(ctx).helm().uninstall(getattr(self.settings, self.release_attr),
                                            getattr(self.settings, self.namespace_attr), log=ctx.log)

    async def describe(self, ctx: StepContext) -> list[Change]:
        name = f"{getattr(self.settings, self.namespace_attr)}/{getattr(self.settings, self.release_attr)}"
        return [Change("delete" if await self._present(ctx) else "unchanged", "HelmRelease", name)]


class KargoUninstall(HelmUninstall):
    """Kargo's management controller puts its finalizer on the kargo-controller ServiceAccount and takes it off
    only while it runs; helm deletes the Deployments first, so `helm uninstall --wait` would wait out its timeout
    and leave the kargo namespace Terminating. The ServiceAccount goes first, while the controller runs; if
    nothing takes the finalizer off (the controller is gone), exactly that finalizer is cleared, with consent."""

    id, title, needs = "kargo-uninstall", "Uninstall Kargo", ("kargo-resources-remove",)
    release_attr, namespace_attr = "kargo_release", "kargo_namespace"

    async def apply(self, ctx: StepContext) -> None:
        await remove_kargo_controller_account(ctx, self.settings.kargo_namespace)
        await super().apply(ctx)


async def remove_kargo_controller_account(ctx: StepContext, ns: str) -> None:
    """Before Kargo's release goes (teardown, or the recovery of a release a kill left never deployed): the
    kargo-controller ServiceAccount first, gone for good. Left Terminating behind Kargo's finalizer, an install
    right after would adopt it and lose it a moment later — Kargo's controller without its account."""
    kube = runtime(ctx).kube()
    sa = await kube.get("v1", "ServiceAccount", KARGO_CONTROLLER_SA, ns)
    if sa is None or KARGO_FINALIZER not in (sa["metadata"].get("finalizers") or []):
        return
    running = await kargo_manager_running(ctx)
    await kube.delete("v1", "ServiceAccount", KARGO_CONTROLLER_SA, ns)
    ctx.log(f"deleting  ServiceAccount {ns}/{KARGO_CONTROLLER_SA} first, while Kargo's management "
            "controller runs to take its finalizer off")
    try:
        if not running:
            raise StepFailed("kargo-management-controller is not running")
        await kube.wait_gone("v1", "ServiceAccount", KARGO_CONTROLLER_SA, ns, KARGO_SA_WAIT)
        ctx.log(f"gone      ServiceAccount {ns}/{KARGO_CONTROLLER_SA}")
    except StepFailed:
        await clear_kargo_finalizer(ctx, "v1", "ServiceAccount", KARGO_CONTROLLER_SA, ns)
        await kube.wait_gone("v1", "ServiceAccount", KARGO_CONTROLLER_SA, ns, KARGO_SA_WAIT)


class ArgoUninstall(HelmUninstall):
    id, title, needs = "argocd-uninstall", "Uninstall Argo CD", ("argocd-apps-remove",)
    release_attr, namespace_attr = "argocd_release", "argocd_namespace"


class WoodpeckerUninstall(HelmUninstall):
    id, title, needs = "woodpecker-uninstall", "Uninstall Woodpecker", ("argocd-uninstall",)
    release_attr, namespace_attr = "woodpecker_release", "woodpecker_namespace"


class WoodpeckerRbacRemove(DeleteObjects):
    """The agents' cluster-wide RBAC (either mode's): a binding to cluster-admin must not outlive the install."""

    id, title, needs = "woodpecker-rbac-remove", "Remove the Woodpecker agents' cluster RBAC", ("woodpecker-uninstall",)
    files = ("woodpecker/agent-rbac.yaml", "woodpecker/agent-rbac-namespaced.yaml")

    async def targets(self, ctx: StepContext) -> list[dict]:
        seen, out = set(), []
        for obj in await super().targets(ctx):  # both modes name their binding alike: delete it once
            key = (obj["kind"], obj["metadata"]["name"])
            if key not in seen:
                seen.add(key)
                out.append(obj)
        return out


class NamespacesRemove(TeardownStep):
    """Deletes the namespaces the install made (ownership.MANAGED_BY); keeps, and says why, every other one."""

    id, title, needs = "namespaces-remove", "Delete the namespaces the install made", ("woodpecker-rbac-remove",)

    async def sorted_out(self, ctx: StepContext) -> tuple[list[str], list[tuple[str, str]]]:
        return await teardown_namespaces(ctx)

    async def check(self, ctx: StepContext) -> CheckResult:
        delete, _ = await self.sorted_out(ctx)
        return Done() if not delete else NotDone(f"to delete: {', '.join(delete)}")

    async def apply(self, ctx: StepContext) -> None:
        kube = runtime(ctx).kube()
        delete, kept = await self.sorted_out(ctx)
        for ns in delete:
            # Claims go with their namespace; a volume with reclaim Delete would take its data along (a
            # local-path directory, a dynamically provisioned disk). Whoever made it, it is kept — except the
            # Woodpecker agents' per-replica claims, which the install's release made and which hold only an
            # agent's registration (a new agent registers again): kept, each cycle left two Released volumes.
            for pv in await volumes_of(kube, ns):
                if agent_claim(ctx.settings, pv):
                    ctx.log(f"not kept: PersistentVolume {pv['metadata']['name']} (claim {ns}/"
                            f"{pv['spec']['claimRef'].get('name')}, a Woodpecker agent's registration, no data): "
                            "it goes with its claim")
                    continue
                if (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy") != "Retain":
                    await kube.patch("v1", "PersistentVolume", pv["metadata"]["name"], None,
                                     {"spec": {"persistentVolumeReclaimPolicy": "Retain"}})
                    ctx.log(f"set Retain on PersistentVolume {pv['metadata']['name']} (claim {ns}/"
                            f"{pv['spec']['claimRef'].get('name')}): its data stays when {ns} goes")
            await kube.delete("v1", "Namespace", ns)
            ctx.log(f"deleting  Namespace {ns}")
        for ns in delete:
            await kube.wait_gone("v1", "Namespace", ns, None, WAIT)
            ctx.log(f"gone      Namespace {ns}")
        for ns, why in kept:
            ctx.log(f"kept      Namespace {ns}: {why}")
        for pv in await kube.list("v1", "PersistentVolume"):
            policy = (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy")
            if agent_claim(ctx.settings, pv) and policy == "Retain":
                # Left Released by an earlier teardown (it made them Retain): named, not deleted — after its claim
                # is gone nothing here can prove this install made it.
                ctx.log(f"left by an earlier teardown: PersistentVolume {pv['metadata']['name']} (Released, was "
                        f"{pv['spec']['claimRef'].get('namespace')}/{pv['spec']['claimRef'].get('name')}, an agent's "
                        f"registration, no data): `kubectl delete pv {pv['metadata']['name']}` removes it")
        ctx.log("kept: every other PersistentVolume (each was Retain before its claim went) and all NFS data")

    async def describe(self, ctx: StepContext) -> list[Change]:
        delete, kept = await self.sorted_out(ctx)
        kube = runtime(ctx).kube()
        claims = [pv for ns in delete for pv in await volumes_of(kube, ns) if agent_claim(ctx.settings, pv)]
        return ([Change("delete", "Namespace", n, "made by the install") for n in delete]
                + [Change("delete", "PersistentVolumeClaim", f"{pv['spec']['claimRef'].get('namespace')}/"
                          f"{pv['spec']['claimRef'].get('name')}", f"a Woodpecker agent's registration (no data); "
                          f"its volume {pv['metadata']['name']} goes with it") for pv in claims]
                + [Change("unchanged", "Namespace", n, "kept: " + why) for n, why in kept])


def agent_claim(settings: Settings, pv: dict) -> bool:
    """Is `pv` bound to a Woodpecker agent's per-replica claim (`agent-config-<release>-agent-N` in the Woodpecker
    namespace), which the install's release made?"""
    ref = (pv.get("spec") or {}).get("claimRef") or {}
    prefix = f"agent-config-{settings.woodpecker_release}-agent-"
    name = str(ref.get("name") or "")
    return ref.get("namespace") == settings.woodpecker_namespace and name.startswith(prefix) and \
        name[len(prefix):].isdigit()


class PvsDelete(TeardownStep):
    """Only with --delete-pvs and the PV names typed by the operator. NFS data is never deleted by this tool."""

    id, title, needs = "pvs-delete", "Delete the pipeline PVs (NFS data kept)", ("namespaces-remove",)

    async def check(self, ctx: StepContext) -> CheckResult:
        left = [pv["metadata"]["name"] for pv in await existing_pvs(runtime(ctx).kube())]
        return Done() if not left else NotDone(f"present: {', '.join(left)}")

    async def apply(self, ctx: StepContext) -> None:
        typed = set(ctx.clients.get("confirmed_pv_names") or ())
        kube = runtime(ctx).kube()
        pvs = await existing_pvs(kube)
        present = [pv["metadata"]["name"] for pv in pvs]
        if not set(present) <= typed:
            raise StepFailed("deleting PVs needs their names typed to confirm: " + ", ".join(present),
                             hint="run teardown --delete-pvs on a terminal and type them, or pass "
                                  "--confirm-pv-names " + ",".join(present))
        for pv in pvs:
            name = pv["metadata"]["name"]
            await kube.delete("v1", "PersistentVolume", name)
            ctx.log(f"deleted   PersistentVolume {describe_pv(pv)} — the NFS directory and its data remain")

    async def describe(self, ctx: StepContext) -> list[Change]:
        return [Change("delete", "PersistentVolume", pv["metadata"]["name"], "NFS data kept")
                for pv in await existing_pvs(runtime(ctx).kube())]
