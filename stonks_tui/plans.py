"""The install and teardown plans: the design's runmefirst.sh / runmelast.sh order as a DAG of steps.

Steps that have landed are imported from their modules; the rest are `PendingStep`s that fail loudly
("not implemented") rather than pretend. Needs follow real dependencies, not the scripts' line order,
so independent branches (Gitea set-up, ARC removal, cluster prerequisites) run concurrently.
"""

from __future__ import annotations

from stonks_tui.engine.plan import Plan
from stonks_tui.engine.step import PendingStep, Step
from stonks_tui.settings import Settings

# (id, title, needs) — the shape of the install, shared by `plan`, `status` and the wizard.
INSTALL_SHAPE: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("arc-removal", "Remove ARC runners and controller", ()),
    ("namespaces", "Create namespaces", ()),
    ("pvs", "NFS PersistentVolumes (Retain)", ()),
    ("gitea-init", "Initialise Gitea and its admin", ()),
    ("gitea-token", "Gitea API token", ("gitea-init",)),
    ("gitea-oauth-app", "Gitea OAuth2 app for Woodpecker", ("gitea-token",)),
    ("gitea-repo", "Gitea repository", ("gitea-token",)),
    ("repo-push", "Push the local clone to Gitea", ("gitea-repo",)),
    ("repo-migrate", "Migrate values.yaml and add .woodpecker.yml", ("repo-push",)),
    ("woodpecker", "Woodpecker CI (helm)", ("arc-removal", "namespaces", "pvs", "gitea-oauth-app")),
    ("woodpecker-network-policy", "NetworkPolicy: Traefik → Woodpecker", ("namespaces",)),
    ("woodpecker-agent-rbac", "Woodpecker agent RBAC", ("namespaces",)),
    ("argocd", "Argo CD (helm)", ("namespaces", "pvs")),
    ("argocd-repo-secret", "Argo CD repository secret → Gitea", ("argocd", "gitea-repo")),
    ("argocd-apps", "Argo CD Applications → Gitea", ("argocd-repo-secret", "repo-migrate")),
    ("kargo", "Kargo (helm)", ("namespaces", "pvs")),
    ("kargo-resources", "Kargo project, warehouse and stages", ("kargo", "argocd-apps")),
    ("woodpecker-activate", "Activate the repo in Woodpecker",
     ("woodpecker", "woodpecker-network-policy", "woodpecker-agent-rbac", "repo-migrate")),
    ("verify", "Verify the installed system", ("woodpecker-activate", "kargo-resources")),
)

TEARDOWN_SHAPE: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("pvs-retain", "Make every kept PV Retain", ()),
    ("kargo-resources-remove", "Remove Kargo resources", ("pvs-retain",)),
    ("kargo-uninstall", "Uninstall Kargo", ("kargo-resources-remove",)),
    ("argocd-apps-remove", "Remove Argo CD Applications and repo secret", ("kargo-uninstall",)),
    ("argocd-uninstall", "Uninstall Argo CD", ("argocd-apps-remove",)),
    ("woodpecker-uninstall", "Uninstall Woodpecker", ("argocd-uninstall",)),
    ("namespaces-remove", "Delete pipeline namespaces", ("woodpecker-uninstall",)),
)

PVS_DELETE = ("pvs-delete", "Delete the pipeline PVs (NFS data kept)", ("namespaces-remove",))


def _implemented() -> dict[str, type[Step]]:
    """Step classes that exist, by id. Grows as step modules land."""
    return {}


def _build(name: str, shape: tuple[tuple[str, str, tuple[str, ...]], ...], settings: Settings) -> Plan:
    impl = _implemented()
    steps: list[Step] = []
    for sid, title, needs in shape:
        cls = impl.get(sid)
        steps.append(cls(settings) if cls else PendingStep(sid, title, needs))  # type: ignore[call-arg]
    return Plan(name, steps)


def install_plan(settings: Settings) -> Plan:
    return _build("install", INSTALL_SHAPE, settings)


def teardown_plan(settings: Settings, *, delete_pvs: bool = False) -> Plan:
    shape = TEARDOWN_SHAPE + ((PVS_DELETE,) if delete_pvs else ())
    return _build("teardown", shape, settings)
