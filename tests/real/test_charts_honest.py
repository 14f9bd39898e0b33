"""The test charts kept honest (issue 24): the Woodpecker test chart, rendered by the real helm with the install's
own values, against the real chart's objects for the same values (`../shared/upstream/renders/`, printed from
woodpecker-ci/helm 3.6.5) — on what the product reads or relies on: which objects exist (kind, name), selectors and
pod labels, Service ports as they resolve, claim templates (name, access, size, class), security contexts (the
server writes SQLite as uid 1000: an NFS export it cannot write crash-loops it), ServiceAccounts and RBAC subjects.

What this found when written: the Woodpecker test chart lacked the server's headless Service (its StatefulSet's
serviceName) and both security contexts (fsGroup 1000, runAsUser/runAsGroup 1000); the Kargo test chart (compared
on the objects the product relies on) lacked its ServiceAccounts (`kargo-controller`, labelled component:
controller, is what Kargo's management controller holds with its finalizer) and all its admission webhooks — then,
once given the ones the install's writes go through, the two `replicated-resource` webhooks on Secrets and
ConfigMaps (object-selected: never the install's)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.real import build

ROOT = Path(__file__).resolve().parents[2]
RENDERS = ROOT.parent / "shared" / "upstream" / "renders"


def _key(obj: dict) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


def _ports(service: dict, pods: list[dict]) -> list[tuple[str, int, int]]:
    """(name, port, target port as a number): a named targetPort resolved through the pods' container ports."""
    named = {p["name"]: p["containerPort"] for pod in pods for c in pod["containers"] for p in c.get("ports") or []
             if "name" in p}
    return sorted((p.get("name", ""), p["port"], named.get(p.get("targetPort"), p.get("targetPort")))
                  for p in service["spec"]["ports"])


def _workload(sts: dict) -> dict[str, Any]:
    spec, pod = sts["spec"], sts["spec"]["template"]["spec"]
    return {
        "selector": spec["selector"], "pod labels": spec["template"]["metadata"]["labels"],
        "serviceName": spec.get("serviceName"), "replicas": spec.get("replicas"),
        "claims": [(c["metadata"]["name"], c["spec"].get("accessModes"), c["spec"]["resources"]["requests"]["storage"],
                    c["spec"].get("storageClassName")) for c in spec.get("volumeClaimTemplates") or []],
        "pod securityContext": pod.get("securityContext") or {},
        "container securityContexts": [c.get("securityContext") or {} for c in pod["containers"]],
        "serviceAccountName": pod.get("serviceAccountName") or "default",
    }


def _both(chart: str, release: str, values_file: str, render_file: str,
          tmp_path: Path) -> tuple[dict[tuple[str, str], dict], dict[tuple[str, str], dict]]:
    """(ours, real) by (kind, name): the test chart rendered by the real helm with the install's own values (those
    the renders were printed with: render --demo's, which name no secrets here; CRDs left out — the tier installs
    the real ones), and the real chart's render. Skips when ../shared/upstream is not here."""
    real_file = RENDERS / render_file
    if not real_file.exists():
        pytest.skip(f"{real_file} is not here (../shared/upstream)")
    from stonks_tui.render import render
    from stonks_tui.settings import Settings

    values = render(Settings(gitea_public_url="http://127.0.0.1:3000")).values[values_file]
    (tmp_path / "values.yaml").write_text(yaml.safe_dump(values))
    helm = build.COMPONENTS["helm"].binary("helm")
    out = subprocess.run([str(helm), "template", release, str(ROOT / "tests" / "real" / "charts" / chart),
                          "-n", release, "-f", str(tmp_path / "values.yaml")], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    ours = {_key(o): o for o in yaml.safe_load_all(out) if o and o.get("kind") != "CustomResourceDefinition"}
    return ours, {_key(o): o for o in yaml.safe_load_all(real_file.read_text()) if o}


def test_the_woodpecker_test_chart_makes_what_the_real_chart_makes(built: None, tmp_path: Path) -> None:
    ours, real = _both("woodpecker", "woodpecker", "woodpecker/values.yaml", "woodpecker-3.6.5.yaml", tmp_path)
    assert sorted(ours) == sorted(real)
    pods = [o["spec"]["template"]["spec"] for o in real.values() if o["kind"] == "StatefulSet"]
    our_pods = [o["spec"]["template"]["spec"] for o in ours.values() if o["kind"] == "StatefulSet"]
    for key, want in real.items():
        got = ours[key]
        if key[0] == "StatefulSet":
            assert _workload(got) == _workload(want), key
        elif key[0] == "Service":
            assert got["spec"].get("selector") == want["spec"].get("selector"), key
            assert got["spec"].get("clusterIP") == want["spec"].get("clusterIP"), key
            assert _ports(got, our_pods) == _ports(want, pods), key
        elif key[0] == "RoleBinding":
            assert got["subjects"] == want["subjects"] and got["roleRef"] == want["roleRef"], key
        elif key[0] == "Role":
            assert sorted(map(str, got["rules"])) == sorted(map(str, want["rules"])), key
        elif key[0] == "Secret":
            assert sorted(got.get("data") or {}) == sorted(want.get("data") or {}), key
        elif key[0] == "Ingress":
            assert got["spec"]["rules"][0]["host"] == want["spec"]["rules"][0]["host"], key
            assert got["spec"].get("tls") == want["spec"].get("tls"), key


def _hooks(config: dict) -> dict[str, Any]:
    """A webhook configuration as the API server acts on it (the client config compared by its path: the real one
    names kargo-webhooks-server's Service, the test chart a loopback url to the tier's stand-in)."""
    return {h["name"]: {"path": h["clientConfig"].get("service", {}).get("path")
                        or "/" + h["clientConfig"]["url"].split("/", 3)[3],
                        "rules": h["rules"], "failurePolicy": h.get("failurePolicy"),
                        "sideEffects": h.get("sideEffects"), "versions": h.get("admissionReviewVersions"),
                        "objectSelector": h.get("objectSelector"), "namespaceSelector": h.get("namespaceSelector")}
            for h in config["webhooks"]}


def test_the_kargo_test_chart_makes_what_the_product_relies_on_as_the_real_chart_does(built: None,
                                                                                      tmp_path: Path) -> None:
    """Kargo v1.11.0 renders 98 objects; the test chart makes those the install, its checks and its teardown touch:
    the four Deployments it waits for, the ServiceAccount Kargo's management controller holds with its finalizer
    (found by its component label), and the admission webhooks every Project and Stage write goes through."""
    ours, real = _both("kargo", "kargo", "kargo/values.yaml", "kargo-1.11.0.yaml", tmp_path)
    relied_on = {("Deployment", n) for n in ("kargo-api", "kargo-controller", "kargo-management-controller",
                                              "kargo-webhooks-server")}
    relied_on |= {("ServiceAccount", "kargo-controller"), ("MutatingWebhookConfiguration", "kargo"),
                  ("ValidatingWebhookConfiguration", "kargo")}
    assert relied_on <= set(real) and relied_on <= set(ours)
    assert set(ours) - set(real) == set()  # nothing the real chart does not make
    for key in relied_on:
        got, want = ours[key], real[key]
        if key[0] == "ServiceAccount":
            component = "app.kubernetes.io/component"
            assert got["metadata"]["labels"][component] == want["metadata"]["labels"][component] == "controller"
        elif key[0].endswith("WebhookConfiguration"):
            inject = "cert-manager.io/inject-ca-from"
            assert got["metadata"]["annotations"][inject] == want["metadata"]["annotations"][inject]
            assert _hooks(got) == _hooks(want), key


def test_the_argocd_test_chart_makes_what_the_product_relies_on_as_the_real_chart_does(built: None,
                                                                                       tmp_path: Path) -> None:
    """Argo CD 7.9.1: the three workloads the install waits for, and the pre-install/pre-upgrade hook Job helm runs
    (and waits for) before every install and upgrade of the chart, with its account and RBAC."""
    ours, real = _both("argo-cd", "argocd", "argocd/values.yaml", "argo-cd-7.9.1.yaml", tmp_path)
    waited = {("Deployment", "argocd-server"), ("Deployment", "argocd-repo-server"),
              ("StatefulSet", "argocd-application-controller")}
    hooks = {key for key, obj in real.items() if "helm.sh/hook" in (obj["metadata"].get("annotations") or {})}
    assert hooks == {("ServiceAccount", "argocd-redis-secret-init"), ("Role", "argocd-redis-secret-init"),
                     ("RoleBinding", "argocd-redis-secret-init"), ("Job", "argocd-redis-secret-init")}
    assert waited | hooks <= set(ours)
    for key in hooks:
        got, want = ours[key]["metadata"]["annotations"], real[key]["metadata"]["annotations"]
        assert {k: v for k, v in got.items() if k.startswith("helm.sh/")} == \
            {k: v for k, v in want.items() if k.startswith("helm.sh/")}, key
    job, real_job = ours[("Job", "argocd-redis-secret-init")]["spec"], real[("Job", "argocd-redis-secret-init")]["spec"]
    for field in ("restartPolicy", "serviceAccountName"):
        assert job["template"]["spec"][field] == real_job["template"]["spec"][field]
    assert job["template"]["spec"]["containers"][0]["securityContext"] == \
        real_job["template"]["spec"]["containers"][0]["securityContext"]
