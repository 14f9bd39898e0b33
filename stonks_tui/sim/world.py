"""The simulated world: cluster, Gitea, Woodpecker, Argo CD, registry and NFS port on 127.0.0.1.

Profiles:
  fresh-homelab  the operator's cluster as it really is (FACTS, last section): Gitea deployed but not
                 initialised, registry:2 on NodePort 30500, ARC installed with its finalizers, ...
  gitea-installed  Gitea already initialised (chart-installed, with an admin)
  harbor         the registry answers 401 + WWW-Authenticate (credentials needed)
  no-rollouts    the fresh homelab without Argo Rollouts (no AnalysisTemplate kind)
  webhook-default  the fresh homelab whose Gitea keeps its default webhook allow list (external addresses only)
State persists atomically to <dir>/world.json on every change and is reloaded on the next start.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from stonks_tui.fsutil import atomic_write_text
from stonks_tui.sim import arc
from stonks_tui.sim.controllers import Controllers
from stonks_tui.sim.faults import Faults
from stonks_tui.sim.gitea import HOMELAB_APP_INI, GiteaSim
from stonks_tui.sim.jobs import JobController
from stonks_tui.sim.kargo import KargoSim
from stonks_tui.sim.kinds import crd
from stonks_tui.sim.kube_api import KubeApi
from stonks_tui.sim.services import ArgoCDSim, NfsPort, RegistrySim
from stonks_tui.sim.store import Store
from stonks_tui.sim.woodpecker import WoodpeckerSim
from stonks_tui.sim.woodpecker_pipelines import Pipelines

PROFILES = ("fresh-homelab", "gitea-installed", "harbor", "no-rollouts", "webhook-default", "legacy-arc")
ARC_FINALIZERS = ("actions.github.com/cleanup-protection", "autoscalingrunnerset.actions.github.com/finalizer",
                  "ephemeralrunner.actions.github.com/finalizer", "ephemeralrunnerset.actions.github.com/finalizer",
                  "autoscalinglistener.actions.github.com/finalizer")
NOT_IN_IMAGE = -1  # the exec's executable is not in the container: the runtime cannot start it at all
SIM_TOKEN = "sim-kube-token"  # the simulated API server's bearer token (not a secret of the operator's)


def overrides_for(ports: dict[str, int]) -> dict[str, Any]:
    """The settings that point the product at a world listening on these ports (a world keeps them across
    starts, so a saved world's ports say where it will be)."""
    url = "http://127.0.0.1:{}".format
    return {"gitea_public_url": url(ports.get("gitea", 9)), "gitea_api_url": url(ports.get("gitea", 9)),
            "woodpecker_url": url(ports.get("woodpecker", 9)), "argocd_url": url(ports.get("argocd", 9)),
            "registry_url": url(ports.get("registry", 9)), "nfs_server": "127.0.0.1", "nfs_port": ports.get("nfs", 9)}


def saved_ports(directory: Path) -> dict[str, int]:
    try:
        return dict(json.loads((Path(directory) / "world.json").read_text()).get("ports") or {})
    except (OSError, ValueError, AttributeError):
        return {}


class WorldBusy(RuntimeError):
    """Another process runs the simulated world of this directory."""


class WorldDamaged(RuntimeError):
    """The saved world cannot be loaded."""


def sim_speed(environ: dict[str, str] | None = None) -> float:
    env = os.environ if environ is None else environ
    try:
        return max(0.0, float(env.get("STONKS_SIM_SPEED", "1")))
    except ValueError:
        return 1.0


def helm_release_secret(name: str, namespace: str, revision: int, chart: str, version: str, app_version: str,
                        values: dict, resources: list[dict], status: str = "deployed") -> dict:
    """A Helm 3 release record as the real `helm` stores it: Secret data = base64(gzip(json(release)))."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    release = {"name": name, "namespace": namespace, "version": revision,
               "info": {"status": status, "first_deployed": now, "last_deployed": now,
                        "description": "Install complete" if revision == 1 else "Upgrade complete"},
               "chart": {"metadata": {"name": chart, "version": version, "appVersion": app_version}},
               "config": values, "manifest": "", "sim_resources": resources}
    payload = base64.b64encode(gzip.compress(json.dumps(release).encode())).decode()
    return {"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
            "metadata": {"name": f"sh.helm.release.v1.{name}.v{revision}", "namespace": namespace,
                         "labels": {"owner": "helm", "name": name, "status": status, "version": str(revision)}},
            "data": {"release": base64.b64encode(payload.encode()).decode()}}


def decode_release(secret: dict) -> dict:
    payload = base64.b64decode(secret["data"]["release"])  # the Secret's own base64 layer
    return json.loads(gzip.decompress(base64.b64decode(payload)))


class World:
    def __init__(self, directory: Path, *, profile: str = "fresh-homelab", speed: float | None = None,
                 faults: str | None = None) -> None:
        if profile not in PROFILES:
            raise ValueError(f"unknown simulated world profile {profile!r}; choose one of {', '.join(PROFILES)}")
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._hold_directory()
        self.profile = profile
        self.speed = sim_speed() if speed is None else speed
        spec = os.environ.get("STONKS_SIM_FAULTS", "") if faults is None else faults
        self.faults = Faults(spec, self.dir / "fault-counters.json")
        ports = self._saved_ports()
        self.store = Store(self.speed)
        self.kube = KubeApi(self.store, self.faults, ports.get("kube", 0))
        self.gitea = GiteaSim(self.dir, installed=profile == "gitea-installed", faults=self.faults,
                              speed=self.speed, port=ports.get("gitea", 0),
                              app_ini=HOMELAB_APP_INI.split("[webhook]")[0] if profile == "webhook-default"
                              else HOMELAB_APP_INI)
        nfs_refused = lambda subject: self.faults.check("nfs", subject) is not None  # noqa: E731
        self.controllers = Controllers(self.store, repo_exists=self.gitea.repo_exists_for_url,
                                       repo_head=self.gitea.repo_head_for_url, nfs_refused=nfs_refused)
        self.woodpecker = WoodpeckerSim(self.gitea, lambda: self._ready("woodpecker", "statefulsets",
                                                                         "woodpecker-server"), self.faults,
                                        ports.get("woodpecker", 0), forge=self._woodpecker_forge)
        # The switch that has the admin enrolled in two-factor authentication: the token's fallback path.
        if os.environ.get("STONKS_SIM_GITEA_2FA") == "1":
            self.gitea.web.require_2fa.add("*")
        self.argocd = ArgoCDSim(lambda: self._ready("argocd", "deployments", "argocd-server"), ports.get("argocd", 0))
        self.registry = RegistrySim(harbor=profile == "harbor", faults=self.faults, port=ports.get("registry", 0))
        # The delivery chain: pipelines push to the registry, Kargo's Warehouse finds the image there.
        self.woodpecker.pipelines = Pipelines(self.registry.push, self.faults, self.speed, self.woodpecker.changed)
        self.kargo = KargoSim(self.store, self.registry.tag_list,
                              lambda: self._ready("kargo", "deployments", "kargo-controller"),
                              management_ready=lambda: self._ready("kargo", "deployments",
                                                                   "kargo-management-controller"))
        self.registry.on_push.append(self.kargo.poke)
        self.nfs = NfsPort(ports.get("nfs", 0))
        self._save_lock = threading.Lock()
        self._dirty = threading.Event()
        self._stopping = False
        self._saver = threading.Thread(target=self._save_loop, name="sim-saver", daemon=True)
        self._loaded = False
        self.store.on_change.append(lambda etype, kind, obj: arc.controller(
            self.store, lambda: self._ready("arc-systems", "deployments", "arc-gha-rs-controller"), etype, kind, obj))
        self.jobs = JobController(self.store, nfs_refused, delay=max(0.3 * self.speed, 0.05))
        if profile == "legacy-arc":
            from stonks_tui.sim import arc_legacy

            self.store.on_change.append(lambda etype, kind, obj: arc_legacy.controller(
                self.store, lambda: self._ready(arc_legacy.NAMESPACE, "deployments", arc_legacy.CONTROLLER), etype,
                kind, obj))
        self.kube.exec_handler = self._exec

    # -- lifecycle ----------------------------------------------------------------------------------------
    def _hold_directory(self) -> None:
        """One world per directory: a second one (a refused second `--demo install`) must not rewrite its
        kubeconfig or state file under the first."""
        import fcntl

        self._dir_fd: int | None = os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(self._dir_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._dir_fd)
            self._dir_fd = None
            raise WorldBusy(f"the simulated world in {self.dir} is in use by another process") from None

    def _release_directory(self) -> None:
        if self._dir_fd is not None:
            os.close(self._dir_fd)  # closing drops the flock
            self._dir_fd = None

    @property
    def state_file(self) -> Path:
        return self.dir / "world.json"

    def _saved_ports(self) -> dict[str, int]:
        return saved_ports(self.dir)

    def ports(self) -> dict[str, int]:
        return {"kube": self.kube.server.server_address[1], "gitea": self.gitea.server.server_address[1],
                "woodpecker": self.woodpecker.server.server_address[1],
                "argocd": self.argocd.server.server_address[1],
                "registry": self.registry.server.server_address[1], "nfs": self.nfs.port}

    def start(self) -> World:
        from stonks_tui.fsutil import remove_stale_temps

        remove_stale_temps(self.state_file)  # a killed run's half-written state: only one world runs per dir
        if self.state_file.exists():
            self.load()
        else:
            self.seed()
        for server in (self.kube.server, self.gitea.server, self.woodpecker.server, self.argocd.server,
                       self.registry.server):
            server.start()
        self.nfs.start()
        self.store.persist = self.save
        self.gitea.on_change.append(self.save)
        self.woodpecker.on_change.append(self.save)
        self.registry.on_push.append(self.save)
        self.flush()
        self._saver.start()
        self.write_kubeconfig()
        # Controllers catch up with whatever was in flight when a previous run died.
        self.store.scheduler.after(0, self.controllers.resync)
        self.store.scheduler.after(0, self.kargo.poke)
        self.store.scheduler.after(0.05, self.kargo.manage_projects)
        return self

    def stop(self) -> None:
        self.store.persist = None
        self._stopping = True
        self._dirty.set()
        if self._saver.is_alive():
            self._saver.join(5)
        self.flush()
        for server in (self.kube.server, self.gitea.server, self.woodpecker.server, self.argocd.server,
                       self.registry.server):
            server.stop()
        self.nfs.stop()
        self.store.scheduler.stop()
        self._release_directory()

    def __enter__(self) -> World:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- endpoints ----------------------------------------------------------------------------------------
    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig"

    def write_kubeconfig(self) -> None:
        text = (f"apiVersion: v1\nkind: Config\ncurrent-context: stonks-demo\n"
                f"clusters:\n- name: stonks-demo\n  cluster:\n    server: {self.kube.server.url}\n"
                f"contexts:\n- name: stonks-demo\n  context:\n    cluster: stonks-demo\n    user: stonks-demo\n"
                f"users:\n- name: stonks-demo\n  user:\n    token: {SIM_TOKEN}\n")
        atomic_write_text(self.kubeconfig, text)

    def settings_overrides(self) -> dict[str, Any]:
        """Where the product must look in this world: every endpoint on 127.0.0.1."""
        return overrides_for(self.ports())

    # -- persistence --------------------------------------------------------------------------------------
    def save(self) -> None:
        """Mark the world changed. Called under component locks, so it only flags: the saver thread writes,
        taking each component's lock on its own (never nested: nesting them deadlocked)."""
        self._dirty.set()

    def _save_loop(self) -> None:
        while not self._stopping:
            self._dirty.wait()
            self._dirty.clear()
            if not self._stopping:
                self.flush()

    def flush(self) -> None:
        with self._save_lock:
            kube = self.store.snapshot()
            gitea = self.gitea.snapshot()
            with self.woodpecker.lock, self.woodpecker.pipelines.lock:
                woodpecker = json.loads(json.dumps(self.woodpecker.state))
                pipelines = json.loads(json.dumps(self.woodpecker.pipelines.state))
            with self.registry.lock:
                registry = json.loads(json.dumps({"images": self.registry.images,
                                                  "manifests": self.registry.manifests}))
            data = {"format": "stonks-tui-sim-world", "version": 1, "profile": self.profile, "ports": self.ports(),
                    "kube": kube, "gitea": gitea, "woodpecker": woodpecker, "pipelines": pipelines,
                    "registry": registry}
            atomic_write_text(self.state_file, json.dumps(data))

    def load(self) -> None:
        try:
            data = json.loads(self.state_file.read_text())
            self.store.restore(data["kube"])
            self.gitea.restore(data["gitea"])
            self.woodpecker.state.update(data.get("woodpecker") or {})
            self.registry.images.update((data.get("registry") or {}).get("images") or {})
            self.registry.manifests.update((data.get("registry") or {}).get("manifests") or {})
            self.woodpecker.pipelines.state.update(data.get("pipelines") or {})
            self.woodpecker.pipelines.interrupted()
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
            raise WorldDamaged(f"{self.state_file} is not a simulated world this version can load "
                               f"({type(exc).__name__}: {str(exc)[:80]})") from None
        self._loaded = True

    # -- behaviour ----------------------------------------------------------------------------------------
    def _ready(self, ns: str, plural: str, name: str) -> bool:
        kind = self.store.kinds[("apps", "v1", plural)]
        obj = self.store.find(kind, ns, name)
        if obj is None:
            return False
        want = int((obj.get("spec") or {}).get("replicas", 1))
        return int((obj.get("status") or {}).get("readyReplicas") or 0) >= want > 0

    def _woodpecker_forge(self) -> dict[str, Any] | None:
        """Woodpecker's forge settings as its server process has them: the environment of the woodpecker-server
        StatefulSet (values) and of the woodpecker-gitea-oauth Secret (envFrom). The cluster-internal Gitea URL
        resolves, as cluster DNS would, to the simulated Gitea."""
        sts_kind = self.store.kinds[("apps", "v1", "statefulsets")]
        secret_kind = self.store.kinds[("", "v1", "secrets")]
        with self.store.lock:
            sts = next((o for (_, name), o in self.store.objects[sts_kind.key].items()
                        if name == "woodpecker-server"), None)
            if sts is None:
                return None
            ns = sts["metadata"]["namespace"]
            container = ((sts["spec"].get("template") or {}).get("spec") or {}).get("containers", [{}])[0]
            env = {e["name"]: str(e.get("value", "")) for e in container.get("env") or [] if "name" in e}
            for ref in container.get("envFrom") or []:
                name = (ref.get("secretRef") or {}).get("name", "")
                secret = self.store.objects[secret_kind.key].get((ns, name))
                for key, value in ((secret or {}).get("data") or {}).items():
                    env[key] = base64.b64decode(value).decode()
        if not env.get("WOODPECKER_GITEA_CLIENT"):
            return None
        return {"client_id": env["WOODPECKER_GITEA_CLIENT"], "client_secret": env.get("WOODPECKER_GITEA_SECRET", ""),
                "gitea_url": self.gitea.server.url,
                "oauth_host": env.get("WOODPECKER_EXPERT_FORGE_OAUTH_HOST") or self.gitea.server.url,
                "host": env.get("WOODPECKER_HOST", ""), "open": env.get("WOODPECKER_OPEN") == "true",
                "admins": env.get("WOODPECKER_ADMIN", "").split(","),
                "repo_owners": [o for o in env.get("WOODPECKER_REPO_OWNERS", "").split(",") if o.strip()]}

    def _exec(self, ns: str, pod: str, argv: list[str], read_line: Any) -> tuple[int, str, str]:
        """What the simulated pods can run: the gitea CLI's `admin user create`, as user git (FACTS)."""
        import shlex

        if not (ns == "git-server" and pod.startswith("gitea")):
            return NOT_IN_IMAGE, "", ""
        if argv[:3] != ["su", "git", "-c"] or len(argv) != 4:
            if argv[:1] == ["gitea"]:
                return 1, "", "Gitea is not supposed to be run as root. Sorry.\n"
            return NOT_IN_IMAGE, "", ""
        script = argv[3]
        if script == 'cat "${GITEA_APP_INI:-/data/gitea/conf/app.ini}"':
            return 0, self.gitea.state.get("app_ini", HOMELAB_APP_INI), ""
        if script.startswith("read -r L; grep -rqF"):
            read_line()
            return 1, "", ""  # the image's trust store holds the public CAs only
        variables: dict[str, str] = {}
        if script.startswith("read -r P; "):
            variables["P"] = read_line()
            script = script[len("read -r P; "):]
        words = shlex.split(script.removeprefix("exec "))
        if words[:4] != ["gitea", "admin", "user", "create"]:
            return 1, "", f"unknown command: {' '.join(words[:4])}\n"
        opts: dict[str, str | bool] = {}
        for word in words[4:]:
            key, eq, value = word.partition("=")
            opts[key] = value if eq else True
        args = iter(words[4:])
        for word in args:
            if word in ("--username", "--email", "--password"):
                opts[word] = next(args, "")
        password = str(opts.get("--password", ""))
        if password == "$P":
            password = variables.get("P", "")
        user = str(opts.get("--username", ""))
        if not user or not password or not opts.get("--email"):
            return 1, "", "Command error: --username, --email and --password are required\n"
        if user.lower() in self.gitea.state["users"]:
            return 1, "", f"Command error: CreateUser: user already exists [name: {user}]\n"
        must_change = str(opts.get("--must-change-password", "true")).lower() != "false"
        self.gitea.add_user(user, password, str(opts["--email"]), admin=bool(opts.get("--admin")),
                            must_change_password=must_change)
        return 0, f"New user '{user}' has been successfully created!\n", ""

    # -- the initial world --------------------------------------------------------------------------------
    def _create(self, api_version: str, kind_name: str, obj: dict, ns: str = "") -> dict:
        kind = self.store.kind_by_name(api_version, kind_name)
        return self.store.create(kind, ns, obj, manager="homelab")

    def seed(self) -> None:
        c = self._create
        for i in range(1, 5):
            c("v1", "Node", {"metadata": {"name": f"gremlin-{i}", "labels": {
                "node-role.kubernetes.io/control-plane": "true", "node-role.kubernetes.io/etcd": "true"}},
                "status": {"nodeInfo": {"kubeletVersion": "v1.36.0+k3s1", "osImage": "NixOS 25.11"}}})
        for ns in ("default", "kube-system", "cert-manager", "git-server", "stonks-oracle", "arc-systems",
                   "arc-runners"):
            c("v1", "Namespace", {"metadata": {"name": ns}})
        c("networking.k8s.io/v1", "IngressClass", {"metadata": {"name": "traefik", "annotations": {
            "ingressclass.kubernetes.io/is-default-class": "true"}},
            "spec": {"controller": "traefik.io/ingress-controller"}})
        c("storage.k8s.io/v1", "StorageClass", {"metadata": {"name": "longhorn", "annotations": {
            "storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "driver.longhorn.io",
            "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate", "allowVolumeExpansion": True})
        c("storage.k8s.io/v1", "StorageClass", {"metadata": {"name": "local-path"},
                                               "provisioner": "rancher.io/local-path", "reclaimPolicy": "Delete",
                                               "volumeBindingMode": "WaitForFirstConsumer"})
        c("apiextensions.k8s.io/v1", "CustomResourceDefinition",
          crd("cert-manager.io", "clusterissuers", "ClusterIssuer", namespaced=False, version="v1"))
        for plural, kind in (("autoscalingrunnersets", "AutoscalingRunnerSet"), ("ephemeralrunnersets",
                             "EphemeralRunnerSet"), ("ephemeralrunners", "EphemeralRunner"),
                             ("autoscalinglisteners", "AutoscalingListener")):
            c("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd("actions.github.com", plural, kind))
        # Argo Rollouts, installed on its own (the design's AnalysisTemplate needs it; Kargo's chart lacks it).
        if self.profile != "no-rollouts":
            for plural, kind, ns in (("analysistemplates", "AnalysisTemplate", True),
                                     ("analysisruns", "AnalysisRun", True),
                                     ("clusteranalysistemplates", "ClusterAnalysisTemplate", False)):
                c("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd("argoproj.io", plural, kind,
                                                                             namespaced=ns))
        for issuer in ("ca-issuer", "celestium-le-production"):
            c("cert-manager.io/v1", "ClusterIssuer", {"metadata": {"name": issuer}, "spec": {"ca": {
                "secretName": f"{issuer}-key"}} if issuer == "ca-issuer" else {"acme": {
                    "server": "https://acme-v02.api.letsencrypt.org/directory"}},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
        self._deployment("cert-manager", "cert-manager", "quay.io/jetstack/cert-manager-controller:v1.16.2")
        # Gitea and the registry as the operator's plain manifests have them (FACTS).
        self._deployment("git-server", "gitea", "gitea/gitea:latest", labels={"app": "gitea"})
        c("v1", "Service", {"metadata": {"name": "gitea-service", "labels": {"app": "gitea"}},
                            "spec": {"type": "NodePort", "selector": {"app": "gitea"}, "ports": [
                                {"name": "http", "port": 3000, "targetPort": 3000, "nodePort": 30300},
                                {"name": "ssh", "port": 22, "targetPort": 22, "nodePort": 30022}]}}, "git-server")
        self._deployment("git-server", "registry", "registry:2", labels={"app": "registry"})
        c("v1", "Service", {"metadata": {"name": "registry-service", "labels": {"app": "registry"}},
                            "spec": {"type": "NodePort", "selector": {"app": "registry"}, "ports": [
                                {"name": "http", "port": 5000, "targetPort": 5000, "nodePort": 30500}]}},
          "git-server")
        # ARC: controller in arc-systems, a runner scale set in arc-runners, their finalizers, RBAC and PV.
        self._deployment("arc-systems", "arc-gha-rs-controller",
                         "ghcr.io/actions/gha-runner-scale-set-controller:0.9.3",
                         labels={"app.kubernetes.io/name": "gha-rs-controller"}, release="arc")
        c("v1", "ServiceAccount", {"metadata": {"name": "arc-gha-rs-controller"}}, "arc-systems")
        c("actions.github.com/v1alpha1", "AutoscalingRunnerSet", {
            "metadata": {"name": "arc-runner-set", "finalizers": ["autoscalingrunnerset.actions.github.com/finalizer"],
                         "labels": {"app.kubernetes.io/managed-by": "Helm"},
                         "annotations": {"meta.helm.sh/release-name": "arc-runner-set"}},
            "spec": {"githubConfigUrl": "https://github.com/celesrenata/stonks-oracle", "maxRunners": 4}},
          "arc-runners")
        c("actions.github.com/v1alpha1", "EphemeralRunnerSet", {
            "metadata": {"name": "arc-runner-set-x7k2p",
                         "finalizers": ["ephemeralrunnerset.actions.github.com/finalizer"]},
            "spec": {"replicas": 1}}, "arc-runners")
        c("actions.github.com/v1alpha1", "EphemeralRunner", {
            "metadata": {"name": "arc-runner-set-x7k2p-runner-abcde",
                         "finalizers": ["ephemeralrunner.actions.github.com/finalizer"]}, "spec": {}}, "arc-runners")
        c("actions.github.com/v1alpha1", "AutoscalingListener", {
            "metadata": {"name": "arc-runner-set-754b578d-listener",
                         "finalizers": ["autoscalinglistener.actions.github.com/finalizer"]}, "spec": {}},
          "arc-systems")
        c("v1", "ServiceAccount", {"metadata": {"name": "arc-runner-set-gha-rs-no-permission",
                                                "finalizers": ["actions.github.com/cleanup-protection"]}},
          "arc-runners")
        c("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", {
            "metadata": {"name": "arc-runner-inttest", "labels": {"app.kubernetes.io/part-of": "arc"}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": "arc-runner-set-gha-rs-no-permission",
                          "namespace": "arc-runners"}]})
        c("v1", "PersistentVolume", {"metadata": {"name": "pipeline-arc-pv"}, "spec": {
            "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "nfs", "mountOptions": ["vers=4.1"],
            "nfs": {"server": "127.0.0.1", "path": "/volume1/Kubernetes/pipelines/arc"},
            "claimRef": {"namespace": "arc-runners", "name": "arc-work"}}})
        c("v1", "PersistentVolumeClaim", {"metadata": {"name": "arc-work"}, "spec": {
            "accessModes": ["ReadWriteMany"], "storageClassName": "nfs", "volumeName": "pipeline-arc-pv",
            "resources": {"requests": {"storage": "10Gi"}}}}, "arc-runners")
        for rel_name, rel_ns, chart, version in (("arc", "arc-systems", "gha-runner-scale-set-controller", "0.9.3"),
                                                 ("arc-runner-set", "arc-runners", "gha-runner-scale-set", "0.9.3")):
            resources = ([{"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "arc-systems",
                           "name": "arc-gha-rs-controller"},
                          {"apiVersion": "v1", "kind": "ServiceAccount", "namespace": "arc-systems",
                           "name": "arc-gha-rs-controller"}] if rel_name == "arc" else
                         [{"apiVersion": "actions.github.com/v1alpha1", "kind": "AutoscalingRunnerSet",
                           "namespace": "arc-runners", "name": "arc-runner-set"},
                          {"apiVersion": "v1", "kind": "ServiceAccount", "namespace": "arc-runners",
                           "name": "arc-runner-set-gha-rs-no-permission"}])
            c("v1", "Secret", helm_release_secret(rel_name, rel_ns, 1, chart, version, version, {}, resources),
              rel_ns)
        if self.profile == "legacy-arc":
            from stonks_tui.sim import arc_legacy

            arc_legacy.seed(c, crd, self._deployment, helm_release_secret)
        if self.profile == "gitea-installed":
            self.gitea.add_user("gitea_admin", "chart-admin-password-unknown", "gitea@local.domain", admin=True)

    def _deployment(self, ns: str, name: str, image: str, *, labels: dict | None = None,
                    release: str | None = None) -> None:
        labels = labels or {"app": name}
        meta: dict[str, Any] = {"name": name, "labels": dict(labels)}
        if release:
            meta["annotations"] = {"meta.helm.sh/release-name": release, "meta.helm.sh/release-namespace": ns}
            meta["labels"]["app.kubernetes.io/managed-by"] = "Helm"
        self._create("apps/v1", "Deployment", {"metadata": meta, "spec": {
            "replicas": 1, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": name, "image": image}]}}}},
            ns)
