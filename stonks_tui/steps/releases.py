"""Helm release steps: Woodpecker (with its OAuth Secret), Argo CD and Kargo (with its admin Secret).

A release counts as done when helm lists it `deployed` at the wanted chart version, with the values we would
send, and its workloads are ready. An existing release of the same chart is adopted (upgraded in place).
"""

from __future__ import annotations

import asyncio
import json
import secrets as pysecrets
from typing import Any

from stonks_tui.clients.helm import PENDING, chart_name, chart_version, duration_seconds
from stonks_tui.engine.step import Change, CheckResult, Done, NotDone, Step, StepContext
from stonks_tui.errors import StepFailed
from stonks_tui.quantity import quantity
from stonks_tui.steps.common import apply_objects, describe_objects, pending_objects, rendered, runtime

SERVER_STS, SERVER_CLAIM = "woodpecker-server", "data"  # the chart's server StatefulSet and its claim template
SERVER_UID = 1000  # woodpecker-ci/helm 3.6.5's server securityContext (runAsUser, ../shared/upstream/renders)


def _same_quantity(a: str, b: str) -> bool:
    """The same size however written (the API server gives back its canonical form); one that is not a quantity
    is never the same."""
    try:
        return quantity(a) == quantity(b)
    except ValueError:
        return False


class HelmReleaseStep(Step):
    release_attr = ""
    chart_attr = ""
    version_attr = ""
    namespace_attr = ""
    values_file = ""
    chart_label = ""  # chart name as helm lists it
    repo: tuple[str, str] | None = None  # (name, url attr) when the chart comes from a classic repo
    pre_files: tuple[str, ...] = ()  # manifests applied before the release (Secrets it reads)
    workloads: tuple[tuple[str, str], ...] = ()  # (kind, name) that must be ready
    claim_statefulset = ""  # the StatefulSet whose claim templates the values set (claim_template_change)


    @property
    def release(self) -> str:
        return getattr(self.settings, self.release_attr)

    @property
    def namespace(self) -> str:
        return getattr(self.settings, self.namespace_attr)

    async def values(self, ctx: StepContext) -> dict[str, Any]:
        return (await rendered(ctx)).values[self.values_file]

    async def pre_objects(self, ctx: StepContext) -> list[dict]:
        r = await rendered(ctx)
        return [obj for f in self.pre_files for obj in r.objects[f]]

    async def prepare_secrets(self, ctx: StepContext) -> None:
        """Generate what the pre-objects need (Kargo's admin secret); others already exist."""

    async def _state(self, ctx: StepContext) -> tuple[str, str]:
        """(action, reason): install / upgrade / adopt / unchanged."""
        helm = runtime(ctx).helm()
        row = await helm.find(self.release, self.namespace)
        want_version = getattr(self.settings, self.version_attr)
        if row is None:
            return "install", f"release {self.release} is not installed"
        if chart_name(row) != self.chart_label:
            raise StepFailed(f"release {self.namespace}/{self.release} exists but is chart {chart_name(row)}, "
                             f"not {self.chart_label}",
                             hint=f"uninstall it or choose another release name ({self.release_attr})")
        status = row.get("status")
        if status in PENDING or status == "uninstalling":
            return "recover", (f"release {self.release} is {status}: a helm run was interrupted mid-operation "
                               "(helm never finishes it, and refuses to upgrade it: another operation is in "
                               "progress)")
        if change := await self.claim_template_change(ctx):
            return "recreate", change
        if status != "deployed":
            return "upgrade", f"release {self.release} is {status}"
        if chart_version(row) != want_version:
            return "upgrade", f"chart {chart_version(row)} → {want_version}"
        if ctx.outputs.get(self.id, {}).get("values_digest") != self._digest(await self.values(ctx)):
            return "adopt", "values differ from what this tool last applied (or release not ours yet)"
        for kind, name in self.workloads:
            obj = await runtime(ctx).kube().get("apps/v1", kind, name, self.namespace)
            want = int(((obj or {}).get("spec") or {}).get("replicas", 1))
            if not obj or int((obj.get("status") or {}).get("readyReplicas") or 0) < want:
                return "upgrade", f"{kind} {name} is not ready"
        return "unchanged", ""

    @staticmethod
    def _digest(values: dict) -> str:
        import hashlib

        return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]

    async def check(self, ctx: StepContext) -> CheckResult:
        pending = await pending_objects(ctx, await self.pre_objects(ctx))
        if pending:
            return NotDone("to apply: " + ", ".join(pending))
        action, reason = await self._state(ctx)
        return Done() if action == "unchanged" else NotDone(reason)

    async def recover(self, ctx: StepContext) -> None:
        """A release an interrupted helm left pending (or half uninstalled): put it back where helm can go on —
        with the operator's consent (--yes, or a yes at the prompt)."""
        rt = runtime(ctx)
        helm = rt.helm()
        row = await helm.find(self.release, self.namespace)
        if row is None:
            return
        status, revision = row.get("status"), int(row.get("revision") or 0)
        never_deployed = status == "pending-install" or (status == "pending-upgrade" and revision <= 1)
        how = (f"uninstall it (it was never deployed: helm uninstall {self.release} -n {self.namespace}) and "
               "install it again" if never_deployed or status == "uninstalling" else
               f"roll it back to its last deployed revision (helm rollback {self.release} -n {self.namespace}) "
               "and upgrade it again")
        ctx.log(f"release {self.namespace}/{self.release} is {status} (revision {revision}): an earlier helm run "
                f"was interrupted; to go on: {how}")
        question = f"Release {self.namespace}/{self.release} is {status}. {how[0].upper() + how[1:]}?"
        if not (rt.assume_yes or await rt.ask(question)):
            raise StepFailed(f"release {self.namespace}/{self.release} is {status}: an interrupted helm run left it "
                             "so, and helm refuses to upgrade it",
                             hint=f"re-run with --yes (or answer yes when the wizard or the terminal asks) to {how}, "
                                  "or do it yourself and run install again")
        if never_deployed or status == "uninstalling":
            await self.before_uninstall(ctx)
            await helm.uninstall(self.release, self.namespace, log=ctx.log, wait=False)
        else:
            await helm.rollback(self.release, self.namespace, log=ctx.log)

    async def before_uninstall(self, ctx: StepContext) -> None:
        """What must go before the release is uninstalled to be installed again (Kargo: its controller's
        account, held by its finalizer)."""

    async def before_release(self, ctx: StepContext) -> None:
        """What must be proved before helm installs or upgrades the release (Woodpecker: its volume's export)."""

    async def claim_template_change(self, ctx: StepContext) -> str:
        """What the wanted values change in a StatefulSet's volume claim templates, which Kubernetes never lets
        an update change ('' for none): `helm upgrade` would fail on it."""
        return ""

    async def recreate_statefulset(self, ctx: StepContext, change: str) -> None:
        """Kubernetes refuses a changed claim template on a StatefulSet: with the operator's consent it is deleted
        with its pods and claims orphaned — they keep running, the data stays on its volume — and the helm upgrade
        that follows makes it again, the new one adopting them."""

    async def apply(self, ctx: StepContext) -> None:
        rt = runtime(ctx)
        helm, kube = rt.helm(), rt.kube()
        await helm.require_version()
        if (await self._state(ctx))[0] == "recover":
            await self.recover(ctx)
        if change := await self.claim_template_change(ctx):
            await self.recreate_statefulset(ctx, change)
        await self.prepare_secrets(ctx)
        await apply_objects(ctx, await self.pre_objects(ctx))
        await self.before_release(ctx)
        chart = getattr(self.settings, self.chart_attr)
        if self.repo:
            await helm.repo_add(self.repo[0], getattr(self.settings, self.repo[1]), log=ctx.log)
            await helm.repo_update(log=ctx.log)
        values = await self.values(ctx)
        # Watch the workloads while helm installs (not after): the wizard's workloads pane shows their readiness
        # live. A watch of an object helm has not created yet simply waits for it to appear.
        timeout = duration_seconds(self.settings.helm_timeout)
        waits = [asyncio.create_task(kube.wait_workload_ready(
            kind, name, self.namespace, timeout,
            report=lambda have, want, kind=kind, name=name: ctx.workload(kind, name, have, want)))
            for kind, name in self.workloads]
        try:
            await helm.upgrade_install(self.release, chart, self.namespace,
                                       getattr(self.settings, self.version_attr), values,
                                       timeout=self.settings.helm_timeout, log=ctx.log)
            ctx.output("values_digest", self._digest(values))
            ctx.outputs.setdefault(self.id, {})["values_digest"] = self._digest(values)
            for (kind, name), wait in zip(self.workloads, waits, strict=True):
                await wait
                ctx.log(f"ready     {kind} {self.namespace}/{name}")
        finally:
            for wait in waits:
                wait.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    async def describe(self, ctx: StepContext) -> list[Change]:
        changes = await describe_objects(ctx, await self.pre_objects(ctx))
        action, reason = await self._state(ctx)
        label = {"install": "create", "upgrade": "update", "adopt": "update", "recover": "update",
                 "recreate": "update", "unchanged": "unchanged"}[action]
        if action == "recreate":
            changes.append(Change("delete", "StatefulSet", f"{self.namespace}/{self.claim_statefulset}",
                                  f"and made again by helm: {reason}; Kubernetes allows no change to a claim "
                                  "template. Its pod and claim are kept (orphaned, then adopted): the data stays "
                                  "on its volume. Asked first (--yes consents)"))
        changes.append(Change(label, "HelmRelease", f"{self.namespace}/{self.release}",
                              f"{getattr(self.settings, self.chart_attr)} {getattr(self.settings, self.version_attr)}"
                              + (f"; {reason}" if reason else "")))
        return changes


class Woodpecker(HelmReleaseStep):
    id, title = "woodpecker", "Woodpecker CI (helm)"
    needs = ("arc-removal", "namespaces", "pvs", "gitea-oauth-app")
    release_attr, chart_attr, version_attr = "woodpecker_release", "woodpecker_chart", "woodpecker_chart_version"
    namespace_attr, values_file, chart_label = "woodpecker_namespace", "woodpecker/values.yaml", "woodpecker"
    pre_files = ("woodpecker/oauth-secret.yaml",)
    workloads = (("StatefulSet", "woodpecker-server"), ("StatefulSet", "woodpecker-agent"))
    claim_statefulset = SERVER_STS


    async def describe(self, ctx: StepContext) -> list[Change]:
        changes = await super().describe(ctx)
        if changes[-1].action != "unchanged" and not await self._server_ready(ctx):
            from stonks_tui.steps.nfs_probe import PROBE_JOB

            s = ctx.settings
            changes.insert(-1, Change("create", "Job", f"{self.namespace}/{PROBE_JOB}",
                                      f"proves {s.nfs_server}:{s.nfs_path_woodpecker} writable as uid {SERVER_UID} "
                                      "(the server's user) before helm runs; removed when done"))
        return changes

    async def _server(self, ctx: StepContext) -> dict[str, Any]:
        return await runtime(ctx).kube().get("apps/v1", "StatefulSet", SERVER_STS, self.namespace) or {}

    async def _server_ready(self, ctx: StepContext) -> bool:
        return int(((await self._server(ctx)).get("status") or {}).get("readyReplicas") or 0) >= 1

    async def before_release(self, ctx: StepContext) -> None:
        """The chart runs the server as uid 1000 (its securityContext, in the real chart's render) with SQLite on
        the NFS claim; Kubernetes applies no fsGroup to NFS, so an export uid 1000 cannot write crash-loops it.
        Proved once, before a server first needs it: a server already running on it has proved it."""
        from stonks_tui.steps.nfs_probe import prove_writable

        if await self._server_ready(ctx):
            return
        s = ctx.settings
        await prove_writable(ctx, namespace=self.namespace, server=s.nfs_server, path=s.nfs_path_woodpecker,
                             uid=SERVER_UID, setting="nfs_path_woodpecker", who="Woodpecker's server")

    async def claim_template_change(self, ctx: StepContext) -> str:
        templates = ((await self._server(ctx)).get("spec") or {}).get("volumeClaimTemplates") or []
        live = next((t for t in templates if (t.get("metadata") or {}).get("name") == SERVER_CLAIM), None)
        if live is None:
            return ""
        want = ((await self.values(ctx)).get("server") or {}).get("persistentVolume") or {}
        spec = live.get("spec") or {}
        have_size = str(((spec.get("resources") or {}).get("requests") or {}).get("storage") or "")
        want_size, have_class = str(want.get("size") or ""), str(spec.get("storageClassName") or "")
        want_class = str(want.get("storageClass") or "")
        diffs = []
        if have_size and want_size and not _same_quantity(have_size, want_size):
            diffs.append(f"size {have_size} → {want_size} (nfs_size_woodpecker)")
        if have_class != want_class:
            diffs.append(f"storage class {have_class or '(none)'} → {want_class or '(none)'} (nfs_storage_class)")
        return f"the server's volume claim template changes: {', '.join(diffs)}" if diffs else ""

    async def recreate_statefulset(self, ctx: StepContext, change: str) -> None:
        rt = runtime(ctx)
        kube = rt.kube()
        where = f"{self.namespace}/{SERVER_STS}"
        ctx.log(f"{change}: Kubernetes allows no change to a StatefulSet's claim templates, so `helm upgrade` "
                f"would fail; StatefulSet {where} is deleted with its pod and claim kept, then made again by helm")
        question = (f"{change[0].upper() + change[1:]}. Delete StatefulSet {where} (its pod and claim kept, the "
                    "data stays on its volume) so helm can make it again?")
        if not (rt.assume_yes or await rt.ask(question)):
            raise StepFailed(f"{change}, which Kubernetes refuses on StatefulSet {where}: nothing was changed",
                             hint=f"re-run with --yes (or answer yes when asked) to delete and remake it, keeping "
                                  f"its pod and data; or `kubectl -n {self.namespace} delete statefulset "
                                  f"{SERVER_STS} --cascade=orphan` yourself; or put the setting back")
        await kube.delete("apps/v1", "StatefulSet", SERVER_STS, self.namespace, propagation="Orphan")
        await kube.wait_gone("apps/v1", "StatefulSet", SERVER_STS, self.namespace, 120)
        ctx.log(f"deleted   StatefulSet {where} (pod and claim kept); helm makes it again")


class ArgoCD(HelmReleaseStep):
    id, title, needs = "argocd", "Argo CD (helm)", ("namespaces", "pvs")
    release_attr, chart_attr, version_attr = "argocd_release", "argocd_chart", "argocd_chart_version"
    namespace_attr, values_file, chart_label = "argocd_namespace", "argocd/values.yaml", "argo-cd"
    repo = ("argo", "argocd_chart_repo")
    workloads = (("Deployment", "argocd-server"), ("Deployment", "argocd-repo-server"),
                 ("StatefulSet", "argocd-application-controller"))


class Kargo(HelmReleaseStep):
    id, title, needs = "kargo", "Kargo (helm)", ("namespaces", "pvs")
    release_attr, chart_attr, version_attr = "kargo_release", "kargo_chart", "kargo_chart_version"
    namespace_attr, values_file, chart_label = "kargo_namespace", "kargo/values.yaml", "kargo"
    pre_files = ("kargo/api-secret.yaml",)
    workloads = (("Deployment", "kargo-api"), ("Deployment", "kargo-controller"))

    async def before_uninstall(self, ctx: StepContext) -> None:
        from stonks_tui.steps.teardown import remove_kargo_controller_account

        await remove_kargo_controller_account(ctx, self.namespace)

    async def prepare_secrets(self, ctx: StepContext) -> None:
        """Kargo's admin password, its bcrypt hash and the token signing key: generated once, kept in the keyring."""
        import bcrypt

        password = ctx.secrets.get("kargo-admin-password")
        if not password:
            password = pysecrets.token_urlsafe(24)
            ctx.secrets.set("kargo-admin-password", password)
            ctx.log("generated the Kargo admin password (in the keyring)")
        stored_hash = ctx.secrets.get("kargo-admin-password-hash")
        if not stored_hash or not bcrypt.checkpw(password.encode(), stored_hash.encode()):
            ctx.secrets.set("kargo-admin-password-hash",
                            bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode())
        if not ctx.secrets.get("kargo-token-signing-key"):
            ctx.secrets.set("kargo-token-signing-key", pysecrets.token_urlsafe(48))

    async def check(self, ctx: StepContext) -> CheckResult:
        if not ctx.secrets.get("kargo-admin-password-hash") or not ctx.secrets.get("kargo-token-signing-key"):
            return NotDone("Kargo's admin secret is not generated yet")
        return await super().check(ctx)
