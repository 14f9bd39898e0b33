"""Simulated Argo CD UI, container registry and NFS port, all on 127.0.0.1 (Woodpecker: sim/woodpecker.py).

Argo CD answers only while their workloads are ready in the simulated cluster, as a real
ingress would (503 otherwise): the product's verify sees the same cause and effect as on a real cluster.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable

from stonks_tui.sim.faults import Faults
from stonks_tui.sim.http import Handler, LoopbackServer


class ArgoCDSim:
    """The Argo CD UI/API behind its ingress: /healthz and /api/version once argocd-server is ready."""

    def __init__(self, ready: Callable[[], bool], port: int = 0) -> None:
        self.ready = ready
        self.faults = None
        self.traffic: list[tuple[str, str]] = []
        self.server = LoopbackServer(ArgoHandler, self, port)


class ArgoHandler(Handler):
    def do_GET(self) -> None:
        self.dispatch(self.route)

    def route(self) -> None:
        path, _ = self.parsed()
        if not self.app.ready():
            return self.reply(503, b"no available server", "text/plain")
        if path == "/healthz":
            return self.reply(200, b"ok", "text/plain")
        if path == "/api/version":
            return self.reply_json(200, {"Version": "v2.14.0+sim"})
        return self.reply(200, b"<html><title>Argo CD</title></html>", "text/html")


class RegistrySim:
    """registry:2 (plain HTTP, no auth) or, with harbor=True, a Harbor that wants credentials."""

    def __init__(self, *, harbor: bool = False, faults: Faults | None = None, port: int = 0) -> None:
        self.harbor = harbor
        self.faults = faults
        self.hang_seconds = 30.0
        self.traffic: list[tuple[str, str]] = []
        self.images: dict[str, list[str]] = {}
        # what was pushed: repository path -> tag -> {"digest", "at"} (registry:2 keeps a manifest per tag)
        self.manifests: dict[str, dict[str, dict]] = {}
        self.lock = threading.Lock()
        self.on_push: list[Callable[[], None]] = []
        self.server = LoopbackServer(RegistryHandler, self, port)

    def push(self, path: str, tag: str) -> None:
        """An image pushed (a build step): its manifest's digest differs per push, as a real build's does."""
        digest = "sha256:" + hashlib.sha256(f"{path}:{tag}:{time.time_ns()}".encode()).hexdigest()
        with self.lock:
            self.manifests.setdefault(path, {})[tag] = {"digest": digest, "at": time.time()}
            tags = self.images.setdefault(path, [])
            if tag not in tags:
                tags.append(tag)
        for hook in self.on_push:
            hook()

    def tag_list(self, path: str) -> list[tuple[str, str, float]]:
        with self.lock:
            return [(tag, m["digest"], m["at"]) for tag, m in (self.manifests.get(path) or {}).items()]


class RegistryHandler(Handler):
    fault_target = "registry"

    def do_GET(self) -> None:
        self.dispatch(self.route)

    do_HEAD = do_GET

    def route(self) -> None:
        app: RegistrySim = self.app
        path, _ = self.parsed()
        api = {"Docker-Distribution-API-Version": "registry/2.0"}
        if app.harbor and path == "/api/v2.0/systeminfo":
            return self.reply_json(200, {"harbor_version": "v2.11.0-sim", "auth_mode": "db_auth"})
        if app.harbor and path.startswith("/v2/"):
            return self.reply_json(401, {"errors": [{"code": "UNAUTHORIZED", "message": "unauthorized"}]},
                                   {**api, "WWW-Authenticate": f'Bearer realm="{self.server.url}/service/token",'
                                                               'service="harbor-registry"'})
        if path == "/v2/":
            return self.reply_json(200, {}, api)
        if path == "/v2/_catalog":
            return self.reply_json(200, {"repositories": sorted(app.images)}, api)
        m = re.fullmatch(r"/v2/(.+)/manifests/([^/]+)", path)
        if m:
            found = (app.manifests.get(m.group(1)) or {}).get(m.group(2))
            if found is None:
                return self.reply_json(404, {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown",
                                                         "detail": {"Tag": m.group(2)}}]}, api)
            body = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          "digest": found["digest"], "size": 2}, "layers": []}).encode()
            return self.reply(200, body, "application/vnd.oci.image.manifest.v1+json",
                              {**api, "Docker-Content-Digest": found["digest"]})
        m = re.fullmatch(r"/v2/(.+)/tags/list", path)
        if m and m.group(1) in app.images:
            return self.reply_json(200, {"name": m.group(1), "tags": app.images[m.group(1)]}, api)
        return self.reply_json(404, {"errors": [{"code": "NAME_UNKNOWN", "message": "repository name not known"}]},
                               api)


class NfsPort:
    """A TCP listener standing in for the NFS server's port 2049: preflight only checks reachability."""

    def __init__(self, port: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind(("127.0.0.1", port))
        except OSError:
            self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, name="sim-nfs", daemon=True)

    def start(self) -> NfsPort:
        self.thread.start()
        return self

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.close()

    def stop(self) -> None:
        self.sock.close()
