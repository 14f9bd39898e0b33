"""Preflight: before anything is applied, is this cluster and network ready for the migration?

Every check answers pass / warn / fail with a one-line reason and a one-line fix; they run concurrently with a
per-check timeout. `install` runs them first and applies nothing while any fails.
"""

from __future__ import annotations

import asyncio
import shutil

import httpx

from stonks_tui.checks.result import CheckResult, run_checks
from stonks_tui.clients.tls import tls_for
from stonks_tui.engine.step import StepContext
from stonks_tui.render import RWX_PROVISIONERS
from stonks_tui.runtime import runtime

# (verb, group, resource) the install and teardown use; SelfSubjectAccessReview asks for each.
PERMISSIONS = [
    ("create", "", "namespaces"), ("delete", "", "namespaces"), ("create", "", "persistentvolumes"),
    ("patch", "", "persistentvolumes"), ("create", "", "secrets"), ("create", "", "persistentvolumeclaims"),
    ("create", "apps", "statefulsets"), ("create", "apps", "deployments"),
    ("create", "rbac.authorization.k8s.io", "clusterrolebindings"), ("create", "networking.k8s.io", "networkpolicies"),
    ("create", "networking.k8s.io", "ingresses"), ("create", "apiextensions.k8s.io", "customresourcedefinitions"),
    ("create", "", "pods/exec"),
]


def preflight_checks(ctx: StepContext) -> list[tuple[str, object]]:
    s = ctx.settings
    rt = runtime(ctx)

    async def cluster() -> CheckResult:
        version = await rt.kube().version()
        return CheckResult("cluster", "pass", f"reachable, Kubernetes {version}")

    async def permissions() -> CheckResult:
        kube = rt.kube()

        async def allowed(verb: str, group: str, resource: str) -> bool:
            plural, _, sub = resource.partition("/")
            review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                      "spec": {"resourceAttributes": {"verb": verb, "group": group, "resource": plural,
                                                      **({"subresource": sub} if sub else {})}}}
            return bool(((await kube.create(review)).get("status") or {}).get("allowed"))

        # Asked at once: one after another, the 13 reviews were preflight's longest check.
        answers = await asyncio.gather(*(allowed(*p) for p in PERMISSIONS))
        denied = [f"{verb} {resource}" for (verb, _, resource), ok in zip(PERMISSIONS, answers, strict=True) if not ok]
        if denied:
            return CheckResult("permissions", "fail", "not allowed: " + ", ".join(denied),
                               "use a kubeconfig with cluster-admin (k3s: /etc/rancher/k3s/k3s.yaml)")
        return CheckResult("permissions", "pass", f"all {len(PERMISSIONS)} verbs the plan uses are allowed")

    async def helm() -> CheckResult:
        version = await rt.helm().require_version()
        return CheckResult("helm", "pass", f"helm {version} (≥ 3.13.1)")

    async def git() -> CheckResult:
        if shutil.which("git", path=(rt.env or {}).get("PATH")) is None:
            return CheckResult("git", "fail", "git is not installed", "apt-get install git")
        return CheckResult("git", "pass", "git is installed")

    async def gitea() -> CheckResult:
        mode = await rt.gitea(s).mode()
        if mode == "installer":
            return CheckResult("gitea", "pass", f"{s.effective_gitea_api_url} answers; not initialised yet "
                                                "(the install will initialise it)")
        return CheckResult("gitea", "pass", f"{s.effective_gitea_api_url} answers; initialised (the admin's "
                                            "credentials are checked, or the admin is created)")

    async def registry() -> CheckResult:
        url = s.registry_url.rstrip("/")
        try:
            async with httpx.AsyncClient(timeout=10, verify=tls_for(url)) as client:  # no CA bundle for http://
                resp = await client.get(url + "/v2/")
                if resp.status_code == 401:
                    harbor = (await client.get(url + "/api/v2.0/systeminfo")).status_code == 200
                    kind = "Harbor" if harbor else "the registry"
                    return CheckResult("registry", "warn", f"{kind} at {url} wants credentials "
                                                           f"({resp.headers.get('WWW-Authenticate', '')[:60]})",
                                       "store them (STONKS_REGISTRY_PASSWORD) and add a pull secret; the design "
                                       "assumed no authentication")
        except httpx.TransportError as exc:
            return CheckResult("registry", "fail", f"{url} unreachable ({type(exc).__name__})",
                               "check registry_url and the registry-service NodePort")
        if resp.status_code == 200:
            return CheckResult("registry", "pass", f"{url}/v2/ answers")
        return CheckResult("registry", "fail", f"{url}/v2/ answers {resp.status_code}", "check the registry pod")

    async def nfs() -> CheckResult:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(s.nfs_server, s.nfs_port), 5)
            writer.close()
        except (OSError, TimeoutError) as exc:
            return CheckResult("nfs", "fail", f"{s.nfs_server}:{s.nfs_port} not reachable ({type(exc).__name__})",
                               "check nfs_server and that the NAS exports /volume1/Kubernetes to the nodes")
        return CheckResult("nfs", "pass", f"{s.nfs_server}:{s.nfs_port} accepts connections")

    async def ingress() -> CheckResult:
        kube = rt.kube()
        if await kube.get("networking.k8s.io/v1", "IngressClass", s.ingress_class) is None:
            return CheckResult("ingress", "fail", f"IngressClass {s.ingress_class} not found",
                               "set ingress_class to one of `kubectl get ingressclass`")
        issuers = [i["metadata"]["name"] for i in await kube.list("cert-manager.io/v1", "ClusterIssuer")]
        if not issuers:
            return CheckResult("ingress", "fail", "cert-manager's ClusterIssuers are missing",
                               "install cert-manager and a ClusterIssuer")
        if s.cluster_issuer not in issuers:
            return CheckResult("ingress", "fail", f"ClusterIssuer {s.cluster_issuer} not found (have: "
                                                  f"{', '.join(issuers)})", "set cluster_issuer to one of them")
        return CheckResult("ingress", "pass", f"IngressClass {s.ingress_class}, ClusterIssuer {s.cluster_issuer} "
                                              f"(also: {', '.join(i for i in issuers if i != s.cluster_issuer)})")

    async def storage() -> CheckResult:
        classes = await rt.kube().list("storage.k8s.io/v1", "StorageClass")
        default = next((c for c in classes if (c["metadata"].get("annotations") or {}).get(
            "storageclass.kubernetes.io/is-default-class") == "true"), None)
        chosen = next((c for c in classes if c["metadata"]["name"] == s.woodpecker_storage_class), None) \
            if s.woodpecker_storage_class else default
        if chosen is None:
            return CheckResult("storage", "fail", "no default StorageClass for pipeline volumes",
                               "set woodpecker_storage_class")
        rwx = any(p in chosen.get("provisioner", "") for p in RWX_PROVISIONERS)
        if s.woodpecker_storage_rwx == "true" and not rwx:
            return CheckResult("storage", "fail", f"{chosen['metadata']['name']} ({chosen.get('provisioner')}) "
                                                  "cannot do ReadWriteMany", "set woodpecker_storage_rwx: auto")
        return CheckResult("storage", "pass", f"pipeline volumes on {chosen['metadata']['name']} "
                                              f"({'RWX' if rwx else 'RWO only: steps share a node'})")

    async def releases() -> CheckResult:
        rows = await rt.helm().releases()
        arc = [f"{r['namespace']}/{r['name']}" for r in rows if r.get("chart", "").startswith(("gha-runner",
                                                                                                 "actions-runner"))]
        ours = {s.woodpecker_release: "woodpecker", s.argocd_release: "argo-cd", s.kargo_release: "kargo"}
        existing = [f"{r['namespace']}/{r['name']} ({r['chart']})" for r in rows if r["name"] in ours]
        parts = [f"ARC to remove: {', '.join(arc)}" if arc else "no ARC releases"]
        if existing:
            parts.append(f"existing releases adopted (upgraded in place): {', '.join(existing)}")
        return CheckResult("releases", "pass", "; ".join(parts))

    async def registry_kargo() -> CheckResult:
        from stonks_tui.checks.offline import registry_for_kargo

        return registry_for_kargo(s)

    return [("cluster", cluster), ("permissions", permissions), ("helm", helm), ("git", git), ("gitea", gitea),
            ("registry", registry), ("nfs", nfs), ("ingress", ingress), ("storage", storage),
            ("releases", releases), ("registry-kargo", registry_kargo)]


async def preflight(ctx: StepContext, timeout: float = 20.0) -> list[CheckResult]:
    return await run_checks(preflight_checks(ctx), timeout)  # type: ignore[arg-type]
