"""The operator's world on the real programs: the control plane, ARC installed by the real helm, Gitea, the chart
repository, and the network services outside the cluster. `World.cli()` runs `stonks-tui` as an operator does."""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import httpx

from tests.real import standins
from tests.real.build import COMPONENTS
from tests.real.cluster import ADMIN_CONTEXT, Cluster
from tests.real.gitea import Gitea

REPO = Path(__file__).resolve().parents[2]
CHARTS = Path(__file__).resolve().parent / "charts"
ADMIN_PASSWORD = "Real-tier-admin-pw-1"
PASSPHRASE = "real-tier-keyring"


def helm_binary(which: str = "helm") -> Path:
    return COMPONENTS[which].binary("helm")


# The real CRDs (../shared/upstream/crds, as the upstream charts ship them) replace the test charts' permissive
# ones when the charts are packaged: the API server then validates, defaults and prunes what the install writes.
REAL_CRDS = {"kargo": "kargo-v1.11.0", "argo-cd": "argo-cd-7.9.1", "argo-rollouts": "argo-rollouts-2.39.6",
             "gha-runner-scale-set-controller": "arc-gha-0.12.1"}


def with_real_crds(charts: Path, into: Path) -> Path:
    from tests.conftest import SHARED

    source = SHARED / "upstream" / "crds"
    if not source.is_dir():
        raise RuntimeError(f"{source} is missing: the tier installs the real CRDs from ../shared/upstream")
    shutil.rmtree(into, ignore_errors=True)
    shutil.copytree(charts, into)
    for chart, crds in REAL_CRDS.items():
        (into / chart / "templates" / "crds.yaml").unlink(missing_ok=True)
        target = into / chart / "crds"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        for crd in sorted((source / crds).glob("*.yaml")):
            shutil.copy2(crd, target / crd.name)  # crds/: installed as they are, never templated
    return into


class ChartRepo:
    """A classic helm repository on 127.0.0.1: the test charts packaged and indexed by the real helm."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / "repo"
        self.server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> ChartRepo:
        self.dir.mkdir(parents=True, exist_ok=True)
        handler = partial(_QuietHandler, directory=str(self.dir))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        helm = str(helm_binary())
        env = {**os.environ, "HOME": str(self.root), "HELM_CACHE_HOME": str(self.root / "cache")}
        for chart in sorted(with_real_crds(CHARTS, self.root / "charts").iterdir()):
            subprocess.run([helm, "package", str(chart), "-d", str(self.dir)], check=True, capture_output=True,
                           env=env)
        subprocess.run([helm, "repo", "index", str(self.dir), "--url", self.url], check=True, capture_output=True,
                       env=env)
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def tgz(self, name: str) -> str:
        found = sorted(self.dir.glob(f"{name}-[0-9]*.tgz"))
        return f"{self.url}/{found[-1].name}"

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


class GiteaRepos:
    """What the Woodpecker stand-in needs of its forge, read from the real Gitea's API."""

    def __init__(self, url: str) -> None:
        self.url = url

    @property
    def state(self) -> dict[str, Any]:
        try:
            r = httpx.get(f"{self.url}/api/v1/repos/search", params={"limit": 50},
                          auth=("gitea_admin", ADMIN_PASSWORD), timeout=5)
            repos = r.json().get("data", []) if r.status_code == 200 else []
        except httpx.HTTPError:
            repos = []
        return {"repos": {str(x["id"]): {"id": x["id"], "owner": x["owner"]["login"], "name": x["name"],
                                         "private": x["private"]} for x in repos}}

    def read_commit(self, owner: str, name: str, branch: str) -> tuple[str, str] | None:
        """(head commit, .woodpecker.yml) of a branch, from the real Gitea's API, as Woodpecker's forge reads them."""
        auth = ("gitea_admin", ADMIN_PASSWORD)
        head = httpx.get(f"{self.url}/api/v1/repos/{owner}/{name}/branches/{branch}", auth=auth, timeout=10)
        if head.status_code != 200:
            return None
        sha = head.json()["commit"]["id"]
        config = httpx.get(f"{self.url}/api/v1/repos/{owner}/{name}/raw/.woodpecker.yml", params={"ref": sha},
                           auth=auth, timeout=10)
        return sha, config.text if config.status_code == 200 else ""

    def add_hook(self, owner: str, name: str, config: dict[str, str], events: list[str]) -> None:
        """Woodpecker's activation registers its webhook in the real Gitea (as the repository's admin)."""
        r = httpx.post(f"{self.url}/api/v1/repos/{owner}/{name}/hooks", auth=("gitea_admin", ADMIN_PASSWORD),
                       json={"type": "gitea", "config": config, "events": events, "active": True}, timeout=10)
        r.raise_for_status()


@dataclass
class World:
    root: Path
    charts: ChartRepo
    helm: str = "helm"  # which helm build the product runs
    gitea_installed: bool = False
    arc: bool = True
    rollouts: bool = True  # Argo Rollouts installed (the design's AnalysisTemplate needs its CRDs)
    # Gitea's [webhook] ALLOWED_HOST_LIST: the stand-in Woodpecker listens on loopback, which Gitea's default
    # ("external") refuses; the operator's Gitea must allow its ingress address the same way.
    webhook_hosts: str = "loopback"
    cluster: Cluster = field(init=False)
    gitea: Gitea | None = field(init=False, default=None)
    extras: list[Any] = field(default_factory=list)

    def start(self) -> World:
        from stonks_tui.sim.services import NfsPort, RegistrySim

        self.bin = self.root / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        (self.bin / "helm").symlink_to(helm_binary(self.helm))
        self.gitea = Gitea(self.root / "gitea", installed=self.gitea_installed, webhook_hosts=self.webhook_hosts)
        kwok_path = [self.root / "pod-bin"]
        self.cluster = Cluster(self.root / "cluster", kwok_path=kwok_path)
        self.cluster.root.mkdir(parents=True)
        t0 = time.monotonic()
        self.gitea.start()
        self.gitea.su_shim(kwok_path[0])
        t1 = time.monotonic()
        self.cluster.start()
        t2 = time.monotonic()
        standins.start_all(self.cluster, arc=True)
        from tests.real.kargo_webhooks import KargoWebhooks

        self.kargo_webhooks = KargoWebhooks(self.cluster).start()  # served once the Kargo chart's server is up
        self.extras.append(self.kargo_webhooks)
        for obj in standins.preconditions():
            self.cluster.apply(obj)
        self._wait_crd("clusterissuers.cert-manager.io")
        for obj in standins.issuers():
            self.cluster.apply(obj)
        # Network services outside the cluster: the registry (registry:2's /v2/) and the NAS's NFS port.
        self.registry = RegistrySim()
        self.registry.server.start()
        self.nfs = NfsPort().start()
        self.extras += [self.registry.server, self.nfs]
        # Woodpecker: its server cannot be built here (the module proxy refuses go.woodpecker-ci.org, 403), so the
        # simulator's Woodpecker API stands in, reading repositories from the real Gitea, answering only once the
        # real woodpecker-server StatefulSet is ready. Its sign-in is the real OAuth exchange with the real Gitea,
        # with the client the install put in the cluster's Secret: the install gets its token through it.
        from stonks_tui.sim.woodpecker import WoodpeckerSim

        self.woodpecker = WoodpeckerSim(GiteaRepos(self.gitea.url), self._woodpecker_ready,  # type: ignore[arg-type]
                                        forge=self._woodpecker_forge)
        self.woodpecker.server.start()
        self.extras.append(self.woodpecker.server)
        from stonks_tui.sim.services import ArgoCDSim  # Argo CD's UI /healthz: no Argo CD runs on kwok either

        self.argocd = ArgoCDSim(lambda: self._ready("Deployment", "argocd", "argocd-server"))
        self.argocd.server.start()
        self.extras.append(self.argocd.server)
        if self.arc:
            self.install_arc()
        if self.rollouts:
            self.helm_cmd("install", "argo-rollouts", self.charts.tgz("argo-rollouts"), "-n", "argo-rollouts",
                          "--create-namespace", "--timeout", "2m")
        print(f"world: gitea {t1 - t0:.1f} s, control plane {t2 - t1:.1f} s, preconditions and ARC "
              f"{time.monotonic() - t2:.1f} s", file=sys.stderr)
        return self

    def restart_gitea(self) -> None:
        """Gitea restarted as its pod would be after an app.ini change (the pod's exec follows the new process)."""
        assert self.gitea is not None
        self.gitea.restart()
        self.gitea.su_shim(self.root / "pod-bin")

    def _woodpecker_forge(self) -> dict[str, Any] | None:
        """Woodpecker's forge settings as its server has them: the real StatefulSet's env and the Secret it reads."""
        import base64

        sts = self.cluster.get("/apis/apps/v1/namespaces/woodpecker/statefulsets/woodpecker-server") or {}
        containers = (((sts.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or [{}]
        env = {e["name"]: str(e.get("value", "")) for e in containers[0].get("env") or [] if "value" in e}
        secret = self.cluster.get("/api/v1/namespaces/woodpecker/secrets/woodpecker-gitea-oauth") or {}
        env.update({k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()})
        if not env.get("WOODPECKER_GITEA_CLIENT") or self.gitea is None:
            return None
        return {"client_id": env["WOODPECKER_GITEA_CLIENT"], "client_secret": env.get("WOODPECKER_GITEA_SECRET", ""),
                "gitea_url": self.gitea.url, "oauth_host": env.get("WOODPECKER_EXPERT_FORGE_OAUTH_HOST", ""),
                "host": env.get("WOODPECKER_HOST", ""), "open": env.get("WOODPECKER_OPEN") == "true",
                "admins": env.get("WOODPECKER_ADMIN", "").split(","),
                "repo_owners": [o for o in env.get("WOODPECKER_REPO_OWNERS", "").split(",") if o.strip()]}

    def _woodpecker_ready(self) -> bool:
        return self._ready("StatefulSet", "woodpecker", "woodpecker-server")

    def _ready(self, kind: str, ns: str, name: str) -> bool:
        obj = self.cluster.get(f"/apis/apps/v1/namespaces/{ns}/{kind.lower()}s/{name}") or {}
        return int(obj.get("status", {}).get("readyReplicas") or 0) >= 1

    def _wait_crd(self, name: str) -> None:
        from tests.real.procs import wait_until

        def established() -> bool:
            crd = self.cluster.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}") or {}
            return any(c["type"] == "Established" and c["status"] == "True"
                       for c in crd.get("status", {}).get("conditions", []))

        wait_until(f"CRD {name}", established, 30)

    def install_arc(self) -> None:
        """ARC as the operator has it: its two releases, installed by the real helm."""
        self.helm_cmd("install", "arc", self.charts.tgz("gha-runner-scale-set-controller"), "-n", "arc-systems",
                      "--create-namespace", "--wait", "--timeout", "2m")
        self.helm_cmd("install", "arc-runner-set", self.charts.tgz("gha-runner-scale-set"), "-n", "arc-runners",
                      "--create-namespace", "--timeout", "2m")

    def stop(self) -> None:
        for x in self.extras:
            for name in ("stop", "shutdown"):
                if hasattr(x, name):
                    getattr(x, name)()
                    break
        if hasattr(self, "cluster"):
            self.cluster.stop()
        if self.gitea:
            self.gitea.stop()

    # --- running things as the operator does ----------------------------------------------------------------
    @cached_property
    def state(self) -> Path:
        return self.root / "state"

    @cached_property
    def clone(self) -> Path:
        from stonks_tui.sim.clone import make_clone

        return make_clone(self.root / "stonks-oracle")


    def env(self, **extra: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("STONKS_", "KUBE", "HELM_"))}
        base.update({
            "PATH": f"{self.bin}:{os.environ.get('PATH', '/usr/bin:/bin')}", "HOME": str(self.root / "home"),
            "KUBECONFIG": str(self.cluster.kubeconfig), "PYTHONUNBUFFERED": "1",
            "STONKS_KEYRING_PASSPHRASE": PASSPHRASE, "STONKS_GITEA_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "PYTHON_KEYRING_BACKEND": "keyrings.cryptfile.cryptfile.CryptFileKeyring",
            # Settings: every endpoint on loopback; charts from the test chart repository.
            "STONKS_GITEA_PUBLIC_URL": "http://127.0.0.1:3000", "STONKS_LOCAL_CLONE": str(self.clone),
            "STONKS_REGISTRY_URL": self.registry.server.url, "STONKS_REGISTRY_HOST": "127.0.0.1:30500",
            "STONKS_REGISTRY_INSECURE": "true", "STONKS_NFS_SERVER": "127.0.0.1",
            "STONKS_NFS_PORT": str(self.nfs.port), "STONKS_WOODPECKER_URL": self.woodpecker.server.url,
            "STONKS_ARGOCD_URL": self.argocd.server.url, "STONKS_HELM_TIMEOUT": "3m",
            "STONKS_WOODPECKER_CHART": self.charts.tgz("woodpecker"), "STONKS_KARGO_CHART": self.charts.tgz("kargo"),
            "STONKS_ARGOCD_CHART_REPO": self.charts.url,
        })
        (self.root / "home").mkdir(exist_ok=True)
        base.update(extra)
        return base

    def cli(self, *args: str, timeout: float = 600, env: dict[str, str] | None = None,
            context: str = ADMIN_CONTEXT) -> subprocess.CompletedProcess:
        argv = [sys.executable, "-m", "stonks_tui", "--state-dir", str(self.state), "--context", context, *args]
        started = time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env or self.env(),
                              cwd=REPO, stdin=subprocess.DEVNULL)
        proc.seconds = time.monotonic() - started  # type: ignore[attr-defined]
        return proc

    def spawn(self, *args: str, env: dict[str, str] | None = None, log: Path | None = None) -> subprocess.Popen:
        argv = [sys.executable, "-m", "stonks_tui", "--state-dir", str(self.state), "--context", ADMIN_CONTEXT, *args]
        out = open(log or self.root / "spawn.log", "w")  # noqa: SIM115 - the child owns it
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, text=True, env=env or self.env(),
                                cwd=REPO, stdin=subprocess.DEVNULL, start_new_session=True)

    def engine_pid(self, context: str = ADMIN_CONTEXT) -> int:
        """The engine process doing the run for `context`, from its own record (engine.json)."""
        import json

        from stonks_tui.journal import safe_name

        return int(json.loads((self.state / safe_name(context) / "engine.json").read_text())["pid"])

    def helm_cmd(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        env = self.env()
        proc = subprocess.run([str(self.bin / "helm"), *args, "--kube-context", ADMIN_CONTEXT], capture_output=True,
                              text=True, env=env, timeout=300)
        if check and proc.returncode:
            raise RuntimeError(f"helm {' '.join(args)}: {proc.stderr or proc.stdout}")
        return proc


def rmtree(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)  # nothing is mounted outside namespaces
    shutil.rmtree(path, ignore_errors=True)
