"""Legacy ARC (the `actions-runner-controller` chart, API group actions.summerwind.dev), as v0.27.6 behaves
(read in its source, controllers/actions.summerwind.net): a Runner carries `runner.actions.summerwind.dev` and its
pod `actions.summerwind.dev/runner-pod`; only the controller removes them, once the Runner (or the RunnerDeployment
that owns it) is deleted. With the controller gone they stay, and the namespace hangs in Terminating.

World profile `legacy-arc` adds it beside the scale-set ARC: its CRDs, the controller in actions-runner-system
(a helm release), a RunnerDeployment with one Runner and its pod in arc-runners."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stonks_tui.sim.controllers import release_finalizers

GROUP = "actions.summerwind.dev"
KINDS = (("runnerdeployments", "RunnerDeployment"), ("runnerreplicasets", "RunnerReplicaSet"),
         ("runners", "Runner"), ("runnersets", "RunnerSet"),
         ("horizontalrunnerautoscalers", "HorizontalRunnerAutoscaler"))
RUNNER_FINALIZER = "runner.actions.summerwind.dev"
POD_FINALIZERS = ("actions.summerwind.dev/runner-pod", "actions.summerwind.dev/linked-resources")
NAMESPACE, CONTROLLER, RELEASE, CHART = "actions-runner-system", "actions-runner-controller", \
    "actions-runner-controller", "actions-runner-controller"


def seed(create: Callable[..., Any], crd: Callable[..., dict], deployment: Callable[..., None],
         release_secret: Callable[..., dict]) -> None:
    for plural, kind in KINDS:
        create("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd(GROUP, plural, kind))
    create("v1", "Namespace", {"metadata": {"name": NAMESPACE}})
    deployment(NAMESPACE, CONTROLLER, "summerwind/actions-runner-controller:v0.27.6",
               labels={"app.kubernetes.io/name": CONTROLLER}, release=RELEASE)
    create(f"{GROUP}/v1alpha1", "RunnerDeployment", {"metadata": {"name": "legacy-runners"}, "spec": {
        "replicas": 1, "template": {"spec": {"repository": "celesrenata/stonks-oracle"}}}}, "arc-runners")
    create(f"{GROUP}/v1alpha1", "Runner", {"metadata": {"name": "legacy-runners-abcde-xyz12",
                                                        "finalizers": [RUNNER_FINALIZER]},
                                           "spec": {"repository": "celesrenata/stonks-oracle"}}, "arc-runners")
    create("v1", "Pod", {"metadata": {"name": "legacy-runners-abcde-xyz12", "finalizers": list(POD_FINALIZERS)},
                         "spec": {"containers": [{"name": "runner", "image": "summerwind/actions-runner:latest"}]}},
           "arc-runners")
    create("v1", "Secret", release_secret(RELEASE, NAMESPACE, 1, CHART, "0.23.7", "0.27.6", {}, [
        {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": NAMESPACE, "name": CONTROLLER}]), NAMESPACE)


def controller(store: Any, ready: Callable[[], bool], etype: str, kind: Any, obj: dict) -> None:
    """While the legacy controller runs: a deleted RunnerDeployment, RunnerSet or Runner takes the namespace's
    Runners with it and every summerwind finalizer on them and on their pods is removed."""
    if kind.group != GROUP or not (etype == "DELETED" or obj["metadata"].get("deletionTimestamp")):
        return
    ns = obj["metadata"].get("namespace")

    def cleanup() -> None:
        if ready():
            release_finalizers(store, {ns}, GROUP, lambda k: k.group == GROUP and k.kind in ("Runner",
                                                                                             "RunnerReplicaSet"),
                               CONTROLLER)

    store.scheduler.after(0.5, cleanup)
