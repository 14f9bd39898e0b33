"""The install and teardown plans: the design's runmefirst.sh / runmelast.sh order as a DAG of steps.

Each entry is a step class, which carries its own id, title and needs. Needs follow real dependencies, not the
scripts' line order, so independent branches run concurrently.
"""

from __future__ import annotations

from stonks_tui.engine.plan import Plan
from stonks_tui.engine.step import Step
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
from stonks_tui.steps.repo import GiteaActionsRestore, RepoMigrate, RepoPush
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

Entry = type[Step]

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
                               WoodpeckerUninstall, WoodpeckerRbacRemove, NamespacesRemove, GiteaActionsRestore)
PVS_DELETE: Entry = PvsDelete


def _build(name: str, entries: tuple[Entry, ...], settings: Settings) -> Plan:
    return Plan(name, [entry(settings) for entry in entries])


def install_plan(settings: Settings) -> Plan:
    return _build("install", INSTALL, settings)


def teardown_plan(settings: Settings, *, delete_pvs: bool = False) -> Plan:
    return _build("teardown", TEARDOWN + ((PVS_DELETE,) if delete_pvs else ()), settings)
