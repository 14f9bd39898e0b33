"""The install and teardown plans: the design's runmefirst.sh / runmelast.sh order as a DAG of steps.

Each entry is a step class (which carries its own id, title and needs) or, for a step whose implementation
has not landed, an (id, title, needs) triple that becomes a `PendingStep` failing loudly ("not implemented").
Needs follow real dependencies, not the scripts' line order, so independent branches run concurrently.
"""

from __future__ import annotations

from stonks_tui.engine.plan import Plan
from stonks_tui.engine.step import PendingStep, Step
from stonks_tui.settings import Settings
from stonks_tui.steps.arc import ArcRemoval
from stonks_tui.steps.cluster import (
    ArgoApps,
    ArgoRepoSecret,
    KargoResources,
    Namespaces,
    PersistentVolumes,
    WoodpeckerAgentRbac,
    WoodpeckerNetworkPolicy,
)
from stonks_tui.steps.gitea import GiteaInit, GiteaOAuthApp, GiteaRepo, GiteaTokens
from stonks_tui.steps.releases import ArgoCD, Kargo, Woodpecker
from stonks_tui.steps.repo import RepoMigrate, RepoPush
from stonks_tui.steps.teardown import (
    ArgoAppsRemove,
    ArgoUninstall,
    KargoResourcesRemove,
    KargoUninstall,
    NamespacesRemove,
    PvsDelete,
    PvsRetain,
    WoodpeckerRbacRemove,
    WoodpeckerUninstall,
)
from stonks_tui.steps.verify import Verify
from stonks_tui.steps.woodpecker_activate import WoodpeckerActivate

Entry = type[Step] | tuple[str, str, tuple[str, ...]]

INSTALL: tuple[Entry, ...] = (
    ArcRemoval,
    Namespaces,
    PersistentVolumes,
    GiteaInit,
    GiteaTokens,
    GiteaOAuthApp,
    GiteaRepo,
    RepoPush,
    RepoMigrate,
    Woodpecker,
    WoodpeckerNetworkPolicy,
    WoodpeckerAgentRbac,
    ArgoCD,
    ArgoRepoSecret,
    ArgoApps,
    Kargo,
    KargoResources,
    WoodpeckerActivate,
    Verify,
)

TEARDOWN: tuple[Entry, ...] = (PvsRetain, KargoResourcesRemove, KargoUninstall, ArgoAppsRemove, ArgoUninstall,
                               WoodpeckerUninstall, WoodpeckerRbacRemove, NamespacesRemove)
PVS_DELETE: Entry = PvsDelete


def _build(name: str, entries: tuple[Entry, ...], settings: Settings) -> Plan:
    steps: list[Step] = []
    for entry in entries:
        if isinstance(entry, tuple):
            steps.append(PendingStep(*entry))
        else:
            steps.append(entry(settings))  # type: ignore[call-arg]
    return Plan(name, steps)


def install_plan(settings: Settings) -> Plan:
    return _build("install", INSTALL, settings)


def teardown_plan(settings: Settings, *, delete_pvs: bool = False) -> Plan:
    return _build("teardown", TEARDOWN + ((PVS_DELETE,) if delete_pvs else ()), settings)
