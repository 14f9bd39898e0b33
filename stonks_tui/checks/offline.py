"""`check` — the design's Tier 1, offline, on exactly what would be applied (rendered from Settings).

Each failure names the file and the field. No cluster is contacted.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from stonks_tui.charts import WOODPECKER_KEYS, unknown_keys
from stonks_tui.checks.result import CheckResult
from stonks_tui.pipeline import generate, structural_problems
from stonks_tui.render import Rendered, render
from stonks_tui.settings import Settings

# Required fields of the custom kinds (their CRDs are not available offline).
CUSTOM_REQUIRED: dict[str, tuple[str, ...]] = {
    "Application": ("spec.project", "spec.source.repoURL", "spec.source.path", "spec.destination.namespace"),
    "Project": ("metadata.name",),
    "ProjectConfig": ("spec.promotionPolicies",),
    "Warehouse": ("spec.subscriptions",),
    "Stage": ("spec.requestedFreight",),
}


def kargo_speaks_plain_http(host: str) -> bool:
    """go-containerregistry's Registry.Scheme(), which Kargo's Warehouse uses with no option to change it
    (pkg/image/repository_client.go): plain HTTP only for localhost:port, a loopback or an RFC 1918 address."""
    import ipaddress

    bare = host.rsplit(":", 1)[0].strip("[]") if host.count(":") <= 1 or host.startswith("[") else host
    if host.startswith("localhost:") or "127.0.0.1" in host or bare == "::1":
        return True
    try:
        ip = ipaddress.ip_address(bare)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


def registry_for_kargo(s: Settings) -> CheckResult:
    if s.registry_insecure and not kargo_speaks_plain_http(s.registry_host):
        return CheckResult("registry-kargo", "fail",
                           f"registry_insecure says {s.registry_host} speaks plain HTTP, but Kargo's Warehouse "
                           "speaks plain HTTP only to localhost, a loopback or a private (RFC 1918) address, never "
                           "to a registry named by DNS: it would find no image",
                           "serve the registry over TLS (e.g. its Ingress with the cluster issuer) and set "
                           "registry_insecure: false (registry_skip_tls_verify: true for a private CA), or set "
                           "registry_host to the registry's IP address and port")
    how = ("plain HTTP (an address Kargo speaks HTTP to)" if s.registry_insecure else
           "TLS, certificate not verified" if s.registry_skip_tls_verify else "TLS")
    return CheckResult("registry-kargo", "pass", f"Kargo's Warehouse reaches {s.registry_host} over {how}")


def _get(obj: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj


def _strings(node: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(node, dict):
        return [x for k, v in node.items() for x in _strings(v, f"{path}.{k}" if path else str(k))]
    if isinstance(node, list):
        return [x for i, v in enumerate(node) for x in _strings(v, f"{path}[{i}]")]
    return [(path, node)] if isinstance(node, str) else []


def validate_builtin(obj: dict) -> str | None:
    """Validate a built-in kind against the official client's model (its OpenAPI schema); None = valid."""
    if "/" in obj.get("apiVersion", "") and obj["apiVersion"].split("/")[0] not in (
            "apps", "rbac.authorization.k8s.io", "networking.k8s.io", "storage.k8s.io", "batch"):
        return None
    from kubernetes import client

    version = obj["apiVersion"].split("/")[-1]
    model = f"{version.capitalize()}{obj['kind']}"
    try:
        client.ApiClient().deserialize(json.dumps(obj), model, "application/json")
    except Exception as exc:  # pydantic's ValidationError, listing each bad field
        lines = [line.strip() for line in str(exc).splitlines() if line.strip() and "errors.pydantic" not in line]
        return "; ".join(lines[1:4]) or str(exc)[:200]
    return None


def offline_checks(settings: Settings, clone: Path | None = None) -> list[CheckResult]:
    results: list[CheckResult] = []
    r: Rendered = render(settings)
    s = settings

    # 1. Manifests valid for their kinds.
    bad = []
    for path, obj in r.all_objects():
        kind = obj.get("kind", "?")
        if kind in CUSTOM_REQUIRED:
            missing = [f for f in CUSTOM_REQUIRED[kind] if _get(obj, f) in (None, "", [])]
            if missing:
                bad.append(f"{path}: {kind} {obj['metadata'].get('name')} lacks {', '.join(missing)}")
        else:
            problem = validate_builtin(obj)
            if problem:
                bad.append(f"{path}: {kind} {obj['metadata'].get('name')}: {problem}")
    results.append(CheckResult("manifests", "fail" if bad else "pass",
                               "; ".join(bad) if bad else f"{len(r.all_objects())} objects valid for their kinds",
                               "fix the settings feeding these fields" if bad else ""))

    # 2. Woodpecker values only use keys the real chart has.
    wp = r.values["woodpecker/values.yaml"]
    unknown = unknown_keys(wp, WOODPECKER_KEYS)
    results.append(CheckResult("woodpecker-values", "fail" if unknown else "pass",
                               f"woodpecker/values.yaml: keys the chart ignores: {', '.join(unknown)}" if unknown
                               else "woodpecker/values.yaml uses only keys the woodpecker chart reads",
                               "remove them" if unknown else ""))
    env = (wp.get("server") or {}).get("env") or {}
    needed = {"WOODPECKER_EXPERT_FORGE_OAUTH_HOST", "WOODPECKER_PLUGINS_PRIVILEGED"} - set(env)
    leaked = {"WOODPECKER_GITEA_CLIENT", "WOODPECKER_GITEA_SECRET"} & set(env)
    if needed or leaked:
        results.append(CheckResult("woodpecker-env", "fail", f"woodpecker/values.yaml server.env: missing "
                                   f"{sorted(needed)}, OAuth client in values {sorted(leaked)}",
                                   "see FACTS: the client comes from a Secret via extraSecretNamesForEnvFrom"))

    # 3. The generated pipeline.
    clone = clone or Path(os.path.expanduser(s.local_clone))
    if clone.is_dir():
        pipeline = generate(s, clone)
        problems = structural_problems(pipeline)
        builds = [st for st in pipeline["steps"] if st["name"].startswith("build-")]
        results.append(CheckResult("pipeline", "fail" if problems else "pass",
                                   f".woodpecker.yml: {'; '.join(problems)}" if problems else
                                   f".woodpecker.yml: {len(pipeline['steps'])} steps, {len(builds)} image builds",
                                   "this is a bug in stonks-tui" if problems else ""))
    else:
        results.append(CheckResult("pipeline", "warn", f"local_clone {clone} not found: pipeline not generated",
                                   "set local_clone to your stonks-oracle clone"))

    # 4. Namespace isolation and NFS path separation.
    kept = {s.live_namespace, s.gitea_namespace}
    clash = [f"{path}: {o['kind']} {o['metadata']['name']}" for path, o in r.all_objects()
             if o["kind"] == "Namespace" and o["metadata"]["name"] in kept]
    results.append(CheckResult("namespaces", "fail" if clash else "pass",
                               f"pipeline namespaces reuse kept ones: {clash}" if clash else
                               f"pipeline namespaces distinct from {', '.join(sorted(kept))}"))
    paths = {o["metadata"]["name"]: o["spec"]["nfs"]["path"] for _, o in r.all_objects()
             if o["kind"] == "PersistentVolume"}
    dup = len(set(paths.values())) != len(paths)
    results.append(CheckResult("nfs-paths", "fail" if dup else "pass",
                               f"pvs/*.yaml spec.nfs.path not distinct: {paths}" if dup else
                               "each PV has its own NFS directory"))

    # 5. Images: local registry only, no GHCR anywhere in what would be applied or committed.
    ghcr: list[str] = []
    for path, obj in r.all_objects():
        ghcr += [f"{path}: {field}" for field, v in _strings(obj) if "ghcr.io" in v]
    for path, values in r.values.items():
        ghcr += [f"{path}: {field}" for field, v in _strings(values) if "ghcr.io" in v]
    committed: dict[str, str] = {}
    if clone.is_dir():
        from stonks_tui.migration import PIPELINE, VALUES, migrated_files

        committed = migrated_files(s, clone)
        for rel, text in committed.items():
            ghcr += [f"{rel}: line {n}" for n, line in enumerate(text.splitlines(), 1)
                     if "ghcr.io" in line and not line.lstrip().startswith("#")]
        remnants = [w for w in ("ghcrAuth", "ghcr-credentials") if re.search(rf"^\s*[^#\n]*{w}", committed.get(
            VALUES, ""), re.M)]
        results.append(CheckResult("ghcr-remnants", "fail" if remnants else "pass",
                                   f"{VALUES}: still has {', '.join(remnants)}" if remnants else
                                   f"{VALUES}: no ghcrAuth or ghcr-credentials after migration"))
        images = re.findall(r"repo: (\S+)", committed.get(PIPELINE, ""))
        off = [i for i in images if not i.startswith(s.registry_host)]
        if off:
            ghcr += [f"{PIPELINE}: repo {i}" for i in off]
    results.append(CheckResult("images", "fail" if ghcr else "pass",
                               "GHCR / foreign images: " + "; ".join(ghcr[:6]) if ghcr else
                               f"every image reference is on {s.registry_host}",
                               "point them at the local registry" if ghcr else ""))

    # 6. Argo CD and Kargo point at the local world.
    wrong = []
    for path, obj in r.all_objects():
        if obj["kind"] == "Application" and _get(obj, "spec.source.repoURL") != s.gitea_repo_url:
            wrong.append(f"{path}: spec.source.repoURL = {_get(obj, 'spec.source.repoURL')}")
        if obj["kind"] == "Secret" and "repository" in str(obj["metadata"].get("labels")) and \
                _get(obj, "stringData.url") != s.gitea_repo_url:
            wrong.append(f"{path}: stringData.url")
        if obj["kind"] == "Secret" and "repository" in str(obj["metadata"].get("labels")) and \
                "${secret:gitea-readonly-token}" not in str(_get(obj, "stringData.password")):
            wrong.append(f"{path}: stringData.password is not the read-only token")
        if obj["kind"] == "Warehouse":
            for i, sub in enumerate(_get(obj, "spec.subscriptions") or []):
                url = (sub.get("image") or {}).get("repoURL", "")
                if not url.startswith(s.registry_host):
                    wrong.append(f"{path}: spec.subscriptions[{i}].image.repoURL = {url}")
                if "allowTags" in (sub.get("image") or {}) or "semverConstraint" in (sub.get("image") or {}):
                    wrong.append(f"{path}: spec.subscriptions[{i}].image uses removed allowTags/semverConstraint")
    results.append(registry_for_kargo(s))
    results.append(CheckResult("gitops-sources", "fail" if wrong else "pass",
                               "; ".join(wrong) if wrong else "Argo CD and Kargo point at Gitea and the local registry",
                               "re-render from settings" if wrong else ""))
    return results
