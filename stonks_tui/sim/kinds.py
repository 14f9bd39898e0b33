"""The resource kinds the simulated API server knows, as discovery describes them.

Built-ins are fixed; custom kinds appear when their CustomResourceDefinition is created (as on a real
cluster: Argo CD's Application kind exists only after the chart installed its CRD).
"""

from __future__ import annotations

from dataclasses import dataclass

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class Kind:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = tuple(VERBS)

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        """Objects are stored by (group, plural): a kind served at several versions is one collection."""
        return (self.group, self.plural)

    def resource_entry(self) -> list[dict]:
        entry = {"name": self.plural, "singularName": self.singular or self.kind.lower(),
                 "namespaced": self.namespaced, "kind": self.kind, "verbs": list(self.verbs)}
        out = [entry]
        for sub in self.subresources:
            out.append({"name": f"{self.plural}/{sub}", "singularName": "", "namespaced": self.namespaced,
                        "kind": self.kind, "verbs": ["get", "patch", "update"]})
        return out


def _k(group: str, version: str, plural: str, kind: str, namespaced: bool, *subs: str) -> Kind:
    return Kind(group, version, plural, kind, namespaced, kind.lower(), tuple(subs))


BUILTIN_KINDS: list[Kind] = [
    _k("", "v1", "namespaces", "Namespace", False, "status", "finalize"),
    _k("", "v1", "persistentvolumes", "PersistentVolume", False, "status"),
    _k("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, "status"),
    _k("", "v1", "secrets", "Secret", True),
    _k("", "v1", "configmaps", "ConfigMap", True),
    _k("", "v1", "services", "Service", True, "status"),
    _k("", "v1", "serviceaccounts", "ServiceAccount", True),
    _k("", "v1", "pods", "Pod", True, "status", "log", "exec"),
    _k("", "v1", "events", "Event", True),
    _k("", "v1", "nodes", "Node", False, "status"),
    _k("apps", "v1", "deployments", "Deployment", True, "status", "scale"),
    _k("apps", "v1", "statefulsets", "StatefulSet", True, "status", "scale"),
    _k("apps", "v1", "replicasets", "ReplicaSet", True, "status"),
    _k("batch", "v1", "jobs", "Job", True, "status"),
    _k("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _k("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _k("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    _k("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    _k("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True),
    _k("networking.k8s.io", "v1", "ingresses", "Ingress", True, "status"),
    _k("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False),
    _k("storage.k8s.io", "v1", "storageclasses", "StorageClass", False),
    _k("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False, "status"),
    Kind("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False,
         "selfsubjectaccessreview", (), ("create",)),
]


def kind_from_crd(crd: dict) -> list[Kind]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    out = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        subs = tuple(k for k in (version.get("subresources") or {}) if k in ("status", "scale"))
        out.append(Kind(spec.get("group", ""), version["name"], names.get("plural", ""), names.get("kind", ""),
                        spec.get("scope", "Namespaced") == "Namespaced", names.get("singular", ""), subs))
    return out


def crd(group: str, plural: str, kind: str, *, namespaced: bool = True, version: str = "v1alpha1",
        status: bool = True) -> dict:
    """A minimal but valid CustomResourceDefinition object, as charts ship them."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced" if namespaced else "Cluster",
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "listKind": f"{kind}List"},
            "versions": [{"name": version, "served": True, "storage": True,
                          "schema": {"openAPIV3Schema": {"type": "object",
                                                         "x-kubernetes-preserve-unknown-fields": True}},
                          **({"subresources": {"status": {}}} if status else {})}],
        },
    }
