"""`verify` — the design's Tier 2 live checks of the installed system (also the last install step)."""

from __future__ import annotations

import httpx

from stonks_tui.checks.result import CheckResult, run_checks
from stonks_tui.checks.webhook_delivery import delivery_check
from stonks_tui.engine.step import StepContext
from stonks_tui.inventory import DESIGN_NAMESPACES, PIPELINE_PVS, describe_pv, existing_pvs, teardown_namespaces
from stonks_tui.runtime import runtime
from stonks_tui.words import count


def live_checks(ctx: StepContext) -> list[tuple[str, object]]:
    s = ctx.settings
    rt = runtime(ctx)

    async def gitea() -> CheckResult:
        from stonks_tui.gitea_auth import token_auth

        g = rt.gitea(s)
        version = await g.version(token_auth(ctx))
        if not version:
            return CheckResult("gitea", "fail", f"{s.effective_gitea_api_url} does not answer /api/v1/version",
                               "check the gitea pod in " + s.gitea_namespace)
        resp = await g.request("GET", f"/api/v1/repos/{s.effective_repo_owner}/{s.repo_name}", auth=token_auth(ctx))
        if resp.status_code != 200:
            return CheckResult("gitea", "fail", f"Gitea {version} answers but the repository is missing "
                                                f"(HTTP {resp.status_code})", "run install to create it")
        return CheckResult("gitea", "pass", f"Gitea {version}, repository {s.effective_repo_owner}/{s.repo_name}")

    async def workloads(name: str, ns: str, items: list[tuple[str, str]]) -> CheckResult:
        kube = rt.kube()
        bad = []
        for kind, wl in items:
            obj = await kube.get("apps/v1", kind, wl, ns)
            want = int(((obj or {}).get("spec") or {}).get("replicas", 1))
            ready = int(((obj or {}).get("status") or {}).get("readyReplicas") or 0)
            if obj is None:
                bad.append(f"{kind} {wl} missing")
            elif ready < want:
                bad.append(f"{wl} {ready}/{want} ready")
        if bad:
            labels = {"app.kubernetes.io/instance": name}
            why = "" if all(b.endswith("missing") for b in bad) else "; " + await kube.why_not_ready(ns, labels)
            return CheckResult(name, "fail", "not ready: " + ", ".join(bad) + why, f"kubectl -n {ns} get pods",
                               settling=True)
        return CheckResult(name, "pass", f"{count(len(items), 'workload')} ready in {ns}")

    async def http_up(name: str, url: str, path: str, ok: tuple[int, ...]) -> CheckResult:
        try:
            async with httpx.AsyncClient(timeout=10, verify=False) as client:
                resp = await client.get(url.rstrip("/") + path)
        except httpx.TransportError as exc:
            return CheckResult(name, "fail", f"{url}{path} unreachable ({type(exc).__name__})",
                               "check the ingress, DNS and the TLS certificate", settling=True)
        if resp.status_code in ok:
            return CheckResult(name, "pass", f"{url}{path} answers {resp.status_code}")
        return CheckResult(name, "fail", f"{url}{path} answers {resp.status_code}", "check the server's pods")

    async def webhook() -> CheckResult:
        from stonks_tui.gitea_auth import token_auth

        g = rt.gitea(s)
        version = await g.version(token_auth(ctx)) or ""
        return await delivery_check(g, token_auth(ctx), rt.kube(), s, version)

    async def woodpecker_workloads() -> CheckResult:
        return await workloads("woodpecker", s.woodpecker_namespace, [("StatefulSet", "woodpecker-server"),
                                                                      ("StatefulSet", "woodpecker-agent")])

    async def argocd_apps() -> CheckResult:
        kube = rt.kube()
        problems, synced = [], []
        for app in ("stonks-beta", "stonks-paper", "stonks-live"):
            obj = await kube.get("argoproj.io/v1alpha1", "Application", app, s.argocd_namespace)
            if obj is None:
                problems.append(f"{app} missing")
                continue
            url = ((obj.get("spec") or {}).get("source") or {}).get("repoURL")
            if url != s.gitea_repo_url:
                problems.append(f"{app} points at {url}")
            sync = (((obj.get("status") or {}).get("sync")) or {}).get("status", "Unknown")
            synced.append(f"{app} {sync}")
        if problems:
            return CheckResult("argocd-apps", "fail", "; ".join(problems), "run install (argocd-apps step)")
        status = "pass" if all(x.endswith("Synced") for x in synced) else "warn"
        return CheckResult("argocd-apps", status, "all point at Gitea; " + ", ".join(synced),
                           "" if status == "pass" else "see the Application's conditions in Argo CD")

    async def warehouse() -> CheckResult:
        obj = await rt.kube().get("kargo.akuity.io/v1alpha1", "Warehouse", "stonks-images", s.kargo_project)
        if obj is None:
            return CheckResult("kargo-warehouse", "fail", "Warehouse stonks-images is missing", "run install")
        url = obj["spec"]["subscriptions"][0]["image"]["repoURL"]
        if not url.startswith(s.registry_host):
            return CheckResult("kargo-warehouse", "fail", f"watches {url}, not the local registry", "run install")
        found = ((obj.get("status") or {}).get("discoveredArtifacts") or {}).get("images") or []
        if not found:
            return CheckResult("kargo-warehouse", "warn", f"watches {url}; no images discovered yet",
                               "push a commit so the pipeline builds the first images")
        return CheckResult("kargo-warehouse", "pass", f"watches {url}; images discovered")

    async def registry() -> CheckResult:
        return await http_up("registry", s.registry_url, "/v2/_catalog", (200,))

    async def tls() -> CheckResult:
        kube = rt.kube()
        missing = [f"{ns}/{name}" for ns, name in ((s.woodpecker_namespace, "woodpecker-tls"),
                                                   (s.argocd_namespace, "argocd-server-tls"))
                   if await kube.get("v1", "Secret", name, ns) is None]
        if missing:
            return CheckResult("tls", "fail", "certificates not issued: " + ", ".join(missing),
                               f"check cert-manager and ClusterIssuer {s.cluster_issuer}", settling=True)
        return CheckResult("tls", "pass", f"ingress certificates issued by {s.cluster_issuer}")

    async def volumes() -> CheckResult:
        kube = rt.kube()
        problems, ok = [], []
        for pv_name in PIPELINE_PVS:
            pv = await kube.get("v1", "PersistentVolume", pv_name)
            if pv is None:
                problems.append(f"{pv_name} missing")
                continue
            phase = (pv.get("status") or {}).get("phase")
            ref = (pv.get("spec") or {}).get("claimRef") or {}
            nfs = (pv.get("spec") or {}).get("nfs") or {}
            if phase != "Bound":
                problems.append(f"{pv_name} is {phase}")
            else:
                ok.append(f"{pv_name} ← {ref.get('namespace')}/{ref.get('name')} ({nfs.get('path')})")
        if problems:
            return CheckResult("volumes", "fail", "; ".join(problems), "kubectl get pv,pvc -A",
                               settling=not any(p.endswith("missing") for p in problems))
        return CheckResult("volumes", "pass", "; ".join(ok))

    async def arc_gone() -> CheckResult:
        kube = rt.kube()
        left = [ns for ns in DESIGN_NAMESPACES if await kube.get("v1", "Namespace", ns)]
        left += [f"{k}" for k in ("AutoscalingRunnerSet",) if await kube.list("actions.github.com/v1alpha1", k)]
        if left:
            return CheckResult("arc-removed", "fail", "ARC remains: " + ", ".join(left), "run install (arc-removal)")
        return CheckResult("arc-removed", "pass", "no ARC namespaces or runner sets")

    return [("gitea", gitea), ("webhook", webhook), ("woodpecker", woodpecker_workloads),
            ("woodpecker-http", lambda: http_up("woodpecker-http", s.effective_woodpecker_url, "/healthz", (200, 204))),
            ("argocd", lambda: workloads("argocd", s.argocd_namespace, [("Deployment", "argocd-server")])),
            ("argocd-http", lambda: http_up("argocd-http", s.effective_argocd_url, "/healthz", (200,))),
            ("argocd-apps", argocd_apps), ("kargo", lambda: workloads("kargo", s.kargo_namespace,
                                                                        [("Deployment", "kargo-api")])),
            ("kargo-warehouse", warehouse), ("registry", registry), ("tls", tls), ("volumes", volumes),
            ("arc-removed", arc_gone)]


def teardown_checks(ctx: StepContext, *, pvs_deleted: bool = False) -> list[tuple[str, object]]:
    """After a teardown: the kept PVs are still there with their NFS paths (or gone, if the operator had them
    deleted); the namespaces the install made are gone, every other one is still there."""
    rt = runtime(ctx)

    async def kept_pvs() -> CheckResult:
        pvs = await existing_pvs(rt.kube())
        if pvs_deleted:
            if pvs:
                return CheckResult("pvs-deleted", "fail", "asked to delete, still present: "
                                   + ", ".join(pv["metadata"]["name"] for pv in pvs), "re-run teardown --delete-pvs")
            return CheckResult("pvs-deleted", "pass", "the pipeline PVs were deleted as asked; their NFS data is "
                                                      "untouched (install recreates the PVs over it)")
        found = [describe_pv(pv) for pv in pvs]
        missing = sorted(set(PIPELINE_PVS) - {pv["metadata"]["name"] for pv in pvs})
        if missing:
            return CheckResult("kept-pvs", "fail", "PVs missing after teardown: " + ", ".join(missing),
                               "their NFS data is untouched: re-run install to recreate the PVs over it")
        return CheckResult("kept-pvs", "pass", "kept: " + "; ".join(found))

    async def namespaces() -> CheckResult:
        kube = rt.kube()
        left, kept = await teardown_namespaces(ctx)
        missing = [n for n, _ in kept if not await kube.get("v1", "Namespace", n)]
        if left or missing:
            return CheckResult("namespaces", "fail", f"still present: {left}; missing kept ones: {missing}",
                               "re-run teardown (and check who deleted the kept ones)")
        return CheckResult("namespaces", "pass", "the install's namespaces are gone; kept: "
                                                 + ", ".join(n for n, _ in kept))

    return [("kept-pvs", kept_pvs), ("namespaces", namespaces)]


async def verify(ctx: StepContext, *, after_teardown: bool = False, pvs_deleted: bool = False) -> list[CheckResult]:
    checks = teardown_checks(ctx, pvs_deleted=pvs_deleted) if after_teardown else live_checks(ctx)
    return await run_checks(checks)  # type: ignore[arg-type]
