"""The simulated Gitea: installer mode, then the REST API subset the migration uses, and git smart-HTTP.

Behaviour follows ../shared/FACTS.md (Gitea 1.27): the install form always answers 200 and the real
server starts ~3 s later; tokens need basic auth and are shown once; OAuth app names are not unique and
their secret is unreadable after creation; PATCH rotates it; repos 201/409/422/500-with-leftovers.
Credentials are stored hashed, as Gitea does, so the persisted world never holds a secret in clear.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from stonks_tui.sim.faults import Faults
from stonks_tui.sim.gitea_web import Web, web_paths
from stonks_tui.sim.gitea_web import handle as web_handle
from stonks_tui.sim.http import Handler, LoopbackServer

GITEA_VERSION = "1.27.1"
RESERVED = {"admin", "api", "assets", "explore", "user", "login", "org", "repo", "new", "ghost", "v2", "search",
            "notifications", "issues", "pulls", "milestones", "raw", "attachments", "avatars", "captcha"}
INSTALL_FORM = """<!DOCTYPE html><html><head><title>Installation - Gitea: Git with a cup of tea</title></head>
<body><form action="/" method="post"><select name="db_type"><option value="sqlite3">SQLite3</option></select>
<input name="app_name"><input name="repo_root_path"><input name="run_user" value="git"><input name="domain">
<input name="http_port"><input name="app_url"><input name="log_root_path"><input name="admin_name">
<input name="admin_passwd" type="password"><input name="admin_confirm_passwd" type="password">
<input name="admin_email"></form></body></html>"""


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# The homelab's Gitea (gitea/gitea's rootful image; its chart writes app.ini). The operator allowed webhooks to the
# LAN and loopback; the profile "webhook-default" has Gitea's default instead (external addresses only).
HOMELAB_APP_INI = """\
APP_NAME = Gitea
RUN_USER = git
WORK_PATH = /data/gitea

[server]
HTTP_PORT = 3000
ROOT_URL = http://gitea-http.git-server.svc.cluster.local:3000/

[database]
DB_TYPE = sqlite3
PATH = /data/gitea/gitea.db

[security]
INSTALL_LOCK = false

[webhook]
ALLOWED_HOST_LIST = private, loopback
"""


class GiteaSim:
    def __init__(self, data_dir: Path, *, installed: bool = False, faults: Faults | None = None,
                 speed: float = 1.0, start_delay: float = 3.0, port: int = 0,
                 app_ini: str = HOMELAB_APP_INI) -> None:
        self.data_dir = data_dir
        self.repo_root = data_dir / "gitea-repos"
        self.faults = faults
        self.speed = speed
        self.start_delay = start_delay
        self.hang_seconds = 30.0
        self.lock = threading.RLock()
        self.traffic: list[tuple[str, str]] = []
        self.records: list[dict[str, Any]] = []  # full request/response records for contract tests
        self.state: dict[str, Any] = {"installed": installed, "install_pending_until": 0.0, "users": {},
                                      "tokens": [], "apps": [], "repos": {}, "next_ids": {}, "app_ini": app_ini}
        self.on_change: list[Any] = []
        self.web = Web()  # sign-in sessions, OAuth grants and codes (gitea_web.py)
        self.server = LoopbackServer(GiteaHandler, self, port)

    def record(self, exchange: dict[str, Any]) -> None:
        """Keep an API exchange for the contract tests; STONKS_SIM_RECORD=FILE also appends it there
        (test-only: responses carry freshly minted tokens, so never point it inside a state dir)."""
        self.records.append(exchange)
        target = os.environ.get("STONKS_SIM_RECORD")
        if target:
            import json

            with open(target, "a") as fh:
                fh.write(json.dumps(exchange) + "\n")

    # -- state helpers ------------------------------------------------------------------------------------
    def _id(self, table: str) -> int:
        # Each of Gitea's tables has its own autoincrement: a token minted again after a kill must not shift the
        # next repository's id (Woodpecker records it as forge_remote_id).
        ids = self.state.setdefault("next_ids", {})
        n = ids.get(table, 1)
        ids[table] = n + 1
        return n

    def changed(self) -> None:
        for hook in self.on_change:
            hook()

    def installed(self) -> bool:
        pending = self.state.get("install_pending_until", 0.0)
        if pending and time.time() >= pending:
            self.state["installed"] = True
            self.state["install_pending_until"] = 0.0
            self.changed()
        return bool(self.state["installed"])

    def add_user(self, login: str, password: str, email: str, *, admin: bool = False,
                 must_change_password: bool = False) -> dict:
        user = {"id": self._id("user"), "login": login, "email": email, "is_admin": admin, "password": _hash(password),
                "must_change_password": must_change_password, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ")}
        self.state["users"][login.lower()] = user
        self.changed()
        return user

    def user_json(self, user: dict) -> dict:
        return {"id": user["id"], "login": user["login"], "login_name": "", "full_name": "",
                "email": user["email"], "avatar_url": "", "html_url": f"{self.server.url}/{user['login']}",
                "language": "", "is_admin": user["is_admin"], "last_login": user["created"],
                "created": user["created"], "restricted": False, "active": True, "prohibit_login": False,
                "location": "", "website": "", "description": "", "visibility": "public", "followers_count": 0,
                "following_count": 0, "starred_repos_count": 0, "username": user["login"]}

    def repo_json(self, repo: dict) -> dict:
        owner = self.state["users"].get(repo["owner"].lower(), {"id": 0, "login": repo["owner"], "email": "",
                                                                  "is_admin": False, "created": ""})
        full = f"{repo['owner']}/{repo['name']}"
        return {"id": repo["id"], "owner": self.user_json(owner), "name": repo["name"], "full_name": full,
                "description": "", "empty": not self.repo_path(repo["owner"], repo["name"]).joinpath(
                    "refs/heads").exists() or not any(self.repo_path(repo["owner"], repo["name"]).joinpath(
                        "refs/heads").iterdir()),
                "private": repo["private"], "fork": False, "template": False, "mirror": False, "size": 0,
                "html_url": f"{self.server.url}/{full}", "ssh_url": f"ssh://git@127.0.0.1:30022/{full}.git",
                "clone_url": f"{self.server.url}/{full}.git", "default_branch": repo.get("default_branch", "main"),
                "created_at": repo["created"], "updated_at": repo["created"], "archived": False,
                # Gitea 1.27 enables the Actions unit of a new repository (DEFAULT_REPO_UNITS has repo.actions)
                "has_actions": repo.get("has_actions", True), "has_issues": True, "has_wiki": True,
                "has_pull_requests": True,
                "permissions": {"admin": True, "push": True, "pull": True}}

    def add_hook(self, owner: str, name: str, config: dict[str, str], events: list[str]) -> dict | None:
        """A repository webhook, as POST /repos/{owner}/{repo}/hooks makes it (Woodpecker's activation)."""
        with self.lock:
            repo = self.state["repos"].get(f"{owner.lower()}/{name.lower()}")
            if repo is None:
                return None
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ")
            hook = {"id": self._id("webhook"), "type": "gitea", "config": dict(config), "events": list(events),
                    "active": True, "branch_filter": "", "authorization_header": "", "created_at": now,
                    "updated_at": now}
            repo.setdefault("hooks", []).append(hook)
        self.changed()
        return hook

    @staticmethod
    def hook_json(hook: dict) -> dict:
        # Gitea's API hides the secret it was given (the config it returns has url and content_type only).
        return {**hook, "config": {k: v for k, v in hook["config"].items() if k in ("url", "content_type")}}

    def repo_path(self, owner: str, name: str) -> Path:
        return self.repo_root / owner.lower() / f"{name.lower()}.git"

    def repo_exists_for_url(self, url: str) -> bool:
        m = re.search(r"/([^/]+)/([^/]+?)(\.git)?/?$", url)
        return bool(m) and f"{m.group(1).lower()}/{m.group(2).lower()}" in self.state["repos"]

    def read_commit(self, owner: str, name: str, branch: str) -> tuple[str, str] | None:
        """(head commit, .woodpecker.yml) of a branch: what Woodpecker reads from its forge for a pipeline."""
        from stonks_tui.sim.woodpecker_pipelines import read_commit

        return read_commit(self.repo_path(owner, name), branch)

    def repo_head_for_url(self, url: str, rev: str) -> str:
        """The commit a revision (a branch, HEAD) of the repository at `url` points to, or ""."""
        m = re.search(r"/([^/]+)/([^/]+?)(\.git)?/?$", url)
        if not m:
            return ""
        path = self.repo_path(m.group(1), m.group(2))
        done = subprocess.run(["git", "--git-dir", str(path), "rev-parse", "--verify", "-q", f"{rev}^{{commit}}"],
                              capture_output=True, text=True, timeout=15)
        return done.stdout.strip() if done.returncode == 0 else ""

    def snapshot(self) -> dict:
        import json

        with self.lock:
            return json.loads(json.dumps(self.state))

    def restore(self, state: dict) -> None:
        with self.lock:
            self.state.update(state)
            self.sweep_orphan_repositories()

    def sweep_orphan_repositories(self) -> None:
        """Repository files without a record: what a world killed between `git init` and saving its state left.
        A real Gitea is not killed with its client — its request completes — so the simulated one goes back to
        before the request (the client's retry creates it) instead of keeping files Gitea would call leftovers."""
        import shutil

        known = {self.repo_path(r["owner"], r["name"]) for r in self.state["repos"].values()}
        for path in self.repo_root.glob("*/*.git") if self.repo_root.exists() else ():
            if path not in known:
                shutil.rmtree(path, ignore_errors=True)
        for path in self.repo_root.glob("*/.creating-*") if self.repo_root.exists() else ():
            shutil.rmtree(path, ignore_errors=True)

    # -- auth ---------------------------------------------------------------------------------------------
    def authenticate(self, header: str | None) -> tuple[dict | None, str, list[str]]:
        """(user, method, token scopes). method: '', 'basic', 'token'. Wrong credentials → (None, 'bad')."""
        if not header:
            return None, "", []
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            try:
                login, _, password = base64.b64decode(value).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None, "bad", []
            user = self.state["users"].get(login.lower())
            if user and user["password"] == _hash(password):
                return user, "basic", []
            # Gitea also accepts a token as the basic-auth password (that is how git pushes authenticate).
            tok = self._token(password)
            if tok and tok["user"].lower() == login.lower():
                return self.state["users"].get(login.lower()), "token", tok["scopes"]
            return None, "bad", []
        if scheme in ("token", "bearer"):
            tok = self._token(value.strip())
            if tok:
                return self.state["users"].get(tok["user"].lower()), "token", tok["scopes"]
            oauth_user = self.web.oauth_tokens.get(_hash(value.strip()))
            if oauth_user:  # an OAuth2 access token (Woodpecker's, for its user)
                return self.state["users"].get(oauth_user), "token", ["all"]
            return None, "bad", []
        return None, "bad", []

    def _token(self, value: str) -> dict | None:
        digest = _hash(value)
        return next((t for t in self.state["tokens"] if t["hash"] == digest), None)


def _scope_ok(scopes: list[str], need: str) -> bool:
    """Gitea scopes: write:x implies read:x; `all` covers everything."""
    if "all" in scopes:
        return True
    access, _, area = need.partition(":")
    return need in scopes or (access == "read" and f"write:{area}" in scopes)


class GiteaHandler(Handler):
    fault_target = "gitea"

    def do_GET(self) -> None:
        self.dispatch(self.route)

    do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = do_GET

    # The record of every API exchange, for the swagger contract test.
    def reply_json(self, code: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        path, _ = self.parsed()
        if path.startswith("/api/v1/"):
            self.app.record({"method": self.command, "path": path, "status": code,
                             "request": getattr(self, "_json_body", None), "response": obj})
        super().reply_json(code, obj, headers)

    def reply_empty(self, code: int = 204) -> None:
        path, _ = self.parsed()
        self.app.record({"method": self.command, "path": path, "status": code,
                         "request": getattr(self, "_json_body", None), "response": None})
        self.reply(code, b"", "text/plain")

    def error(self, code: int, message: str) -> None:
        self.reply_json(code, {"message": message, "url": f"{self.server.url}/api/swagger"})

    def json_body(self) -> Any:
        import json

        raw = self.body_bytes()
        try:
            self._json_body = json.loads(raw) if raw else {}
        except ValueError:
            self._json_body = None
        return self._json_body

    def route(self) -> None:
        app: GiteaSim = self.app
        path, query = self.parsed()
        with app.lock:
            if app.state.get("install_pending_until", 0.0) > time.time():
                # Real Gitea after the install form: the install server closes its listener and the installed
                # one starts some seconds later. Meanwhile nothing answers: drop the connection unanswered.
                self.close_connection = True
                return
            installed = app.installed()
            if path.endswith((".git/info/refs", ".git/git-upload-pack", ".git/git-receive-pack")):
                return self.git(path, query) if installed else self.reply(404, b"Not found", "text/plain")
            if path == "/api/healthz":
                body: dict[str, Any] = {"status": "pass", "description": "Gitea: Git with a cup of tea"}
                if installed:
                    body["checks"] = {"database:ping": [{"status": "pass", "time": "now"}],
                                      "cache:ping": [{"status": "pass", "time": "now"}]}
                return super().reply_json(200, body)
            if not installed:
                return self.installer(path)
            if path == "/":
                return self.reply(200, b"<html><title>Gitea</title><body>Explore</body></html>", "text/html")
            if path.startswith("/api/v1"):
                return self.api(path[len("/api/v1"):], query)
            if path in web_paths():
                return web_handle(self, path, query)
            self.reply(404, b"Not found", "text/html")

    # -- installer mode -----------------------------------------------------------------------------------
    def installer(self, path: str) -> None:
        app: GiteaSim = self.app
        if path.startswith("/api/v1"):
            # Gitea ≥1.19 answers unknown routes in install mode with a refreshing 404 page.
            return self.reply(404, b"<html>Installation in progress</html>", "text/html",
                              {"Refresh": "1; url=/"})
        if path == "/post-install":
            return self.reply(200, b"<html>Installation complete, Gitea is starting</html>", "text/html")
        if path == "/" and self.command == "GET":
            return self.reply(200, INSTALL_FORM.encode(), "text/html")
        if path == "/" and self.command == "POST":
            form = {k: v[-1] for k, v in parse_qs(self.body_bytes().decode(), keep_blank_values=True).items()}
            required = ["db_type", "app_name", "repo_root_path", "run_user", "domain", "http_port", "app_url",
                        "log_root_path"]
            problems = [f for f in required if not form.get(f)]
            if form.get("run_user") and form["run_user"] != "git":
                problems.append("run_user")
            admin = form.get("admin_name", "")
            if admin and (admin.lower() in RESERVED or form.get("admin_passwd") != form.get("admin_confirm_passwd")
                          or "@" not in form.get("admin_email", "")):
                problems.append("admin")
            if problems:
                # Always 200: the form comes back with an error flash, as the real installer does.
                msg = f"<div class='ui negative message'>Invalid: {', '.join(problems)}</div>"
                return self.reply(200, (msg + INSTALL_FORM).encode(), "text/html")
            if admin and admin.lower() not in app.state["users"]:
                app.add_user(admin, form["admin_passwd"], form["admin_email"], admin=True)
            # The form's checkbox becomes [service] REQUIRE_SIGNIN_VIEW: the API then refuses anonymous calls.
            app.state["require_signin_view"] = form.get("require_sign_in_view") == "on"
            # (an existing admin name is silently reused with its old password, as Gitea does)
            app.state["install_pending_until"] = time.time() + app.start_delay * app.speed
            app.changed()
            return self.reply(200, b"<html>Installation complete, Gitea is starting</html>", "text/html")
        self.reply(404, b"Not found", "text/html")

    # -- API ----------------------------------------------------------------------------------------------
    def api(self, path: str, query: dict[str, str]) -> None:
        app: GiteaSim = self.app
        method = self.command
        user, how, scopes = app.authenticate(self.headers.get("Authorization"))
        if how == "bad":
            return self.error(401, "user does not exist or password is incorrect")
        if user is None and app.state.get("require_signin_view"):
            # Real Gitea (1.27, REQUIRE_SIGNIN_VIEW=true): every anonymous API call, /version included.
            return self.error(403, "Only signed in user is allowed to call APIs.")
        if path == "/version" and method == "GET":
            return self.reply_json(200, {"version": GITEA_VERSION})
        if how == "bad":
            return self.error(401, "user does not exist or password is incorrect")
        if user is None:
            return self.error(401, "token is required")
        if user.get("must_change_password"):
            return self.error(403, "You must change your password. Change it at: "
                                   f"{self.server.url}/user/change_password")

        def need(scope: str) -> bool:
            if how == "token" and not _scope_ok(scopes, scope):
                self.error(403, f"token does not have at least one of required scope(s): [{scope}]")
                return False
            return True

        m = re.fullmatch(r"/users/([^/]+)/tokens(?:/([^/]+))?", path)
        if m:
            if how != "basic":
                return self.error(401, "auth required")  # token endpoints need basic auth
            if m.group(1).lower() != user["login"].lower() and not user["is_admin"]:
                return self.error(403, "forbidden")
            owner = m.group(1).lower()
            if method == "GET" and not m.group(2):
                return self.reply_json(200, [self._token_json(t) for t in app.state["tokens"]
                                             if t["user"].lower() == owner])
            if method == "POST" and not m.group(2):
                body = self.json_body() or {}
                name = str(body.get("name", ""))
                if not name:
                    return self.error(422, "[Name]: Required")
                if any(t["name"] == name and t["user"].lower() == owner for t in app.state["tokens"]):
                    return self.error(400, "access token name has been used already")
                bad = [s for s in body.get("scopes") or [] if not re.fullmatch(r"(read|write):[a-z]+|all", s)]
                if bad:
                    return self.error(400, f"invalid access token scope provided: {bad[0]}")
                value = secrets.token_hex(20)
                tok = {"id": app._id("access_token"), "name": name, "user": owner, "hash": _hash(value),
                       "last_eight": value[-8:], "scopes": list(body.get("scopes") or [])}
                app.state["tokens"].append(tok)
                app.changed()
                return self.reply_json(201, {**self._token_json(tok), "sha1": value})
            if method == "DELETE" and m.group(2):
                key = m.group(2)
                found = [t for t in app.state["tokens"] if t["user"].lower() == owner
                         and (str(t["id"]) == key or t["name"] == key)]
                if not found:
                    return self.error(404, "token not found")
                app.state["tokens"] = [t for t in app.state["tokens"] if t not in found]
                app.changed()
                return self.reply_empty(204)
        if path == "/user" and method == "GET":
            return self.reply_json(200, app.user_json(user))
        m = re.fullmatch(r"/user/applications/oauth2(?:/(\d+))?", path)
        if m:
            if not need("write:user" if method != "GET" else "read:user"):
                return None
            mine = [a for a in app.state["apps"] if a["user"] == user["login"].lower()]
            if method == "GET" and not m.group(1):
                return self.reply_json(200, [self._app_json(a) for a in mine])
            if method == "POST" and not m.group(1):
                body = self.json_body() or {}
                if not body.get("name") or not body.get("redirect_uris"):
                    return self.error(422, "[Name RedirectURIs]: Required")
                a = {"id": app._id("oauth2_application"), "user": user["login"].lower(), "name": body["name"],
                     "redirect_uris": list(body["redirect_uris"]),
                     "confidential_client": bool(body.get("confidential_client", False)),
                     "client_id": str(uuid.uuid4()), "secret_hash": "", "created": time.strftime(
                         "%Y-%m-%dT%H:%M:%SZ")}
                secret = "gto_" + secrets.token_urlsafe(32)
                a["secret_hash"] = _hash(secret)
                app.state["apps"].append(a)
                app.changed()
                return self.reply_json(201, self._app_json(a, secret))
            app_obj = next((a for a in mine if str(a["id"]) == m.group(1)), None)
            if app_obj is None:
                return self.error(404, "OAuth2 application not found")
            if method == "GET":
                return self.reply_json(200, self._app_json(app_obj))
            if method == "PATCH":
                body = self.json_body() or {}
                if not body.get("name") or not body.get("redirect_uris"):
                    return self.error(422, "[Name RedirectURIs]: Required")
                app_obj.update({"name": body["name"], "redirect_uris": list(body["redirect_uris"]),
                                "confidential_client": bool(body.get("confidential_client", False))})
                secret = "gto_" + secrets.token_urlsafe(32)  # PATCH regenerates; the old secret dies now
                app_obj["secret_hash"] = _hash(secret)
                app.changed()
                return self.reply_json(200, self._app_json(app_obj, secret))
            if method == "DELETE":
                app.state["apps"].remove(app_obj)
                app.changed()
                return self.reply_empty(204)
        if path == "/user/repos" and method == "POST":
            if not need("write:repository"):
                return None
            body = self.json_body() or {}
            name = str(body.get("name", ""))
            if not re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", name) or name.lower() in (".", "..", ".git"):
                return self.error(422, "[Name]: invalid name")
            key = f"{user['login'].lower()}/{name.lower()}"
            if key in app.state["repos"]:
                return self.error(409, "The repository with the same name already exists.")
            if app.repo_path(user["login"], name).exists():
                return self.error(500, f"CreateRepository: repository files already exist [{key}]")
            repo = {"id": app._id("repository"), "owner": user["login"], "name": name,
                    "private": bool(body.get("private", False)), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "default_branch": body.get("default_branch") or "main"}
            path_ = app.repo_path(user["login"], name)
            path_.parent.mkdir(parents=True, exist_ok=True)
            building = path_.parent / f".creating-{path_.name}"  # renamed in whole: never half a repository
            subprocess.run(["git", "init", "--bare", "-q", "-b", body.get("default_branch") or "main",
                            str(building)], check=True, capture_output=True)
            subprocess.run(["git", "-C", str(building), "config", "http.receivepack", "true"], check=True)
            building.rename(path_)
            app.state["repos"][key] = repo
            app.changed()
            return self.reply_json(201, app.repo_json(repo))
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)/hooks(?:/(\d+))?", path)
        if m:
            return self.hooks(user, m.group(1), m.group(2), m.group(3), need)
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)", path)
        if m and method == "PATCH":
            if not need("write:repository"):
                return None
            repo = app.state["repos"].get(f"{m.group(1).lower()}/{m.group(2).lower()}")
            if repo is None:
                return self.error(404, "The target couldn't be found.")
            body = self.json_body() or {}
            if "default_branch" in body:
                if body["default_branch"] not in _branches(app.repo_path(repo["owner"], repo["name"])):
                    return self.error(404, "The target couldn't be found.")
                repo["default_branch"] = body["default_branch"]
                app.changed()
            if isinstance(body.get("has_actions"), bool):
                repo["has_actions"] = body["has_actions"]
                app.changed()
            return self.reply_json(200, app.repo_json(repo))
        if m and method == "GET":
            if not need("read:repository"):
                return None
            repo = app.state["repos"].get(f"{m.group(1).lower()}/{m.group(2).lower()}")
            if repo is None or (repo["private"] and repo["owner"].lower() != user["login"].lower()
                                and not user["is_admin"]):
                return self.error(404, "The target couldn't be found.")
            return self.reply_json(200, app.repo_json(repo))
        if path == "/admin/users" and method == "POST":
            if not user["is_admin"]:
                return self.error(403, "reqSiteAdmin")
            body = self.json_body() or {}
            login = str(body.get("username", ""))
            if login.lower() in app.state["users"]:
                return self.error(422, "user already exists [name: " + login + "]")
            new = app.add_user(login, str(body.get("password", "")), str(body.get("email", "")),
                               must_change_password=bool(body.get("must_change_password", True)))
            return self.reply_json(201, app.user_json(new))
        return self.error(404, "not found")

    def hooks(self, user: dict, owner: str, name: str, hook_id: str | None, need: Any) -> None:
        """Repository webhooks: list, create, get, delete (admin of the repository only, like Gitea)."""
        app: GiteaSim = self.app
        method = self.command
        if not need("read:repository" if method == "GET" else "write:repository"):
            return None
        repo = app.state["repos"].get(f"{owner.lower()}/{name.lower()}")
        if repo is None or (repo["owner"].lower() != user["login"].lower() and not user["is_admin"]):
            return self.error(404, "The target couldn't be found.")
        hooks = repo.setdefault("hooks", [])
        if hook_id is None and method == "GET":
            return self.reply_json(200, [app.hook_json(h) for h in hooks])
        if hook_id is None and method == "POST":
            body = self.json_body() or {}
            config = body.get("config") or {}
            if body.get("type") not in ("gitea", "gogs", "slack", "discord", "dingtalk", "telegram", "msteams",
                                        "feishu", "matrix", "wechatwork", "packagist"):
                return self.error(422, "Invalid hook type")
            if not re.match(r"https?://[^/\s]+", str(config.get("url", ""))):
                return self.error(422, "Invalid url")
            hook = app.add_hook(repo["owner"], repo["name"], config, body.get("events") or ["push"])
            return self.reply_json(201, app.hook_json(hook or {}))
        hook = next((h for h in hooks if str(h["id"]) == hook_id), None)
        if hook is None:
            return self.error(404, "The target couldn't be found.")
        if method == "GET":
            return self.reply_json(200, app.hook_json(hook))
        if method == "DELETE":
            hooks.remove(hook)
            app.changed()
            return self.reply_empty(204)
        return self.error(405, "method not allowed")

    def _token_json(self, tok: dict) -> dict:
        return {"id": tok["id"], "name": tok["name"], "sha1": "", "token_last_eight": tok["last_eight"],
                "scopes": tok["scopes"]}

    def _app_json(self, a: dict, secret: str = "") -> dict:
        return {"id": a["id"], "name": a["name"], "client_id": a["client_id"], "client_secret": secret,
                "redirect_uris": a["redirect_uris"], "confidential_client": a["confidential_client"],
                "created": a["created"]}

    # -- git smart HTTP -----------------------------------------------------------------------------------
    def git(self, path: str, query: dict[str, str]) -> None:
        app: GiteaSim = self.app
        m = re.match(r"^/([^/]+)/([^/]+?)\.git/(.*)$", path)
        if not m:
            return self.reply(404, b"Not found", "text/plain")
        owner, name, rest = m.groups()
        repo = app.state["repos"].get(f"{owner.lower()}/{name.lower()}")
        if repo is None:
            return self.reply(404, b"Repository not found", "text/plain")
        user, how, scopes = app.authenticate(self.headers.get("Authorization"))
        pushing = query.get("service") == "git-receive-pack" or rest == "git-receive-pack"
        if (pushing or repo["private"]) and (user is None or how == "bad"):
            return self.reply(401, b"Unauthorized", "text/plain", {"WWW-Authenticate": 'Basic realm="Gitea"'})
        if pushing and how == "token" and not _scope_ok(scopes, "write:repository"):
            return self.reply(403, b"token lacks write:repository", "text/plain")
        if pushing and (user is None or user["login"].lower() != repo["owner"].lower()) and not user["is_admin"]:
            return self.reply(403, b"Forbidden", "text/plain")
        body = self.body_bytes()
        env = {"GIT_PROJECT_ROOT": str(app.repo_root / owner.lower()), "GIT_HTTP_EXPORT_ALL": "1",
               "PATH_INFO": f"/{name.lower()}.git/{rest}", "REQUEST_METHOD": self.command,
               "QUERY_STRING": self.path.partition("?")[2], "CONTENT_TYPE": self.headers.get("Content-Type", ""),
               "CONTENT_LENGTH": str(len(body)), "REMOTE_USER": user["login"] if user else "",
               "REMOTE_ADDR": "127.0.0.1", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        if self.headers.get("Content-Encoding") == "gzip":
            import gzip

            body = gzip.decompress(body)
            env["CONTENT_LENGTH"] = str(len(body))
        repo_dir = app.repo_path(repo["owner"], repo["name"])
        was_empty = pushing and rest == "git-receive-pack" and not _branches(repo_dir)
        proc = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True)
        if was_empty and (pushed := _branches(repo_dir)):
            # Real Gitea (1.27): a push into an empty repository makes its first pushed branch (git sends them
            # sorted: `develop` before `main`) the default branch, whatever the repository was created with.
            repo["default_branch"] = pushed[0]
            subprocess.run(["git", "-C", str(repo_dir), "symbolic-ref", "HEAD", f"refs/heads/{pushed[0]}"],
                           capture_output=True)
        head, _, payload = proc.stdout.partition(b"\r\n\r\n")
        status, headers = 200, {}
        for line in head.decode(errors="replace").split("\r\n"):
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.strip().split()[0])
            elif key:
                headers[key.strip()] = value.strip()
        ctype = headers.pop("Content-Type", "application/octet-stream")
        self.reply(status, payload, ctype, headers)
        if pushing and rest == "git-receive-pack":
            app.changed()


def _branches(repo_dir: Path) -> list[str]:
    out = subprocess.run(["git", "-C", str(repo_dir), "for-each-ref", "--format=%(refname:short)", "refs/heads"],
                         capture_output=True, text=True)
    return sorted(line for line in out.stdout.splitlines() if line)
