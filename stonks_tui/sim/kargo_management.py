"""The simulated Kargo's management controller (pkg/controller/management/{projects,serviceaccounts} of Kargo
v1.11.0): while it runs, its finalizer on each Project, on the Project's namespace and on the controller's
ServiceAccount; a deleted Project takes the finalizer off its namespace, deletes the namespace unless
`kargo.akuity.io/keep-namespace: "true"` is on the Project or the namespace, then goes; a deleted ServiceAccount
goes once it takes its finalizer off. Stopped, it does nothing: the finalizers stay (what hangs a teardown)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stonks_tui.sim.store import Store

GROUP, VERSION = "kargo.akuity.io", "v1alpha1"
FINALIZER = "kargo.akuity.io/finalizer"
KEEP_NAMESPACE = "kargo.akuity.io/keep-namespace"


class ManagementController:
    store: Store
    management_ready: Callable[[], bool]

    def kind(self, plural: str) -> Any:
        """A kargo.akuity.io kind, or None while Kargo's CRDs are not installed."""
        return self.store.kinds.get((GROUP, VERSION, plural))

    # -- the management controller (pkg/controller/management/{projects,serviceaccounts}) --------------------------
    def manage_service_accounts(self) -> None:
        """Its finalizer on the ServiceAccounts labelled app.kubernetes.io/component: controller in Kargo's own
        namespace (kargo-controller), taken off only when one is deleted while it runs."""
        sa_kind = self.store.kinds[("", "v1", "serviceaccounts")]
        deploy = self.store.kinds[("apps", "v1", "deployments")]
        with self.store.lock:
            homes = {ns for (ns, name) in self.store.objects[deploy.key] if name == "kargo-management-controller"}
            accounts = [o for (ns, _), o in self.store.objects[sa_kind.key].items() if ns in homes and
                        (o["metadata"].get("labels") or {}).get("app.kubernetes.io/component") == "controller"]
        for sa in accounts:
            meta = sa["metadata"]
            fins = meta.get("finalizers") or []
            if not meta.get("deletionTimestamp") and FINALIZER not in fins:
                self.store.mutate(sa_kind, meta["namespace"], meta["name"], lambda o: o["metadata"].setdefault(
                    "finalizers", []).append(FINALIZER))
            elif meta.get("deletionTimestamp") and FINALIZER in fins:
                self.store.merge_patch(sa_kind, meta["namespace"], meta["name"], {"metadata": {"finalizers": [
                    f for f in fins if f != FINALIZER] or None}}, "kargo-management-controller")

    def manage_projects(self) -> None:
        """While it runs: its finalizer on each Project and on the Project's namespace; a deleted Project takes
        the finalizer off the namespace, deletes the namespace unless keep-namespace is on the Project or the
        namespace, then lets the Project go. Stopped, it does nothing: finalizers stay."""
        projects = self.kind("projects")
        ns_kind = self.store.kinds[("", "v1", "namespaces")]
        if projects is None or not self.management_ready():
            return
        self.manage_service_accounts()
        with self.store.lock:
            listed = [o for o in self.store.objects[projects.key].values()]
        for project in listed:
            name = project["metadata"]["name"]
            fins = project["metadata"].get("finalizers") or []
            ns = self.store.find(ns_kind, "", name)
            if not project["metadata"].get("deletionTimestamp"):
                if FINALIZER not in fins:
                    self.store.mutate(projects, "", name, lambda o: o["metadata"].setdefault(
                        "finalizers", []).append(FINALIZER))
                if ns is not None and FINALIZER not in (ns["metadata"].get("finalizers") or []) and \
                        not ns["metadata"].get("deletionTimestamp"):
                    self.store.mutate(ns_kind, "", name, lambda o: o["metadata"].setdefault(
                        "finalizers", []).append(FINALIZER))
                continue
            if FINALIZER not in fins:
                continue
            if ns is not None:
                self.store.mutate(ns_kind, "", name, lambda o: o["metadata"].update(finalizers=[
                    f for f in o["metadata"].get("finalizers") or [] if f != FINALIZER] or None))
                keep = "true" in ((project["metadata"].get("annotations") or {}).get(KEEP_NAMESPACE),
                                  (ns["metadata"].get("annotations") or {}).get(KEEP_NAMESPACE))
                if not keep:
                    self.store.delete(ns_kind, "", name)
            self.store.merge_patch(projects, "", name, {"metadata": {"finalizers": [
                f for f in fins if f != FINALIZER] or None}}, "kargo-management-controller")

