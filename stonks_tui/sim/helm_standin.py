"""A stand-in for the `helm` executable, speaking the CLI subset stonks-tui uses, against the simulated cluster.

It is a real separate process on PATH (the demo and the tests put a `helm` wrapper first), reads KUBECONFIG
like helm, creates the objects the real charts create under their real names through the Kubernetes API,
stores releases as Helm 3 does (Secrets `sh.helm.release.v1.NAME.vN`), watches readiness for `--wait`,
rejects values keys the real chart does not have, and records its argv (never stdin) for the leak tests.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import secrets
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

# The helm this stands in for: 3.16.2, or STONKS_SIM_HELM_VERSION (v4.3.2: helm 4's list, which has no --all and
# shows every state by default — found on the real tier, where helm 4.3.2 runs beside 3.13.1 and 3.21.4).
_ASKED = os.environ.get("STONKS_SIM_HELM_VERSION", "")
HELM_VERSION = _ASKED if re.fullmatch(r"v[34]\.[0-9]{1,2}\.[0-9]{1,2}", _ASKED) else "v3.16.2"
HELM_MAJOR = int(HELM_VERSION[1])
PENDING = ("pending-install", "pending-upgrade", "pending-rollback")


PLURALS = {"Namespace": "namespaces", "Secret": "secrets", "ConfigMap": "configmaps", "Service": "services",
           "ServiceAccount": "serviceaccounts", "Deployment": "deployments", "StatefulSet": "statefulsets",
           "Role": "roles", "RoleBinding": "rolebindings", "ClusterRole": "clusterroles",
           "ClusterRoleBinding": "clusterrolebindings", "Ingress": "ingresses",
           "CustomResourceDefinition": "customresourcedefinitions", "PersistentVolumeClaim": "persistentvolumeclaims",
           "AppProject": "appprojects", "AutoscalingRunnerSet": "autoscalingrunnersets"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}


class HelmError(Exception):
    pass


# --------------------------------------------------------------------------------------------------------
# A tiny Kubernetes client (urllib) from KUBECONFIG


class Kube:
    def __init__(self, context: str | None) -> None:
        path = (os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")).split(os.pathsep)[0]
        try:
            cfg = yaml.safe_load(Path(path).read_text())
        except OSError:
            raise HelmError("Kubernetes cluster unreachable: no kubeconfig") from None
        ctx_name = context or cfg.get("current-context")
        ctx = next((c["context"] for c in cfg.get("contexts", []) if c["name"] == ctx_name), None)
        if ctx is None:
            raise HelmError(f'Kubernetes cluster unreachable: context "{ctx_name}" does not exist')
        cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next((u["user"] for u in cfg.get("users", []) if u["name"] == ctx.get("user")), {})
        self.server = cluster["server"].rstrip("/")
        self.token = user.get("token", "")

    def request(self, method: str, path: str, body: Any = None, ctype: str = "application/json",
                timeout: float = 30) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method)
        req.add_header("Content-Type", ctype)
        req.add_header("User-Agent", "Helm/3.16.2")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else {}
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                return err.code, json.loads(raw)
            except ValueError:
                return err.code, {"message": raw.decode(errors="replace")}
        except (urllib.error.URLError, OSError) as err:
            raise HelmError(f"Kubernetes cluster unreachable: {err}") from None

    @staticmethod
    def path(api_version: str, kind: str, ns: str | None, name: str = "") -> str:
        plural = PLURALS.get(kind) or kind.lower() + "s"
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        if kind not in CLUSTER_SCOPED and ns:
            base += f"/namespaces/{ns}"
        return f"{base}/{plural}" + (f"/{name}" if name else "")

    def apply(self, obj: dict) -> None:
        meta = obj["metadata"]
        path = self.path(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
        code, body = self.request("PATCH", path + "?fieldManager=helm&force=true", obj, "application/apply-patch+yaml")
        if code >= 300:
            raise HelmError(f"{obj['kind']} \"{meta['name']}\": {body.get('message', code)}")

    def get(self, path: str) -> dict | None:
        code, body = self.request("GET", path)
        return body if code == 200 else None

    def delete(self, path: str) -> None:
        self.request("DELETE", path)

    def watch_lines(self, path: str, rv: str, timeout: float):
        sep = "&" if "?" in path else "?"
        url = f"{self.server}{path}{sep}watch=1&resourceVersion={rv}&timeoutSeconds={max(1, int(timeout))}"
        req = urllib.request.Request(url)
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(req, timeout=timeout + 5) as resp:
            for line in resp:
                if line.strip():
                    yield json.loads(line)


# --------------------------------------------------------------------------------------------------------
# Charts


def _labels(release: str, name: str, component: str = "") -> dict[str, str]:
    out = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": release,
           "app.kubernetes.io/managed-by": "Helm"}
    if component:
        out["app.kubernetes.io/component"] = component
    return out


def _meta(name: str, ns: str, release: str, labels: dict[str, str]) -> dict:
    return {"name": name, "namespace": ns, "labels": labels,
            "annotations": {"meta.helm.sh/release-name": release, "meta.helm.sh/release-namespace": ns}}


def _workload(kind: str, name: str, ns: str, release: str, image: str, replicas: int, env: dict | None = None,
              env_from: list[str] | None = None, claims: list[dict] | None = None, label: str = "",
              uid: int | None = None) -> dict:
    labels = _labels(release, label or name)
    container: dict[str, Any] = {"name": name.split("-")[-1], "image": image,
                                 "env": [{"name": k, "value": str(v)} if not isinstance(v, dict)
                                         else {"name": k, **v} for k, v in (env or {}).items()]}
    if env_from:
        container["envFrom"] = [{"secretRef": {"name": s}} for s in env_from]
    pod: dict[str, Any] = {"containers": [container]}
    if uid is not None:  # as woodpecker-ci/helm 3.6.5 renders it (../shared/upstream/renders)
        pod["securityContext"] = {"fsGroup": uid}
        container["securityContext"] = {"runAsGroup": uid, "runAsUser": uid}
    spec: dict[str, Any] = {"replicas": replicas, "selector": {"matchLabels": labels},
                            "template": {"metadata": {"labels": labels}, "spec": pod}}
    if kind == "StatefulSet":
        spec["serviceName"] = name
        if claims:
            spec["volumeClaimTemplates"] = claims
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": _meta(name, ns, release, labels), "spec": spec}


def render_chart(chart: str, release: str, ns: str, values: dict) -> tuple[str, str, str, list[dict], list[dict]]:
    """(chart name, version, appVersion, CRDs, objects) the real chart would create."""
    name = chart.rstrip("/").split("/")[-1]
    objs: list[dict] = []
    crds: list[dict] = []
    if name == "woodpecker":
        # The real chart has no values.schema.json: helm ignores keys it does not know, never refuses them.
        server = values.get("server") or {}
        agent = values.get("agent") or {}
        pv = server.get("persistentVolume") or {}
        claims = []
        if pv.get("enabled", True):
            claims = [{"metadata": {"name": "data"}, "spec": {
                "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": pv.get("size", "10Gi")}},
                **({"storageClassName": pv["storageClass"]} if pv.get("storageClass") is not None else {})}}]
        if server.get("createAgentSecret", True):
            objs.append({"apiVersion": "v1", "kind": "Secret", "metadata": _meta(
                "woodpecker-default-agent-secret", ns, release, _labels(release, "woodpecker")),
                "type": "Opaque", "data": {"WOODPECKER_AGENT_SECRET": base64.b64encode(
                    secrets.token_hex(32).encode()).decode()}})
        objs.append({"apiVersion": "v1", "kind": "Service", "metadata": _meta(
            "woodpecker-server", ns, release, _labels(release, "server")), "spec": {
            "selector": _labels(release, "server"), "ports": [
                {"name": "http", "port": 80, "targetPort": 8000}, {"name": "grpc", "port": 9000, "targetPort": 9000}]}})
        objs.append({"apiVersion": "v1", "kind": "ServiceAccount",
                     "metadata": _meta("woodpecker-agent", ns, release, _labels(release, "agent"))})
        objs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": _meta(
            "woodpecker-agent", ns, release, _labels(release, "agent")), "rules": [
            {"apiGroups": [""], "resources": ["persistentvolumeclaims", "services", "secrets"],
             "verbs": ["create", "delete"]},
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["watch", "create", "delete", "get", "list"]},
            {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}]})
        objs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": _meta(
            "woodpecker-agent", ns, release, _labels(release, "agent")),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "woodpecker-agent"},
            "subjects": [{"kind": "ServiceAccount", "name": "woodpecker-agent", "namespace": ns}]})
        objs.append(_workload("StatefulSet", "woodpecker-server", ns, release,
                              "docker.io/woodpeckerci/woodpecker-server:v3.16.0", 1, server.get("env"),
                              server.get("extraSecretNamesForEnvFrom"), claims, label="server", uid=1000))
        # The agent keeps its registration in a per-replica claim (the chart's agent.persistence, on by default:
        # `agent-config`, 1Gi, ReadWriteOnce, the cluster's default class), as the real chart renders it.
        persistence = agent.get("persistence") or {}
        agent_claims = [{"metadata": {"name": "agent-config"}, "spec": {
            "accessModes": [persistence.get("accessModes", ["ReadWriteOnce"])[0]],
            "resources": {"requests": {"storage": persistence.get("size", "1Gi")}},
            **({"storageClassName": persistence["storageClass"]} if persistence.get("storageClass") else {})}}] \
            if persistence.get("enabled", True) else []
        objs.append(_workload("StatefulSet", "woodpecker-agent", ns, release,
                              "docker.io/woodpeckerci/woodpecker-agent:v3.16.0", int(agent.get("replicaCount", 2)),
                              agent.get("env"), ["woodpecker-default-agent-secret"], agent_claims, label="agent",
                              uid=1000))
        ing = server.get("ingress") or {}
        if ing.get("enabled"):
            objs.append({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {
                **_meta("woodpecker-server", ns, release, _labels(release, "server")),
                "annotations": {**(ing.get("annotations") or {}), "meta.helm.sh/release-name": release,
                                "meta.helm.sh/release-namespace": ns}},
                "spec": {"ingressClassName": ing.get("ingressClassName"), "tls": ing.get("tls") or [],
                         "rules": [{"host": h["host"], "http": {"paths": [
                             {"path": p.get("path", "/"), "pathType": p.get("pathType", "Prefix"), "backend": {
                                 "service": {"name": "woodpecker-server", "port": {"number": 80}}}}
                             for p in h.get("paths") or [{"path": "/"}]]}} for h in ing.get("hosts") or []]}})
        return "woodpecker", "3.6.5", "3.16.0", crds, objs
    if name == "argo-cd":
        from stonks_tui.sim.kinds import crd

        crds = [crd("argoproj.io", "applications", "Application"), crd("argoproj.io", "applicationsets",
                                                                       "ApplicationSet"),
                crd("argoproj.io", "appprojects", "AppProject")]
        for dep in ("argocd-server", "argocd-repo-server", "argocd-redis", "argocd-applicationset-controller",
                    "argocd-notifications-controller", "argocd-dex-server"):
            objs.append(_workload("Deployment", dep, ns, release, "quay.io/argoproj/argocd:v2.14.0", 1))
        objs.append(_workload("StatefulSet", "argocd-application-controller", ns, release,
                              "quay.io/argoproj/argocd:v2.14.0", 1))
        objs.append({"apiVersion": "v1", "kind": "Service", "metadata": _meta(
            "argocd-server", ns, release, _labels(release, "argocd-server")), "spec": {
            "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})
        objs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(
            "argocd-cm", ns, release, _labels(release, "argocd-cm")), "data": {}})
        objs.append({"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject", "metadata": _meta(
            "default", ns, release, _labels(release, "argocd")), "spec": {
            "sourceRepos": ["*"], "destinations": [{"namespace": "*", "server": "*"}],
            "clusterResourceWhitelist": [{"group": "*", "kind": "*"}]}})
        server = values.get("server") or {}
        ing = server.get("ingress") or {}
        if ing.get("enabled"):
            host = ing.get("hostname", "argocd.local")
            objs.append({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {
                **_meta("argocd-server", ns, release, _labels(release, "argocd-server")),
                "annotations": {**(ing.get("annotations") or {})}},
                "spec": {"ingressClassName": ing.get("ingressClassName"),
                         "tls": [{"hosts": [host], "secretName": "argocd-server-tls"}] if ing.get("tls") else [],
                         "rules": [{"host": host}]}})
        return "argo-cd", "7.9.1", "v2.14.0", crds, objs
    if name == "kargo":
        from stonks_tui.sim.kinds import crd

        api = values.get("api") or {}
        admin = api.get("adminAccount") or {}
        if not (api.get("secret") or {}).get("name") and not (admin.get("passwordHash") and
                                                              admin.get("tokenSigningKey")):
            raise HelmError("execution error at (kargo/templates/api/secret.yaml:13:22): value "
                            "api.adminAccount.passwordHash must be set")
        crds = [crd("kargo.akuity.io", "projects", "Project", namespaced=False),
                crd("kargo.akuity.io", "projectconfigs", "ProjectConfig"),
                crd("kargo.akuity.io", "warehouses", "Warehouse"), crd("kargo.akuity.io", "stages", "Stage"),
                crd("kargo.akuity.io", "freights", "Freight"), crd("kargo.akuity.io", "promotions", "Promotion")]
        # Like the real chart: no argoproj.io Rollouts CRDs (AnalysisTemplate comes from Argo Rollouts).
        env_from = [api["secret"]["name"]] if (api.get("secret") or {}).get("name") else None
        objs.append(_workload("Deployment", "kargo-api", ns, release, "ghcr.io/akuity/kargo:v1.11.0", 1,
                              env_from=env_from))
        for dep in ("kargo-controller", "kargo-management-controller", "kargo-webhooks-server"):
            objs.append(_workload("Deployment", dep, ns, release, "ghcr.io/akuity/kargo:v1.11.0", 1))
        # The controller's ServiceAccount, labelled as the real chart labels it: Kargo's management controller
        # puts its finalizer on it (and helm deletes it after the Deployments, as the real helm orders kinds).
        objs.append({"apiVersion": "v1", "kind": "ServiceAccount",
                     "metadata": _meta("kargo-controller", ns, release, _labels(release, "kargo", "controller"))})
        return "kargo", "1.11.0", "v1.11.0", crds, objs
    raise HelmError(f'chart "{chart}" not found in the simulated repositories')


# --------------------------------------------------------------------------------------------------------
# Commands


def _state_dir() -> Path:
    return Path(os.environ.get("STONKS_SIM_DIR") or Path.home() / ".cache" / "stonks-sim-helm")


def _record(argv: list[str]) -> None:
    path = _state_dir() / "helm-argv.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        # The names of the environment it was given (never values): the child-environment tests read them.
        fh.write(json.dumps({"argv": argv, "at": time.time(), "env": sorted(os.environ)}) + "\n")


def _fault(argv: list[str]) -> None:
    spec = os.environ.get("STONKS_SIM_FAULTS", "")
    if not spec:
        return
    from stonks_tui.sim.faults import Faults

    action = Faults(spec, _state_dir() / "fault-counters.json").check("helm", " ".join(argv))
    if action and action.startswith("exit"):
        print(f"Error: injected failure for `helm {' '.join(argv)}`", file=sys.stderr)
        raise SystemExit(int(action[4:]))
    if action == "timeout":
        time.sleep(3600)


def _speed() -> float:
    try:
        return max(0.0, float(os.environ.get("STONKS_SIM_SPEED", "1")))
    except ValueError:
        return 1.0


def _pause(seconds: float) -> None:
    time.sleep(seconds * _speed())


def parse_args(argv: list[str]) -> tuple[list[str], dict[str, Any]]:
    flags: dict[str, Any] = {}
    positional: list[str] = []
    takes_value = {"--namespace", "-n", "--version", "--values", "-f", "--timeout", "--kube-context", "-o",
                   "--output", "--set", "--template"}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--") and "=" in arg:
            key, value = arg.split("=", 1)
            flags[key] = value
        elif arg in takes_value:
            flags[arg] = argv[i + 1] if i + 1 < len(argv) else ""
            i += 1
        elif arg.startswith("-"):
            flags[arg] = True
        else:
            positional.append(arg)
        i += 1
    if "-n" in flags:
        flags["--namespace"] = flags.pop("-n")
    if "-f" in flags:
        flags["--values"] = flags.pop("-f")
    if "-o" in flags:
        flags["--output"] = flags.pop("-o")
    if "--set" in flags:
        raise HelmError("--set is not accepted by this stand-in: values go on stdin (secrets never on argv)")
    return positional, flags


def _releases(kube: Kube, ns: str | None = None) -> list[dict]:
    path = (f"/api/v1/namespaces/{ns}/secrets" if ns else "/api/v1/secrets") + "?labelSelector=owner%3Dhelm"
    body = kube.get(path) or {"items": []}
    from stonks_tui.sim.world import decode_release

    latest: dict[tuple[str, str], dict] = {}
    for item in body["items"]:
        rel = decode_release(item)
        key = (rel["namespace"], rel["name"])
        if key not in latest or rel["version"] > latest[key]["version"]:
            latest[key] = rel
    return sorted(latest.values(), key=lambda r: (r["namespace"], r["name"]))


def _parse_duration(text: str) -> float:
    from stonks_tui.clients.helm import duration_seconds  # one reading of helm's --timeout, the product's

    return duration_seconds(text)


def _wait_ready(kube: Kube, objs: list[dict], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for obj in objs:
        if obj["kind"] not in ("Deployment", "StatefulSet"):
            continue
        meta = obj["metadata"]
        coll = Kube.path("apps/v1", obj["kind"], meta["namespace"])
        want = int(obj["spec"].get("replicas", 1))
        selector = f"fieldSelector=metadata.name%3D{meta['name']}"
        ready = False
        while not ready:
            listing = kube.get(f"{coll}?{selector}") or {"items": [], "metadata": {}}
            cur = listing["items"][0] if listing["items"] else None
            if cur and int((cur.get("status") or {}).get("readyReplicas") or 0) >= want:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                raise HelmError("context deadline exceeded")
            rv = listing["metadata"].get("resourceVersion", "0")
            try:
                for event in kube.watch_lines(f"{coll}?{selector}", rv, min(left, 30)):
                    if event.get("type") == "ERROR":  # 410 Expired: list again
                        break
                    if int((event["object"].get("status") or {}).get("readyReplicas") or 0) >= want:
                        ready = True
                        break
            except OSError:
                continue
        print(f"{obj['kind'].lower()}.apps/{meta['name']} is ready", flush=True)


def cmd_upgrade(kube: Kube, pos: list[str], flags: dict[str, Any]) -> int:
    if not flags.get("--install"):
        raise HelmError("this stand-in only supports `upgrade --install`")
    release, chart = pos[1], pos[2]
    ns = flags.get("--namespace", "default")
    if chart.startswith(("oci://", "/", "./")) is False and "/" in chart:
        repo = chart.split("/")[0]
        repos = _load_repos()
        if repo not in repos:
            raise HelmError(f"repo {repo} not found")
    values: dict = {}
    if flags.get("--values") == "-":
        values = yaml.safe_load(sys.stdin.read()) or {}
    elif flags.get("--values"):
        values = yaml.safe_load(Path(flags["--values"]).read_text()) or {}
    existing = [r for r in _releases(kube, ns) if r["name"] == release]
    if existing and existing[0]["info"]["status"] in PENDING:
        raise HelmError("UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress")
    if existing and existing[0]["info"]["status"] == "uninstalling":
        raise HelmError(f'UPGRADE FAILED: "{release}" has no deployed releases')
    if not existing:
        print(f'Release "{release}" does not exist. Installing it now.', flush=True)
    if chart.startswith("oci://"):
        _pause(0.3)
        print(f"Pulled: {chart[6:]}:{flags.get('--version', 'latest')}", flush=True)
        print(f"Digest: sha256:{secrets.token_hex(32)}", flush=True)
    name, version, app_version, crds, objs = render_chart(chart, release, ns, values)
    if existing and existing[0]["chart"]["metadata"]["name"] != name:
        raise HelmError(f'release "{release}" exists with chart {existing[0]["chart"]["metadata"]["name"]}')
    if flags.get("--create-namespace"):
        code, _ = kube.request("GET", f"/api/v1/namespaces/{ns}")
        if code == 404:
            kube.request("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
    elif kube.get(f"/api/v1/namespaces/{ns}") is None:
        raise HelmError(f'create: failed to create: namespaces "{ns}" not found')
    for c in crds:
        if kube.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{c['metadata']['name']}") is None:
            kube.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", c)
    revision = existing[0]["version"] + 1 if existing else 1
    from stonks_tui.sim.world import helm_release_secret

    resources = [{"apiVersion": o["apiVersion"], "kind": o["kind"], "namespace": o["metadata"].get("namespace"),
                  "name": o["metadata"]["name"]} for o in objs]
    # Like the real helm: the new revision is recorded pending before anything is applied, so a helm killed
    # from here on leaves it pending-install / pending-upgrade for good.
    pending = helm_release_secret(release, ns, revision, name, version, app_version, values, resources,
                                  "pending-upgrade" if existing else "pending-install")
    kube.request("POST", f"/api/v1/namespaces/{ns}/secrets", pending)
    _pause(0.2)
    for obj in objs:
        kube.apply(obj)
        _pause(0.05)
    if flags.get("--wait"):
        timeout = _parse_duration(str(flags.get("--timeout", "5m0s")))
        # (real helm 3 logs its waiting only with --debug: nothing is printed here)
        try:
            _wait_ready(kube, objs, timeout)
        except HelmError as err:
            rec = helm_release_secret(release, ns, revision, name, version, app_version, values, resources, "failed")
            kube.request("PUT", f"/api/v1/namespaces/{ns}/secrets/{rec['metadata']['name']}", rec)
            verb = "UPGRADE" if existing else "INSTALLATION"
            raise HelmError(f"{verb} FAILED: {err}") from None
    if existing:
        _restatus(kube, existing[0], "superseded")
    rec = helm_release_secret(release, ns, revision, name, version, app_version, values, resources)
    code, body = kube.request("PUT", f"/api/v1/namespaces/{ns}/secrets/{rec['metadata']['name']}", rec)
    if code >= 300:
        raise HelmError(f"failed to record release: {body.get('message')}")
    if existing:
        print(f'Release "{release}" has been upgraded. Happy Helming!')
    print(f"NAME: {release}\nLAST DEPLOYED: {time.strftime('%a %b %d %H:%M:%S %Y')}\nNAMESPACE: {ns}\n"
          f"STATUS: deployed\nREVISION: {revision}\nTEST SUITE: None", flush=True)
    return 0


def cmd_uninstall(kube: Kube, pos: list[str], flags: dict[str, Any]) -> int:
    release = pos[1]
    ns = flags.get("--namespace", "default")
    found = [r for r in _releases(kube, ns) if r["name"] == release]
    if not found:
        raise HelmError(f"uninstall: Release not loaded: {release}: release: not found")
    _restatus(kube, found[0], "uninstalling")
    _pause(0.2)
    # helm's uninstall order (releaseutil.UninstallOrder): workloads before ServiceAccounts and RBAC.
    resources = [r for r in found[0].get("sim_resources", []) if r["kind"] != "CustomResourceDefinition"]
    later = ("ServiceAccount", "Secret", "ConfigMap", "Service", "Namespace")
    resources.sort(key=lambda r: r["kind"] in later)
    for res in resources:
        kube.delete(Kube.path(res["apiVersion"], res["kind"], res.get("namespace"), res["name"]))
    body = kube.get(f"/api/v1/namespaces/{ns}/secrets?labelSelector=owner%3Dhelm,name%3D{release}") or {"items": []}
    for item in body["items"]:
        kube.delete(f"/api/v1/namespaces/{ns}/secrets/{item['metadata']['name']}")
    if flags.get("--wait"):
        # --wait waits for every deleted resource to be gone (pkg/action/uninstall.go), up to --timeout: an object
        # a finalizer holds keeps it waiting, and then uninstall fails.
        _pause(0.5)
        deadline = time.monotonic() + _parse_duration(str(flags.get("--timeout", "5m0s")))
        while True:
            left = [r for r in resources if kube.get(Kube.path(r["apiVersion"], r["kind"], r.get("namespace"),
                                                               r["name"])) is not None]
            if not left:
                break
            if time.monotonic() > deadline:
                print(f'Error: uninstallation completed with 1 error(s): {left[0]["kind"]} "{left[0]["name"]}": '
                      "context deadline exceeded", file=sys.stderr, flush=True)
                return 1
            time.sleep(0.2)
    print(f'release "{release}" uninstalled', flush=True)
    return 0


def cmd_list(kube: Kube, flags: dict[str, Any]) -> int:
    ns = None if flags.get("-A") or flags.get("--all-namespaces") else flags.get("--namespace", "default")
    rels = _releases(kube, ns)
    # helm's pkg/action/list.go (SetStateMask): --all, or the union of the state filters named, or by default
    # deployed and failed only in helm 3 (pending releases need --all or --pending), every state in helm 4.
    states = {"--deployed": ("deployed",), "--failed": ("failed",), "--superseded": ("superseded",),
              "--pending": PENDING,
              "--uninstalled": ("uninstalled",), "--uninstalling": ("uninstalling",)}
    if HELM_MAJOR >= 4 and (flags.get("--all") or flags.get("-a")):
        raise HelmError(f"unknown flag: {'--all' if flags.get('--all') else '-a'}")  # helm 4.3.2's words
    if not (flags.get("--all") or flags.get("-a")):
        wanted = {state for flag, named in states.items() if flags.get(flag) for state in named}
        default = {r["info"]["status"] for r in rels} if HELM_MAJOR >= 4 else {"deployed", "failed"}
        rels = [r for r in rels if r["info"]["status"] in (wanted or default)]
    rows = [{"name": r["name"], "namespace": r["namespace"], "revision": str(r["version"]),
             "updated": r["info"]["last_deployed"], "status": r["info"]["status"],
             "chart": f"{r['chart']['metadata']['name']}-{r['chart']['metadata']['version']}",
             "app_version": r["chart"]["metadata"]["appVersion"]} for r in rels]
    if flags.get("--output") == "json":
        print(json.dumps(rows))
    else:
        print("NAME\tNAMESPACE\tREVISION\tUPDATED\tSTATUS\tCHART\tAPP VERSION")
        for r in rows:
            print("\t".join(r.values()))
    return 0


def _restatus(kube: Kube, rel: dict, status: str) -> None:
    """Rewrite one revision's record with a new status, in its payload and its label (as helm does)."""
    from stonks_tui.sim.world import helm_release_secret

    meta = rel["chart"]["metadata"]
    rec = helm_release_secret(rel["name"], rel["namespace"], rel["version"], meta["name"], meta["version"],
                              meta.get("appVersion", ""), rel.get("config") or {}, rel.get("sim_resources") or [],
                              status)
    kube.request("PUT", f"/api/v1/namespaces/{rel['namespace']}/secrets/{rec['metadata']['name']}", rec)


def cmd_rollback(kube: Kube, pos: list[str], flags: dict[str, Any]) -> int:
    """`helm rollback RELEASE [REVISION]`: a new revision with the previous one's chart and values."""
    from stonks_tui.sim.world import decode_release, helm_release_secret

    release, ns = pos[1], flags.get("--namespace", "default")
    body = kube.get(f"/api/v1/namespaces/{ns}/secrets?labelSelector=owner%3Dhelm,name%3D{release}") or {"items": []}
    revs = sorted((decode_release(i) for i in body["items"]), key=lambda r: r["version"])
    if not revs:
        raise HelmError("release: not found")
    target = int(pos[2]) if len(pos) > 2 else (revs[-2]["version"] if len(revs) > 1 else 0)
    base = next((r for r in revs if r["version"] == target), None)
    if base is None:
        raise HelmError(f'release has no {target} version')
    for r in revs:
        _restatus(kube, r, "failed" if r["info"]["status"] in PENDING else "superseded")
    meta = base["chart"]["metadata"]
    rec = helm_release_secret(release, ns, revs[-1]["version"] + 1, meta["name"], meta["version"],
                              meta.get("appVersion", ""), base.get("config") or {}, base.get("sim_resources") or [])
    kube.request("POST", f"/api/v1/namespaces/{ns}/secrets", rec)
    print("Rollback was a success! Happy Helming!", flush=True)
    return 0


def cmd_status(kube: Kube, pos: list[str], flags: dict[str, Any]) -> int:
    ns = flags.get("--namespace", "default")
    found = [r for r in _releases(kube, ns) if r["name"] == pos[1]]
    if not found:
        raise HelmError("release: not found")
    rel = {k: v for k, v in found[0].items() if k != "sim_resources"}
    print(json.dumps(rel) if flags.get("--output") == "json" else f"NAME: {rel['name']}\nSTATUS: "
                                                                   f"{rel['info']['status']}")
    return 0


def _load_repos() -> dict[str, str]:
    path = _state_dir() / "helm-repos.json"
    with contextlib.suppress(OSError, ValueError):
        return json.loads(path.read_text())
    return {}


def cmd_repo(pos: list[str], flags: dict[str, Any]) -> int:
    repos = _load_repos()
    if len(pos) >= 4 and pos[1] == "add":
        name, url = pos[2], pos[3]
        if repos.get(name) == url:
            print(f'"{name}" already exists with the same configuration, skipping')
            return 0
        if name in repos and not flags.get("--force-update"):
            raise HelmError(f'repository name ({name}) already exists, please specify a different name')
        _pause(0.2)
        repos[name] = url
        path = _state_dir() / "helm-repos.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(repos))
        print(f'"{name}" has been added to your repositories')
        return 0
    if len(pos) >= 2 and pos[1] == "update":
        print("Hang tight while we grab the latest from your chart repositories...")
        for name in repos:
            _pause(0.2)
            print(f'...Successfully got an update from the "{name}" chart repository')
        print("Update Complete. ⎈Happy Helming!⎈")
        return 0
    raise HelmError("unknown repo command")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _record(argv)
    _permission_warnings()
    try:
        _fault(argv)
        pos, flags = parse_args(argv)
        if not pos:
            raise HelmError("a subcommand is required")
        if pos[0] == "version":
            if flags.get("--short"):
                print(f"{HELM_VERSION}+gsim")
            else:
                print(f'version.BuildInfo{{Version:"{HELM_VERSION}", GitCommit:"sim", GitTreeState:"clean", '
                      'GoVersion:"go1.22.7"}')
            return 0
        if pos[0] == "repo":
            return cmd_repo(pos, flags)
        kube = Kube(flags.get("--kube-context"))
        if pos[0] == "upgrade":
            return cmd_upgrade(kube, pos, flags)
        if pos[0] == "uninstall":
            return cmd_uninstall(kube, pos, flags)
        if pos[0] in ("list", "ls"):
            return cmd_list(kube, flags)
        if pos[0] == "status":
            return cmd_status(kube, pos, flags)
        if pos[0] == "rollback":
            return cmd_rollback(kube, pos, flags)
        raise HelmError(f'unknown command "{pos[0]}" for "helm"')
    except HelmError as err:
        print(f"Error: {err}", file=sys.stderr)
        return 1


def _permission_warnings() -> None:
    """helm 3.13–3.16 (cmd/helm/root_unix.go checkPerms), on every command, on stderr."""
    if tuple(int(x) for x in HELM_VERSION.lstrip("v").split(".")[:2]) >= (3, 17):
        return
    path = (os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")).split(os.pathsep)[0]
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if mode & 0o040:
        print(f"WARNING: Kubernetes configuration file is group-readable. This is insecure. Location: {path}",
              file=sys.stderr)
    if mode & 0o004:
        print(f"WARNING: Kubernetes configuration file is world-readable. This is insecure. Location: {path}",
              file=sys.stderr)


def install_wrapper(bin_dir: Path) -> Path:
    """Write an executable `helm` into bin_dir that runs this stand-in with the current interpreter."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    exe = bin_dir / "helm"
    exe.write_text(f"#!{sys.executable}\nimport sys\nfrom stonks_tui.sim.helm_standin import main\n"
                   "sys.exit(main())\n")
    exe.chmod(0o700)
    return exe


if __name__ == "__main__":
    raise SystemExit(main())
