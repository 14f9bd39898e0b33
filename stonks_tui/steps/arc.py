"""ARC removal, in the order that lets ARC's controller clean up after itself (FACTS):

every runner scale set → wait for its resources to go → the controller → ARC RBAC → pipeline-arc-pv → the
namespaces. Reversed, ARC's finalizers never clear and a namespace hangs in Terminating; that is detected and,
only with the operator's consent, exactly those finalizers are cleared. Releases are discovered (`helm list`),
never assumed (the design says arc-system; ARC's docs say arc-systems / arc-runners).
"""

from __future__ import annotations

from typing import Any

from stonks_tui.clients.helm import chart_name
from stonks_tui.engine.step import Change, CheckResult, Done, NotDone, Step, StepContext
from stonks_tui.errors import StepFailed
from stonks_tui.inventory import DESIGN_NAMESPACES
from stonks_tui.steps.common import runtime

ARC_GROUP = "actions.github.com/v1alpha1"
ARC_KINDS = ("AutoscalingRunnerSet", "EphemeralRunnerSet", "EphemeralRunner", "AutoscalingListener")
# Legacy ARC (the actions-runner-controller chart, actions.summerwind.dev; v0.27.6's source): Runners carry
# runner.actions.summerwind.dev and their pods actions.summerwind.dev/runner-pod, which only its controller removes,
# once the RunnerDeployment (RunnerSet, Runner) that made them is deleted — before the controller goes.
LEGACY_GROUP = "actions.summerwind.dev/v1alpha1"
LEGACY_TOP = ("RunnerDeployment", "RunnerSet", "HorizontalRunnerAutoscaler")
LEGACY_KINDS = (*LEGACY_TOP, "RunnerReplicaSet", "Runner")
ARC_FINALIZER_MARKS = ("actions.github.com", "actions.summerwind.dev")
CONTROLLER_CHARTS = ("gha-runner-scale-set-controller", "actions-runner-controller")
SCALESET_CHARTS = ("gha-runner-scale-set",)
ARC_PV = "pipeline-arc-pv"
# Kinds ARC puts its cleanup finalizers on, besides its own.
FINALIZED_KINDS = (("v1", "ServiceAccount"), ("v1", "Secret"), ("rbac.authorization.k8s.io/v1", "Role"),
                   ("rbac.authorization.k8s.io/v1", "RoleBinding"), ("v1", "ConfigMap"), ("v1", "Pod"))
WAIT = 180.0


def _arc_finalizers(obj: dict) -> list[str]:
    return [f for f in obj["metadata"].get("finalizers") or [] if any(m in f for m in ARC_FINALIZER_MARKS)]


class ArcRemoval(Step):
    id, title, needs = "arc-removal", "Remove ARC runners and controller", ()
    reads_secrets = False


    async def inventory(self, ctx: StepContext) -> dict[str, Any]:
        import asyncio

        rt = runtime(ctx)
        kube, helm = rt.kube(), rt.helm()

        async def kinds(group: str, names: tuple[str, ...]) -> list[tuple[str, dict[str, Any]]]:
            found = await asyncio.gather(*(kube.list(group, kind) for kind in names))
            return [(kind, obj) for kind, objs in zip(names, found, strict=True) for obj in objs]

        # Every read at once: one after another they were the longest part of a no-op plan (0.75 s on the tier).
        rows, present, crbs, pv, arc_objs, legacy_objs = await asyncio.gather(
            helm.releases(), asyncio.gather(*(kube.get("v1", "Namespace", ns) for ns in DESIGN_NAMESPACES)),
            kube.list("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
            kube.get("v1", "PersistentVolume", ARC_PV), kinds(ARC_GROUP, ARC_KINDS), kinds(LEGACY_GROUP, LEGACY_KINDS))
        scalesets = [r for r in rows if chart_name(r) in SCALESET_CHARTS]
        controllers = [r for r in rows if chart_name(r) in CONTROLLER_CHARTS]
        namespaces = {r["namespace"] for r in scalesets + controllers}
        namespaces |= {ns for ns, obj in zip(DESIGN_NAMESPACES, present, strict=True) if obj}
        bindings = sorted(crb["metadata"]["name"] for crb in crbs
                          if any(s.get("namespace") in namespaces for s in crb.get("subjects") or []))
        leftovers = [f"{kind} {obj['metadata'].get('namespace')}/{obj['metadata']['name']}" for kind, obj in arc_objs]
        legacy = [(kind, obj["metadata"].get("namespace"), obj["metadata"]["name"]) for kind, obj in legacy_objs]
        namespaces |= {ns for _kind, ns, _name in legacy}
        return {"scalesets": scalesets, "controllers": controllers, "namespaces": sorted(n for n in namespaces if n),
                "bindings": bindings, "pv": pv, "leftovers": leftovers, "legacy": legacy}

    @staticmethod
    def _summary(inv: dict[str, Any]) -> list[str]:
        out = [f"helm release {r['namespace']}/{r['name']} ({r['chart']})" for r in inv["scalesets"]]
        out += [f"helm release {r['namespace']}/{r['name']} ({r['chart']})" for r in inv["controllers"]]
        out += [f"ClusterRoleBinding {b}" for b in inv["bindings"]]
        out += [f"PersistentVolume {ARC_PV}"] if inv["pv"] else []
        out += [f"legacy ARC (actions.summerwind.dev) {kind} {ns}/{name}" for kind, ns, name in inv["legacy"]]
        out += [f"Namespace {n}" for n in inv["namespaces"]]
        return out

    async def check(self, ctx: StepContext) -> CheckResult:
        inv = await self.inventory(ctx)
        left = self._summary(inv) + inv["leftovers"]
        return Done("no ARC left") if not left else NotDone("ARC present: " + ", ".join(left[:6]))

    async def controller_running(self, ctx: StepContext, *, legacy: bool = False) -> bool:
        """Is ARC's controller (or legacy ARC's) up? Only it clears its finalizers."""
        names = ("actions-runner-controller",) if legacy else ("gha-rs-controller", "gha-runner-scale-set-controller")
        for dep in await runtime(ctx).kube().list("apps/v1", "Deployment"):
            labels = dep["metadata"].get("labels") or {}
            if (not legacy and "gha-rs-controller" in dep["metadata"]["name"]) or \
                    labels.get("app.kubernetes.io/name") in names:
                want = int((dep.get("spec") or {}).get("replicas", 1))
                if int((dep.get("status") or {}).get("readyReplicas") or 0) >= want > 0:
                    return True
        return False

    async def apply(self, ctx: StepContext) -> None:
        rt = runtime(ctx)
        kube, helm = rt.kube(), rt.helm()
        inv = await self.inventory(ctx)
        # 1. Scale sets first, while the controller still runs to clear their finalizers.
        for rel in inv["scalesets"]:
            ctx.log(f"uninstall runner scale set {rel['namespace']}/{rel['name']}")
            running = await self.controller_running(ctx)
            # Without ARC's controller nothing clears the scale set's finalizers, and `helm uninstall --wait`
            # would sit out its whole timeout and fail: then don't wait (the namespace step handles them).
            await helm.uninstall(rel["name"], rel["namespace"], log=ctx.log, wait=running, timeout="3m")
            if not running:
                ctx.log("ARC's controller is not running, so nothing will clear the scale set's finalizers: "
                        "not waiting for them (handled with the namespace below)")
                continue
            for kind in ARC_KINDS:
                for obj in await kube.list(ARC_GROUP, kind, rel["namespace"]):
                    await kube.wait_gone(ARC_GROUP, kind, obj["metadata"]["name"], rel["namespace"], WAIT)
            ctx.log(f"runner scale set {rel['name']} and its runners are gone")
        # 2. Then the controller — but only once no runner object is left (a run interrupted after the scale set's
        # helm uninstall leaves them for the controller to clean up: removing it now would strand them on its
        # finalizers and hang the namespace).
        if inv["controllers"] and await self.controller_running(ctx):
            for kind in ARC_KINDS:
                for obj in await kube.list(ARC_GROUP, kind):
                    meta = obj["metadata"]
                    ctx.log(f"waiting   for {kind} {meta.get('namespace')}/{meta['name']} to go (ARC's controller "
                            "is cleaning it up)")
                    await kube.wait_gone(ARC_GROUP, kind, meta["name"], meta.get("namespace"), WAIT)
        # Legacy ARC's runners, while its controller still runs to take them and their pods' finalizers away.
        top = [(k, ns, n) for k, ns, n in inv["legacy"] if k in LEGACY_TOP]
        if inv["legacy"] and await self.controller_running(ctx, legacy=True):
            for kind, ns, name in top:
                await kube.delete(LEGACY_GROUP, kind, name, ns)
                ctx.log(f"deleted   legacy ARC {kind} {ns}/{name} (its controller removes its runners)")
            for kind, ns, name in inv["legacy"]:
                await kube.wait_gone(LEGACY_GROUP, kind, name, ns, WAIT)
            ctx.log("legacy ARC's runners are gone")
        elif inv["legacy"]:
            ctx.log("legacy ARC's controller is not running: nothing will remove its runners' finalizers (handled "
                    "with the namespace below, with your consent)")
        for rel in inv["controllers"]:
            ctx.log(f"uninstall ARC controller {rel['namespace']}/{rel['name']}")
            await helm.uninstall(rel["name"], rel["namespace"], log=ctx.log)
        # 3. RBAC the runners used, and the runners' PV (Retain: its NFS data is not touched).
        for name in inv["bindings"]:
            await kube.delete("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", name)
            ctx.log(f"deleted   ClusterRoleBinding {name}")
        if inv["pv"]:
            nfs = (inv["pv"].get("spec") or {}).get("nfs") or {}
            await kube.delete("v1", "PersistentVolume", ARC_PV)
            ctx.log(f"deleted   PersistentVolume {ARC_PV} (NFS data at {nfs.get('server')}:{nfs.get('path')} is kept)")
        # 4. The namespaces, watching for the Terminating hang.
        for ns in inv["namespaces"]:
            await kube.delete("v1", "Namespace", ns)
            ctx.log(f"deleting  Namespace {ns}")
        for ns in inv["namespaces"]:
            await self._wait_namespace(ctx, ns)

    async def _stuck_objects(self, ctx: StepContext, ns: str) -> list[tuple[str, str, str, list[str]]]:
        kube = runtime(ctx).kube()
        stuck = []
        for api_version, kind in [(ARC_GROUP, k) for k in ARC_KINDS] + [(LEGACY_GROUP, k) for k in LEGACY_KINDS] \
                + list(FINALIZED_KINDS):
            for obj in await kube.list(api_version, kind, ns):
                fins = _arc_finalizers(obj)
                if fins:
                    stuck.append((api_version, kind, obj["metadata"]["name"], fins))
        return stuck

    async def _wait_namespace(self, ctx: StepContext, ns: str) -> None:
        kube = runtime(ctx).kube()
        first: StepFailed | None = None
        stuck = await self._stuck_objects(ctx, ns)
        # With ARC's controller gone its finalizers can never clear: no point waiting to find that out.
        if not stuck or await self.controller_running(ctx) or await self.controller_running(ctx, legacy=True):
            try:
                await kube.wait_gone("v1", "Namespace", ns, None, WAIT / 3)
                ctx.log(f"gone      Namespace {ns}")
                return
            except StepFailed as exc:
                first = exc
                stuck = await self._stuck_objects(ctx, ns)
                if not stuck:
                    raise
        listing = ", ".join(f"{kind} {name} ({', '.join(fins)})" for _, kind, name, fins in stuck)
        ctx.log(f"Namespace {ns} is stuck Terminating on ARC finalizers: {listing}")
        ctx.log("ARC's controller, which would clear them, is gone (it was removed before its scale sets)")
        if not await runtime(ctx).ask(f"Clear exactly these ARC finalizers so {ns} can finish terminating? "
                                      f"{listing}"):
            raise StepFailed(f"Namespace {ns} is stuck Terminating on ARC finalizers: {listing}",
                             hint="re-run with --clear-arc-finalizers (or answer yes when the wizard or the "
                                  "terminal asks) to remove "
                                  "exactly those finalizers; nothing else is touched") from first
        for api_version, kind, name, fins in stuck:
            obj = await kube.get(api_version, kind, name, ns)
            if obj is None:
                continue
            keep = [f for f in obj["metadata"].get("finalizers") or [] if f not in fins]
            await kube.patch(api_version, kind, name, ns, {"metadata": {"finalizers": keep or None}})
            ctx.log(f"cleared   {', '.join(fins)} on {kind} {ns}/{name}")
        await kube.wait_gone("v1", "Namespace", ns, None, WAIT)
        ctx.log(f"gone      Namespace {ns}")

    async def describe(self, ctx: StepContext) -> list[Change]:
        inv = await self.inventory(ctx)
        changes = [Change("delete", "HelmRelease", f"{r['namespace']}/{r['name']}", r["chart"])
                   for r in inv["scalesets"] + inv["controllers"]]
        changes += [Change("delete", "ClusterRoleBinding", b) for b in inv["bindings"]]
        changes += [Change("delete", kind, f"{ns}/{name}", "legacy ARC (actions.summerwind.dev): removed through its "
                                                            "controller before it goes")
                    for kind, ns, name in inv["legacy"] if kind in LEGACY_TOP]
        if inv["pv"]:
            nfs = (inv["pv"].get("spec") or {}).get("nfs") or {}
            changes.append(Change("delete", "PersistentVolume", ARC_PV,
                                  f"ARC's own PV, as the design removes it: only the object goes, its NFS data at "
                                  f"{nfs.get('server')}:{nfs.get('path')} stays (the pipeline PVs are never "
                                  "deleted unless you ask)"))
        changes += [Change("delete", "Namespace", n) for n in inv["namespaces"]]
        return changes or [Change("unchanged", "ARC", "(none found)")]
