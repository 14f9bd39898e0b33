"""Simulated Woodpecker server (v3.16.0, the app of chart 3.6.5) on 127.0.0.1.

It answers each call the product makes as the real server does — read in woodpecker-ci/woodpecker v3.16.0
(`server/api/{user,repo,repo_secret}.go`, `server/router/middleware/session/`) and checked against a build of it:
an empty list is JSON `null` (Go's nil slice), lists are paginated 50 a page, an inactive repository has no `id`
key (`omitempty`), secret names keep their case, a missing record is 404 with an empty body. It answers only while
its workload is ready in the simulated cluster, as a real ingress would (503 otherwise).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
from collections.abc import Callable
from typing import Any

from stonks_tui.sim.faults import Faults
from stonks_tui.sim.gitea import GiteaSim
from stonks_tui.sim.http import Handler, LoopbackServer
from stonks_tui.sim.woodpecker_login import Login
from stonks_tui.sim.woodpecker_pipelines import Pipelines

WOODPECKER_VERSION = "3.16.0"
PAGE_SIZE = 50  # session.Pagination: maxPageSize, and the default perPage
HOOK_EVENTS = ["push", "create", "pull_request", "release"]  # forge/gitea Activate


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def page_of(items: list[Any], query: dict[str, str]) -> list[Any] | None:
    """One page as session.Pagination cuts it (bad or out-of-range values fall back); [] becomes None (null)."""
    def number(key: str, default: int, top: int | None = None) -> int:
        try:
            value = int(query.get(key, ""))
        except ValueError:
            return default
        return default if value < 1 or (top is not None and value > top) else value
    page, per_page = number("page", 1), number("perPage", PAGE_SIZE, PAGE_SIZE)
    chunk = items[(page - 1) * per_page:page * per_page]
    return chunk or None


class WoodpeckerSim:
    def __init__(self, gitea: GiteaSim, ready: Callable[[], bool], faults: Faults | None = None,
                 port: int = 0, forge: Callable[[], dict[str, Any] | None] | None = None) -> None:
        self.gitea = gitea
        self.ready = ready
        self.faults = faults
        self.hang_seconds = 30.0
        self.traffic: list[tuple[str, str]] = []
        self.deliveries: list[dict[str, Any]] = []  # what Gitea delivered to /api/hook
        self.lock = threading.RLock()
        self.state: dict[str, Any] = {"repos": {}, "secrets": {}, "next_id": 1}
        self.on_change: list[Callable[[], None]] = []
        self.forge = forge or (lambda: None)
        self.server = LoopbackServer(WoodpeckerHandler, self, port)
        # Pipelines run from the repository's .woodpecker.yml; build steps push to the registry the world gives.
        self.pipelines = Pipelines(lambda path, tag: None, faults, 1.0, self.changed)

    def start_pipeline(self, rec: dict, author: str, event: str, branch: str) -> tuple[int, dict | None]:
        """(HTTP status, pipeline) for a pipeline of the Woodpecker repository `rec` on `branch`'s head."""
        owner, name = rec.get("full_name", "/").split("/", 1)
        try:
            head = self.gitea.read_commit(owner, name, branch)  # the forge: the simulated or (tier) the real Gitea
        except Exception:  # the forge failing is the server's "could not fetch branch head"
            head = None
        if head is None:
            return 500, None  # "could not fetch branch head"
        sha, config = head
        pipeline = self.pipelines.create(rec["id"], author, event, branch, sha, config)
        return (200, pipeline) if pipeline is not None else (204, None)

    @property
    def login(self) -> Login:
        """Users, sessions and tokens (woodpecker_login.py), on the state that is saved with the world."""
        return Login(self.state, self.forge, self.changed)

    def mint_token(self, login: str) -> str:
        """A user's personal token, as if they had signed in once (tests that start past the OAuth sign-in)."""
        with self.lock:
            return self.login.personal_token(self.login.user(login, admin=True))

    def changed(self) -> None:
        for hook in self.on_change:
            hook()


def secret_json(sec: dict[str, Any], repo_id: int) -> dict[str, Any]:
    """model.Secret.Copy(): no value; events sorted as text (WebhookEventList.Less); images null when none were
    given (a nil slice), as the real 3.16.0 answered."""
    return {"id": sec["id"], "org_id": 0, "repo_id": repo_id, "name": sec["name"], "images": sec.get("images"),
            "events": sorted(sec.get("events") or []), "note": sec.get("note", "")}


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
            return self.reply(204, b"", "")
        if path == "/version":
            return self.reply_json(200, {"source": "https://github.com/woodpecker-ci/woodpecker",
                                         "version": WOODPECKER_VERSION})
        if path in ("/", "/login"):
            return self.reply(200, b"<html><title>Woodpecker</title></html>", "text/html")
        if path == "/authorize" and self.command == "GET":
            with app.lock:
                status, headers = app.login.authorize(query)
            return self.reply(status, b"", "text/html; charset=utf-8", headers)
        if path == "/web-config.js" and self.command == "GET":
            with app.lock:
                text = app.login.web_config(self.headers.get("Cookie"))
            return self.reply(200, text.encode(), "text/javascript; charset=utf-8")
        if path == "/api/user/token" and self.command in ("POST", "DELETE"):
            return self.user_token(app)
        if path == "/api/hook" and self.command == "POST":
            body = self.body_bytes()
            event = self.headers.get("X-Gitea-Event", "")
            with app.lock:
                app.deliveries.append({"event": event, "size": len(body)})
                if event == "push":
                    return self.hook_push(app, body)
            return self.reply(200, b"", "text/plain")
        auth = self.headers.get("Authorization", "")
        with app.lock:
            user = app.login.from_token(auth[7:], ("user",)) if auth.startswith("Bearer ") else None
            if user is None:
                return self.reply(401, b"Unauthorized", "text/plain")
            return self.api(app, user["login"], path, query)

    def user_token(self, app: WoodpeckerSim) -> None:
        """POST: the signed-in user's personal token; DELETE: a new one (the old is refused from then on). A
        session (user_sess) needs the CSRF token of web-config.js; a Bearer token does not."""
        with app.lock:
            auth = self.headers.get("Authorization", "")
            user = app.login.from_token(auth[7:], ("user",)) if auth.startswith("Bearer ") else None
            if user is None:
                user = app.login.from_cookie(self.headers.get("Cookie"))
                if user is not None and not app.login.csrf_ok(user, self.headers.get("X-CSRF-TOKEN")):
                    return self.reply(401, b"Unauthorized", "text/plain; charset=utf-8")
            if user is None:
                return self.reply(401, b"User not authorized", "text/plain; charset=utf-8")
            token = app.login.personal_token(user) if self.command == "POST" else app.login.reset_token(user)
            return self.reply(200, token.encode(), "text/plain; charset=utf-8")

    def api(self, app: WoodpeckerSim, login: str, path: str, query: dict[str, str]) -> None:
        method = self.command
        # Gitea lists the repositories the user may push to and administer; the simulated Gitea's are the owner's.
        gitea_repos = [r for r in app.gitea.state["repos"].values() if r["owner"].lower() == login.lower()]
        if path == "/api/user" and method == "GET":
            return self.reply_json(200, {"id": 1, "login": login, "admin": True})
        if path == "/api/user/repos" and method == "GET":
            out = []
            for r in gitea_repos:
                known = app.state["repos"].get(str(r["id"]))
                item: dict[str, Any] = {"forge_remote_id": str(r["id"]), "owner": r["owner"], "name": r["name"],
                                        "full_name": f"{r['owner']}/{r['name']}", "private": r["private"],
                                        "active": bool(known and known.get("active", True))}
                if known:  # a repository enabled once keeps its id; one never enabled has none (omitempty)
                    item["id"] = known["id"]
                out.append(item)
            return self.reply_json(200, out or None)
        if path == "/api/repos" and method == "POST":
            return self.post_repo(app, gitea_repos, query)
        m = re.fullmatch(r"/api/repos/(\d+)/secrets(?:/([^/]+))?", path)
        if m:
            return self.repo_secrets(app, int(m.group(1)), m.group(2), query)
        m = re.fullmatch(r"/api/repos/(\d+)/((?:pipelines|logs)(?:/.*)?)", path)
        if m:
            return self.pipelines(app, login, int(m.group(1)), m.group(2))
        return self.reply(404, b"", "")

    def hook_push(self, app: WoodpeckerSim, body: bytes) -> None:
        """A push Gitea delivered: a pipeline for the pushed branch of the active repository it names."""
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return self.reply(400, b"failure to parse hook", "text/plain; charset=utf-8")
        rid = str((payload.get("repository") or {}).get("id", ""))
        rec = app.state["repos"].get(rid)
        ref = str(payload.get("ref", ""))
        if rec is None or not rec.get("active", True) or not ref.startswith("refs/heads/"):
            return self.reply(200, b"", "text/plain")
        sender = str((payload.get("pusher") or {}).get("login") or "")
        status, pipeline = app.start_pipeline(rec, sender, "push", ref.removeprefix("refs/heads/"))
        return self.reply_json(200, pipeline) if pipeline else self.reply(status, b"", "text/plain")

    def pipelines(self, app: WoodpeckerSim, login: str, rid: int, rest: str) -> None:
        rec = next((r for r in app.state["repos"].values() if r["id"] == rid), None)
        if rec is None:
            return self.reply(404, b"", "")
        if rest == "pipelines" and self.command == "POST":
            try:
                body = json.loads(self.body_bytes() or b"{}")
            except ValueError:
                return self.reply(400, b"", "text/plain")
            branch = str(body.get("branch") or "main")
            status, pipeline = app.start_pipeline(rec, login, "manual", branch)
            if status == 500:
                return self.reply(500, b"could not fetch branch head", "text/plain; charset=utf-8")
            return self.reply_json(200, pipeline) if pipeline else self.reply(204, b"", "text/plain")
        m = re.fullmatch(r"pipelines/(\d+)", rest)
        if m and self.command == "GET":
            with app.pipelines.lock:
                pipeline = app.pipelines.get(rid, int(m.group(1)))
                return self.reply_json(200, pipeline) if pipeline else self.reply(404, b"", "")
        m = re.fullmatch(r"logs/(\d+)/(\d+)", rest)
        if m and self.command == "GET":
            with app.pipelines.lock:
                return self.reply_json(200, app.pipelines.logs(int(m.group(2))))
        return self.reply(404, b"", "")

    def post_repo(self, app: WoodpeckerSim, gitea_repos: list[dict], query: dict[str, str]) -> None:
        # PostRepo: no id 400; active 409; an id its forge does not know 500 (forge.Repo fails).
        rid = query.get("forge_remote_id", "")
        if not rid or rid == "0":
            return self.reply(400, b"No forge_remote_id provided", "text/plain; charset=utf-8")
        known = app.state["repos"].get(rid)
        if known and known.get("active", True):
            return self.reply(409, b"Repository is already active.", "text/plain; charset=utf-8")
        repo = next((r for r in gitea_repos if str(r["id"]) == rid), None)
        if repo is None:
            return self.reply(500, b"Could not fetch repository from forge.", "text/plain; charset=utf-8")
        # WOODPECKER_REPO_OWNERS (services/permissions/repo_owners.go): empty allows every owner, else only those
        # (case-insensitive).
        owners = {o.strip().lower() for o in (app.forge() or {}).get("repo_owners") or () if o.strip()}
        if owners and repo["owner"].lower() not in owners:
            return self.reply(403, b"Repo owner is not allowed", "text/plain; charset=utf-8")
        # Activation registers Woodpecker's webhook in the forge (forge/gitea Activate).
        hook_token = secrets.token_urlsafe(16)
        app.gitea.add_hook(repo["owner"], repo["name"], {"url": f"{app.server.url}/api/hook?access_token="
                                                                f"{hook_token}", "secret": hook_token,
                                                         "content_type": "json"}, list(HOOK_EVENTS))
        rec = known or {"id": app.state["next_id"], "forge_remote_id": rid}
        if not known:
            app.state["next_id"] += 1
        rec.update({"full_name": f"{repo['owner']}/{repo['name']}", "owner": repo["owner"], "name": repo["name"],
                    "active": True})
        app.state["repos"][rid] = rec
        app.changed()
        return self.reply_json(200, rec)

    def repo_secrets(self, app: WoodpeckerSim, rid: int, name: str | None, query: dict[str, str]) -> None:
        method = self.command
        if not any(r["id"] == rid for r in app.state["repos"].values()):
            return self.reply(404, b"", "")  # session.SetRepo: AbortWithStatus, no body
        store: dict[str, dict] = app.state["secrets"].setdefault(str(rid), {})
        if method == "GET" and not name:
            ordered = sorted(store.values(), key=lambda s: s["name"])  # SecretList orders by name
            listed = page_of([secret_json(s, rid) for s in ordered], query)
            return self.reply_json(200, listed)
        if method == "GET":
            sec = store.get(name or "")
            return self.reply_json(200, secret_json(sec, rid)) if sec else self.reply(404, b"", "")
        if method == "DELETE":
            if store.pop(name or "", None) is None:
                return self.reply(404, b"", "")
            app.changed()
            return self.reply(204, b"", "text/plain")
        try:
            body = json.loads(self.body_bytes() or b"{}")
        except ValueError:
            return self.reply(400, b"Error parsing secret. invalid character", "text/plain; charset=utf-8")
        if method == "PATCH":
            sec = store.get(name or "")
            if sec is None:
                return self.reply(404, b"", "")  # handleDBError: AbortWithStatus
            if body.get("value"):
                sec["value_hash"] = _hash(body["value"])
            for key in ("events", "images"):
                if body.get(key) is not None:
                    sec[key] = body[key]
            if body.get("note") is not None:
                sec["note"] = body["note"]
            app.changed()
            return self.reply_json(200, secret_json(sec, rid))
        if method == "POST" and not name:
            # Validate(): a name and a value, at least one event (422); a duplicate is the store's UNIQUE
            # constraint, 500 — not a 409. 3.16 keeps the name's case.
            sec_name = body.get("name") or ""
            if not sec_name or not body.get("value"):
                return self.reply(422, b"Error inserting secret. name and value are required",
                                  "text/plain; charset=utf-8")
            if not body.get("events"):
                return self.reply(422, b"Error inserting secret. invalid secret event: no event specified",
                                  "text/plain; charset=utf-8")
            if sec_name in store:
                return self.reply(500, f'Error inserting secret "{sec_name}". on insert duplicate based on '
                                       "constraints was detected".encode(), "text/plain; charset=utf-8")
            app.state["next_secret_id"] = app.state.get("next_secret_id", 1) + 1
            sec = {"id": app.state["next_secret_id"] - 1, "name": sec_name,
                   "events": body["events"], "images": body.get("images"), "note": body.get("note", ""),
                   "value_hash": _hash(body["value"])}
            store[sec_name] = sec
            app.changed()
            return self.reply_json(200, secret_json(sec, rid))
        return self.reply(404, b"", "")
