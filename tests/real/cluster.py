"""A real Kubernetes control plane on 127.0.0.1: etcd → kube-apiserver → controller-manager → scheduler → kwok.

Everything the product meets on the operator's cluster that lives in the control plane is the real program here:
RBAC with a SelfSubjectAccessReview, server-side apply, finalizers and asynchronous deletion, the namespace
controller, the PV binder, garbage collection, the Deployment/ReplicaSet/StatefulSet controllers and the
scheduler. kwok plays the kubelets: nodes named like the operator's (gremlin-1…4) whose pods become Running and
Ready, and whose exec requests run local programs (kwok's ClusterExec), so `kubectl exec`-style calls go the real
way: API server → kubelet endpoint → process.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.real.build import COMPONENTS
from tests.real.procs import Proc, free_port, wait_until

NODES = ("gremlin-1", "gremlin-2", "gremlin-3", "gremlin-4")
ADMIN_CONTEXT = "real"
LIMITED_CONTEXT = "real-limited"


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@dataclass
class Cluster:
    root: Path
    procs: dict[str, Proc] = field(default_factory=dict)
    api_port: int = 0
    etcd_port: int = 0
    kubelet_port: int = 0
    admin_token: str = "real-admin-token-0123456789"
    limited_token: str = "real-limited-token-0123456789"
    kwok_path: list[Path] = field(default_factory=list)  # dirs first on kwok's PATH: what pods "contain"
    _threads: list[threading.Thread] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _wakes: list[threading.Event] = field(default_factory=list)
    _streams: set[httpx.Response] = field(default_factory=set)  # the stand-ins' open watches
    _clients: dict[tuple[int, str | None], httpx.Client] = field(default_factory=dict)
    _ssl: ssl.SSLContext | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- files ---------------------------------------------------------------------------------------------
    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def ca_file(self) -> Path:
        return self.root / "apiserver-certs" / "apiserver.crt"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    def _write_kubeconfig(self) -> None:
        ca = base64.b64encode(self.ca_file.read_bytes()).decode()
        cfg = {
            "apiVersion": "v1", "kind": "Config", "current-context": ADMIN_CONTEXT,
            "clusters": [{"name": "real", "cluster": {"server": self.server, "certificate-authority-data": ca}}],
            "users": [{"name": "admin", "user": {"token": self.admin_token}},
                      {"name": "limited", "user": {"token": self.limited_token}}],
            "contexts": [{"name": ADMIN_CONTEXT, "context": {"cluster": "real", "user": "admin"}},
                         {"name": LIMITED_CONTEXT, "context": {"cluster": "real", "user": "limited"}}],
        }
        self.kubeconfig.write_text(yaml.safe_dump(cfg))
        self.kubeconfig.chmod(0o600)

    # --- start / stop --------------------------------------------------------------------------------------
    def start(self) -> Cluster:
        kube = COMPONENTS["kube"]
        kwok = COMPONENTS["kwok"]
        logs = self.root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self._keys()
        self.etcd_port, peer = free_port(), free_port()
        self.procs["etcd"] = Proc("etcd", [
            str(kube.binary("etcd")), "--name", "real", "--data-dir", str(self.root / "etcd"),
            "--listen-client-urls", f"http://127.0.0.1:{self.etcd_port}",
            "--advertise-client-urls", f"http://127.0.0.1:{self.etcd_port}",
            "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls",
            f"http://127.0.0.1:{peer}", "--initial-cluster", f"real=http://127.0.0.1:{peer}",
            "--listen-metrics-urls", f"http://127.0.0.1:{free_port()}",
            "--unsafe-no-fsync", "--log-level", "warn"], logs)
        wait_until("etcd", lambda: httpx.get(f"http://127.0.0.1:{self.etcd_port}/health", timeout=2)
                   .json().get("health") == "true", 60, [self.procs["etcd"]])
        self.api_port = free_port()
        self.start_apiserver()
        self._write_kubeconfig()
        admin_kc = self.root / "admin.kubeconfig"
        shutil.copy(self.kubeconfig, admin_kc)
        common = ["--kubeconfig", str(admin_kc), "--leader-elect=false", "--bind-address=127.0.0.1"]
        self.procs["controller-manager"] = Proc("controller-manager", [
            str(kube.binary("kube-controller-manager")), *common, f"--secure-port={free_port()}",
            f"--service-account-private-key-file={self.root / 'sa.key'}", f"--root-ca-file={self.ca_file}",
            "--concurrent-gc-syncs=5", "-v=1"], logs)
        self.procs["scheduler"] = Proc("scheduler", [
            str(kube.binary("kube-scheduler")), *common, f"--secure-port={free_port()}", "-v=1"], logs)
        self.kubelet_port = free_port()
        kwok_cfg = self._kwok_config(kwok.dir / "src")
        env = {"PATH": ":".join([*map(str, self.kwok_path), "/usr/local/bin", "/usr/bin", "/bin"]),
               "HOME": str(self.root)}
        self.procs["kwok"] = Proc("kwok", [
            str(kwok.binary("kwok")), "--kubeconfig", str(admin_kc), "-c", str(kwok_cfg),
            "--manage-all-nodes=true", "--node-ip=127.0.0.1", f"--node-port={self.kubelet_port}",
            f"--server-address=127.0.0.1:{self.kubelet_port}", "--cidr=10.244.0.1/16",
            f"--tls-cert-file={self.root / 'kubelet.crt'}", f"--tls-private-key-file={self.root / 'kubelet.key'}"],
            logs, env=env)
        for node in NODES:
            self.create(self.node(node))
        wait_until("nodes Ready", self._nodes_ready, 60, list(self.procs.values()))
        wait_until("the default ServiceAccount", lambda: self.get("/api/v1/namespaces/default/serviceaccounts/default")
                   is not None, 60, list(self.procs.values()))
        return self

    def start_apiserver(self) -> None:
        kube = COMPONENTS["kube"]
        self.procs["apiserver"] = Proc("apiserver", [
            str(kube.binary("kube-apiserver")), f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={self.api_port}",
            f"--cert-dir={self.root / 'apiserver-certs'}", "--authorization-mode=RBAC",
            f"--token-auth-file={self.root / 'tokens.csv'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={self.root / 'sa.pub'}",
            f"--service-account-signing-key-file={self.root / 'sa.key'}",
            "--service-cluster-ip-range=10.96.0.0/16", "--allow-privileged=true",
            "--kubelet-preferred-address-types=InternalIP", "--profiling=false", "-v=1"], self.root / "logs")
        wait_until("kube-apiserver /readyz", lambda: self._ready(), 120, [self.procs["apiserver"], self.procs["etcd"]])

    def stop_apiserver(self) -> None:
        self.procs.pop("apiserver").stop()

    def stop(self) -> None:
        self._stop.set()
        for wake in self._wakes:
            wake.set()
        with self._lock:  # watches still open hold kube-apiserver's graceful stop for its whole grace (10 s)
            streams, self._streams = list(self._streams), set()
        for resp in streams:  # shut at the socket: closing the response does not wake a thread blocked reading it
            with contextlib.suppress(Exception):
                resp.extensions["network_stream"].get_extra_info("socket").shutdown(socket.SHUT_RDWR)
        for name in ("kwok", "scheduler", "controller-manager", "apiserver", "etcd"):
            if name in self.procs:
                self.procs.pop(name).stop()
        for t in self._threads:
            t.join(5)
        self._close_clients()

    def _keys(self) -> None:
        r = self.root
        _openssl("genrsa", "-out", str(r / "sa.key"), "2048")
        _openssl("rsa", "-in", str(r / "sa.key"), "-pubout", "-out", str(r / "sa.pub"))
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(r / "kubelet.key"), "-out",
                 str(r / "kubelet.crt"), "-days", "2", "-subj", "/CN=kwok", "-addext", "subjectAltName=IP:127.0.0.1")
        (r / "tokens.csv").write_text(f'{self.admin_token},admin,admin,"system:masters"\n'
                                      f"{self.limited_token},limited,limited\n")

    def _kwok_config(self, kwok_src: Path) -> Path:
        docs: list[Any] = [{"apiVersion": "config.kwok.x-k8s.io/v1alpha1", "kind": "KwokConfiguration",
                            "options": {"podPlayStageParallelism": 8, "nodePlayStageParallelism": 4,
                                        "enableDebuggingHandlers": True,  # the kubelet API: exec
                                        # Node leases: the node lifecycle controller sees live kubelets
                                        # (and lifts the not-ready taint admission puts on new nodes).
                                        "nodeLeaseDurationSeconds": 40, "nodeLeaseParallelism": 4}}]
        stages = kwok_src / "kustomize" / "stage"
        node_init = stages / "node" / "fast" / "node-initialize.yaml"
        for f in [node_init, *sorted((stages / "pod" / "fast").glob("pod-*.yaml"))]:
            docs += [d for d in yaml.safe_load_all(f.read_text()) if d]
        # Every pod's exec runs here, in the pod's "image": the directories on kwok's PATH (see kwok_path).
        docs.append({"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterExec", "metadata": {"name": "local"},
                     "spec": {"execs": [{"local": {"workDir": str(self.root)}}]}})
        path = self.root / "kwok.yaml"
        path.write_text(yaml.safe_dump_all(docs))
        return path

    @staticmethod
    def node(name: str) -> dict:
        return {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "annotations": {"kwok.x-k8s.io/node": "fake"},
                             "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                        "node-role.kubernetes.io/control-plane": "true",
                                        "node-role.kubernetes.io/etcd": "true", "type": "kwok"}},
                "spec": {}}

    def _nodes_ready(self) -> bool:
        items = (self.get("/api/v1/nodes") or {}).get("items", [])
        ready = [n for n in items if any(c["type"] == "Ready" and c["status"] == "True"
                                         for c in n.get("status", {}).get("conditions", []))]
        return len(ready) == len(NODES)

    # --- a tiny admin client for fixtures (the product uses its own) ----------------------------------------
    @contextlib.contextmanager
    def _client(self, token: str | None = None) -> Any:
        """A keep-alive client per thread and token. A new TLS context and handshake per request made the
        stand-ins' polling (several loops, several requests a second) cost half a core of the two, in this process
        and in kube-apiserver, while the product was being measured and tested on the same machine."""
        key = (threading.get_ident(), token)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                if self._ssl is None:
                    self._ssl = ssl.create_default_context(cafile=str(self.ca_file))
                client = httpx.Client(base_url=self.server, verify=self._ssl, timeout=10,
                                      headers={"Authorization": f"Bearer {token or self.admin_token}"})
                self._clients[key] = client
        try:
            yield client
        except httpx.TransportError:
            with self._lock:
                self._clients.pop(key, None)
            client.close()
            raise

    def _close_clients(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def _ready(self) -> bool:
        if not self.ca_file.exists():
            return False
        try:
            with self._client() as c:
                return c.get("/readyz").status_code == 200
        except httpx.TransportError:
            return False

    def get(self, path: str) -> dict | None:
        with self._client() as c:
            r = c.get(path)
        if r.status_code == 404:
            return None
        r.raise_for_status()
        return r.json()

    def create(self, obj: dict) -> dict:
        return self.apply(obj)

    def apply(self, obj: dict, *, status: bool = False) -> dict:
        path = self.path_of(obj) + ("/status" if status else "")
        with self._client() as c:
            r = c.patch(path, params={"fieldManager": "real-tier", "force": "true"}, content=json.dumps(obj),
                        headers={"Content-Type": "application/apply-patch+yaml"})
        if r.status_code >= 400:
            raise RuntimeError(f"apply {path}: {r.status_code} {r.text[:300]}")
        return r.json()

    def delete(self, path: str) -> int:
        with self._client() as c:
            return c.delete(path).status_code

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        with self._client() as c:
            return c.request(method, path, **kw)

    _PLURAL = {"Node": "nodes", "Namespace": "namespaces", "StorageClass": "storageclasses",
               "IngressClass": "ingressclasses", "PersistentVolume": "persistentvolumes",
               "PersistentVolumeClaim": "persistentvolumeclaims",
               "CustomResourceDefinition": "customresourcedefinitions",
               "ClusterIssuer": "clusterissuers", "Secret": "secrets", "ConfigMap": "configmaps"}

    def path_of(self, obj: dict) -> str:
        api = obj["apiVersion"]
        base = f"/api/{api}" if "/" not in api else f"/apis/{api}"
        ns = obj["metadata"].get("namespace")
        plural = self._PLURAL.get(obj["kind"]) or obj["kind"].lower() + "s"
        return f"{base}{'/namespaces/' + ns if ns else ''}/{plural}/{obj['metadata']['name']}"

    def wait_gone(self, path: str, timeout: float = 60) -> None:
        wait_until(f"{path} deleted", lambda: self.get(path) is None, timeout)

    # --- background helpers --------------------------------------------------------------------------------
    def loop(self, name: str, every: float, fn: Any, *, watch: tuple[str, ...]) -> None:
        """Run `fn` in a thread until the cluster stops (a stand-in controller), as an informer-driven controller
        reconciles: when one of the `watch` collections changes (and on each watch's start, every WATCH_SECONDS at
        most: its resync), then no sooner than `every` seconds after its last run — or after the seconds it
        returns, for what it waits on the clock (a finalizer held a moment). Polling every collection several times
        a second (~40 lists a second) cost this process and kube-apiserver a fifth of a core, idle, beside the
        product being measured."""
        wake = threading.Event()
        wake.set()  # a first run, whatever is there
        self._wakes.append(wake)  # and a last one, to see the cluster stopping
        for path in watch:
            t = threading.Thread(target=self._watch, args=(path, wake), name=f"{name} watch {path}", daemon=True)
            t.start()
            self._threads.append(t)

        def run() -> None:
            again: float | None = None
            while True:
                wake.wait(again)
                wake.clear()
                if self._stop.is_set():
                    return
                again = None
                with contextlib.suppress(Exception):
                    again = fn()
                if self._stop.wait(every):  # at most one run per `every`, however many events
                    return

        t = threading.Thread(target=run, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    WATCH_SECONDS = 30

    def _watch(self, path: str, wake: threading.Event) -> None:
        """Watch a collection (from its current state: the server first sends every object as ADDED) and wake the
        loop on every event; started again when the server ends it, or after a second when it cannot (a kind
        whose CRD is not there yet answers 404)."""
        while not self._stop.is_set():
            resp: httpx.Response | None = None
            try:
                with self._client() as c, c.stream(
                        "GET", path, params={"watch": "true", "timeoutSeconds": str(self.WATCH_SECONDS)},
                        timeout=httpx.Timeout(10, read=self.WATCH_SECONDS + 15)) as resp:
                    if resp.status_code != 200:
                        self._stop.wait(1.0)
                        continue
                    with self._lock:
                        self._streams.add(resp)
                    for line in resp.iter_lines():
                        if line:
                            wake.set()
                        if self._stop.is_set():
                            return
            except Exception:
                self._stop.wait(1.0)
            finally:
                if resp is not None:
                    with self._lock:
                        self._streams.discard(resp)

    def wait_time(self) -> float:
        return time.monotonic()
