"""How a run reaches the world — the Runtime (clients built lazily, once per run) — and what the world's facts
make of the settings. A floor below both steps and checks: each of them reaches the cluster through this."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stonks_tui.engine.step import StepContext
from stonks_tui.errors import StepFailed
from stonks_tui.render import ClusterFacts, Rendered, render
from stonks_tui.settings import Settings
from stonks_tui.words import bare_command


@dataclass
class Runtime:
    """How to reach the world: kubeconfig + context, the environment for helm/git, and where state lives."""

    context: str
    kubeconfig: str | None = None
    state_dir: Path | None = None
    env: dict[str, str] | None = None
    demo: bool = False
    # callable(question) -> bool, or -> awaitable bool (an engine process asks its clients), for the operator's
    # decisions mid-run; None = declined
    confirm: Any = None
    assume_yes: bool = False  # install --yes: consent to put back our own releases an interrupted run left pending
    # "`stonks-tui [--state-dir …] [--demo | --context …] <name>`": a hint the operator copies works where it was
    # shown (the session's options carried); the bare command when no session says otherwise.
    command: Any = None
    _clients: dict[str, Any] = field(default_factory=dict)
    # Readers of one picture of the world (a plan; a run's checks asked ahead of it, until something applies)
    # share what cannot change under them: one `helm list`, and which API groups the cluster does not serve.
    _one_picture: bool = False

    def one_picture(self, on: bool) -> None:
        self._one_picture = on
        for client in self._clients.values():
            share = getattr(client, "share", None)
            if share is not None:
                share(on)

    def cmd(self, name: str, *, ticks: bool = True) -> str:
        return (self.command or bare_command)(name, ticks=ticks)

    async def ask(self, question: str) -> bool:
        """The operator's yes to `question`: asked at the prompt, in the wizard, or across the engine's socket to
        whichever client answers first; no way to ask is a no."""
        if self.confirm is None:
            return False
        answer = self.confirm(question)
        if inspect.isawaitable(answer):
            answer = await answer
        return bool(answer)

    def kube(self) -> Any:
        if "kube" not in self._clients:
            from stonks_tui.clients.kube import KubeClient

            cache = self.state_dir / "cache" if self.state_dir else None
            self._clients["kube"] = KubeClient(self.kubeconfig, self.context, cache)
            self._clients["kube"].share(self._one_picture)
        return self._clients["kube"]

    def helm(self) -> Any:
        if "helm" not in self._clients:
            from stonks_tui.clients.helm import HelmClient

            self._clients["helm"] = HelmClient(kube_context=self.context, env=self.env)
            self._clients["helm"].share(self._one_picture)
        return self._clients["helm"]

    def gitea(self, settings: Settings) -> Any:
        if "gitea" not in self._clients:
            from stonks_tui.clients.gitea import GiteaClient

            self._clients["gitea"] = GiteaClient.from_settings(settings)
        return self._clients["gitea"]

    def woodpecker(self, settings: Settings, token: str) -> Any:
        from stonks_tui.clients.woodpecker import WoodpeckerClient

        return WoodpeckerClient(settings.effective_woodpecker_url, token)

    async def aclose(self) -> None:
        for client in self._clients.values():
            close = getattr(client, "aclose", None)
            if close is not None:
                await close()
            elif hasattr(client, "close"):
                client.close()
        self._clients.clear()


def runtime(ctx: StepContext) -> Runtime:
    rt = ctx.clients.get("runtime")
    if rt is None:
        raise StepFailed("no cluster runtime configured for this run", hint="this is a bug in stonks-tui")
    return rt


async def cluster_facts(ctx: StepContext) -> ClusterFacts:
    """Facts rendering depends on, read once per run: does the pipeline storage class do RWX? The read itself is
    what is kept: steps asking at once (a plan, checks asked ahead) listed the StorageClasses six times before
    the first answer was kept."""
    import asyncio

    cached = ctx.clients.get("facts")
    if cached is None or (cached.done() and (cached.cancelled() or cached.exception() is not None)):
        cached = ctx.clients["facts"] = asyncio.ensure_future(_read_facts(ctx))
    return await asyncio.shield(cached)


async def _read_facts(ctx: StepContext) -> ClusterFacts:
    from stonks_tui.render import RWX_PROVISIONERS

    kube = runtime(ctx).kube()
    name = ctx.settings.woodpecker_storage_class
    classes = await kube.list("storage.k8s.io/v1", "StorageClass")
    chosen = None
    for sc in classes:
        default = (sc["metadata"].get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class")
        if (name and sc["metadata"]["name"] == name) or (not name and default == "true"):
            chosen = sc
    rwx = bool(chosen) and any(p in (chosen or {}).get("provisioner", "") for p in RWX_PROVISIONERS)
    return ClusterFacts(rwx=rwx)


async def rendered(ctx: StepContext) -> Rendered:
    return render(ctx.settings, await cluster_facts(ctx))
