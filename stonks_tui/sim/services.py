"""Simulated Woodpecker server, Argo CD UI, container registry and NFS port, all on 127.0.0.1.

Woodpecker and Argo CD answer only while their workloads are ready in the simulated cluster, as a real
ingress would (503 otherwise): the product's verify sees the same cause and effect as on a real cluster.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import socket
import threading
from collections.abc import Callable
from typing import Any

from stonks_tui.sim.faults import Faults
from stonks_tui.sim.gitea import GiteaSim
from stonks_tui.sim.http import Handler, LoopbackServer

WOODPECKER_VERSION = "3.17.0"


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class WoodpeckerSim:
    def __init__(self, gitea: GiteaSim, ready: Callable[[], bool], faults: Faults | None = None,
                 port: int = 0) -> None:
        self.gitea = gitea
        self.ready = ready
        self.faults = faults
        self.hang_seconds = 30.0
        self.traffic: list[tuple[str, str]] = []
        self.deliveries: list[dict[str, Any]] = []  # what Gitea delivered to /api/hook
        self.lock = threading.RLock()
        self.state: dict[str, Any] = {"tokens": {}, "repos": {}, "secrets": {}, "next_id": 1}
        self.on_change: list[Callable[[], None]] = []
        self.server = LoopbackServer(WoodpeckerHandler, self, port)

    def mint_token(self, login: str) -> str:
        """The personal token an operator creates in the UI after the first OAuth login through Gitea."""
        value = "wp_" + secrets.token_urlsafe(24)
        with self.lock:
            self.state["tokens"][_hash(value)] = login
        self.changed()
        return value

    def changed(self) -> None:
        for hook in self.on_change:
            hook()


class WoodpeckerHandler(Handler):
    fault_target = "woodpecker"

    def do_GET(self) -> None:
        self.dispatch(self.route)

    do_POST = do_PATCH = do_DELETE = do_GET

    def route(self) -> None:
        app: WoodpeckerSim = self.app
        path, query = self.parsed()
        if not app.ready():
            return self.reply(503, b"no available server", "text/plain")
        if path == "/healthz":
            return self.reply(204)
        if path == "/version":
            return self.reply_json(200, {"source": "https://github.com/woodpecker-ci/woodpecker",
                                         "version": WOODPECKER_VERSION})
        if path in ("/", "/login"):
            return self.reply(200, b"<html><title>Woodpecker</title></html>", "text/html")
        if path == "/api/hook" and self.command == "POST":
            body = self.body_bytes()
            with app.lock:
                app.deliveries.append({"event": self.headers.get("X-Gitea-Event", ""), "size": len(body)})
            return self.reply(200, b"", "text/plain")
        auth = self.headers.get("Authorization", "")
        login = app.state["tokens"].get(_hash(auth[7:])) if auth.startswith("Bearer ") else None
        if login is None:
            return self.reply(401, b"Unauthorized", "text/plain")
        with app.lock:
            return self.api(app, login, path, query)

    def api(self, app: WoodpeckerSim, login: str, path: str, query: dict[str, str]) -> None:
        method = self.command
        gitea_repos = [r for r in app.gitea.state["repos"].values() if r["owner"].lower() == login.lower()]
        if path == "/api/user" and method == "GET":
            return self.reply_json(200, {"id": 1, "login": login, "admin": True})
        if path == "/api/user/repos" and method == "GET":
            out = []
            for r in gitea_repos:
                active = app.state["repos"].get(str(r["id"]))
                out.append({"id": active["id"] if active else 0, "forge_remote_id": str(r["id"]),
                            "owner": r["owner"], "name": r["name"], "full_name": f"{r['owner']}/{r['name']}",
                            "private": r["private"], "active": bool(active)})
            return self.reply_json(200, out)
        if path == "/api/repos" and method == "POST":
            # Woodpecker's PostRepo: no id 400; active 409; an id its forge does not know 500 (forge.Repo fails).
            rid = query.get("forge_remote_id", "")
            if not rid or rid == "0":
                return self.reply(400, b"No forge_remote_id provided", "text/plain")
            if rid in app.state["repos"]:
                return self.reply(409, b"Repository is already active.", "text/plain")
            if not any(str(r["id"]) == rid for r in gitea_repos):
                return self.reply(500, b"Could not fetch repository from forge.", "text/plain")
            repo = next(r for r in gitea_repos if str(r["id"]) == rid)
            # Activation registers Woodpecker's webhook in the forge (forge/gitea Activate).
            hook_token = secrets.token_urlsafe(16)
            app.gitea.add_hook(repo["owner"], repo["name"], {"url": f"{app.server.url}/api/hook?access_token="
                                                                    f"{hook_token}", "secret": hook_token,
                                                             "content_type": "json"},
                               ["push", "create", "pull_request"])
            rec = {"id": app.state["next_id"], "forge_remote_id": rid, "full_name": f"{repo['owner']}/{repo['name']}",
                   "active": True}
            app.state["next_id"] += 1
            app.state["repos"][rid] = rec
            app.changed()
            return self.reply_json(200, rec)
        m = re.fullmatch(r"/api/repos/(\d+)/secrets(?:/([^/]+))?", path)
        if m:
            rid = int(m.group(1))
            if not any(r["id"] == rid for r in app.state["repos"].values()):
                return self.reply(404, b"repo not found", "text/plain")
            store = app.state["secrets"].setdefault(str(rid), {})
            if method == "GET" and not m.group(2):
                return self.reply_json(200, [{k: v for k, v in s.items() if k != "value_hash"}
                                             for s in store.values()])
            body = json.loads(self.body_bytes() or b"{}")
            if method in ("POST", "PATCH"):
                # Woodpecker lower-cases names; Validate() fails 422 (no event); a duplicate is the store's
                # UNIQUE constraint, 500 — not a 409.
                name = (m.group(2) or body.get("name", "")).lower()
                if method == "PATCH" and name not in store:
                    return self.reply(404, b"secret not found", "text/plain")
                if not body.get("events") and method == "POST":
                    return self.reply(422, b"Error inserting secret. invalid secret event: no event specified",
                                      "text/plain")
                if method == "POST" and name in store:
                    return self.reply(500, f'Error inserting secret "{name}". UNIQUE constraint failed: '
                                           "secrets.repo_id, secrets.name".encode(), "text/plain")
                sec = store.get(name, {"id": len(store) + 1, "name": name})
                sec.update({"events": body.get("events", sec.get("events", [])),
                            "images": body.get("images", sec.get("images", [])), "note": body.get("note", "")})
                if "value" in body:
                    sec["value_hash"] = _hash(body["value"])
                store[name] = sec
                app.changed()
                return self.reply_json(200, {k: v for k, v in sec.items() if k != "value_hash"})
        return self.reply(404, b"not found", "text/plain")


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
        self.server = LoopbackServer(RegistryHandler, self, port)


class RegistryHandler(Handler):
    fault_target = "registry"

    def do_GET(self) -> None:
        self.dispatch(self.route)

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
