"""Gitea steps: initialise, tokens, the Woodpecker OAuth app, the repository (FACTS, Gitea section)."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

from stonks_tui.clients.gitea import Auth, GiteaClient, GiteaError
from stonks_tui.clients.gitea_pod import gitea_pod
from stonks_tui.engine.step import Change, CheckResult, Done, NotDone, Step, StepContext
from stonks_tui.errors import StepFailed
from stonks_tui.gitea_auth import ADMIN_TOKEN, READONLY_TOKEN, admin_auth, token_auth
from stonks_tui.settings import GITEA_RESERVED_USERS, Settings
from stonks_tui.steps.common import runtime

OAUTH_APP_NAME = "Woodpecker CI"
INSTALL_WAIT = 120.0
# What a step that needs the API token says before the first install: it cannot ask Gitea yet, and need not.
AFTER_TOKEN = "created after Gitea is set up (gitea-token makes the API token this needs)"


def redirect_uri(settings: Settings) -> str:
    return f"https://{settings.woodpecker_host}/authorize"


class GiteaStep(Step):

    def gitea(self, ctx: StepContext) -> GiteaClient:
        return runtime(ctx).gitea(ctx.settings)


class GiteaInit(GiteaStep):
    id, title, needs = "gitea-init", "Initialise Gitea and its admin", ()

    async def _admin_state(self, ctx: StepContext) -> tuple[str, str]:
        gitea = self.gitea(ctx)
        mode = await gitea.mode()
        if mode == "installer":
            return "installer", "Gitea shows its install wizard (not initialised)"
        auth = admin_auth(ctx)
        resp = await gitea.request("GET", "/api/v1/user", auth=auth, what="check the admin credentials")
        if resp.status_code == 200:
            if not resp.json().get("is_admin"):
                raise StepFailed(f"Gitea user {auth.user} exists but is not an administrator",
                                 hint="make it an admin in Site Administration, or choose another gitea_admin_user")
            return "ok", ""
        if resp.status_code == 401:
            return "no-admin", f"user {auth.user} does not exist or its password differs"
        raise gitea.fail(resp, "check the admin credentials", auth.user)

    async def check(self, ctx: StepContext) -> CheckResult:
        state, reason = await self._admin_state(ctx)
        return Done(f"admin {ctx.settings.gitea_admin_user} works") if state == "ok" else NotDone(reason)

    async def apply(self, ctx: StepContext) -> None:
        user = ctx.settings.gitea_admin_user
        if user.lower() in GITEA_RESERVED_USERS:
            raise StepFailed(f"{user!r} is a reserved Gitea user name", hint="choose another gitea_admin_user")
        state, _ = await self._admin_state(ctx)
        if state == "installer":
            await self._install(ctx)
            state, _ = await self._admin_state(ctx)
            if state == "no-admin":
                raise StepFailed(
                    f"Gitea was initialised but {user} cannot log in with the password in the keyring",
                    hint="an admin of that name already existed: Gitea kept its old password. Put that password "
                         "in the keyring (stonks-tui secrets) or choose another gitea_admin_user")
            return
        if state == "no-admin":
            await self._create_admin(ctx)
            state, _ = await self._admin_state(ctx)
            if state != "ok":
                raise StepFailed(f"Gitea user {user} was created but cannot log in",
                                 hint="check the Gitea pod's logs; the user may need to change its password")

    async def _create_admin(self, ctx: StepContext) -> None:
        """`gitea admin user create` as user git in the pod, through the exec API (FACTS). The password is fed
        on stdin and read by the shell: it never appears in the exec request, which API servers log."""
        import shlex

        s = ctx.settings
        auth = admin_auth(ctx)
        kube = runtime(ctx).kube()
        pod = await gitea_pod(kube, s.gitea_namespace)
        script = ("read -r P; exec gitea admin user create --username " + shlex.quote(auth.user) + " --email "
                  + shlex.quote(s.gitea_admin_email) + ' --password "$P" --admin --must-change-password=false')
        ctx.log(f"creating admin {auth.user} with `gitea admin user create` in pod {s.gitea_namespace}/{pod}")
        code, output = await kube.exec(s.gitea_namespace, pod, ["su", "git", "-c", script], stdin=auth.password + "\n")
        for line in output.splitlines():
            ctx.log(line)
        if code != 0:
            if "already exists" in output:
                raise StepFailed(f"Gitea user {auth.user} already exists with another password",
                                 hint="put that user's password in the keyring (stonks-tui secrets forget, then "
                                      "STONKS_GITEA_ADMIN_PASSWORD=…), or choose another gitea_admin_user")
            raise StepFailed(f"`gitea admin user create` failed in pod {pod} (exit {code}): {output.strip()[-200:]}",
                             hint="see the step log; the pod must run Gitea's rootful image (CLI as user git)")

    async def _install(self, ctx: StepContext) -> None:
        s = ctx.settings
        auth = admin_auth(ctx)
        gitea = self.gitea(ctx)
        public = urlsplit(s.gitea_public_url)
        form = {"db_type": s.gitea_db_type, "db_path": s.gitea_db_path, "app_name": "Gitea",
                "repo_root_path": "/data/git/repositories", "lfs_root_path": "/data/git/lfs", "run_user": "git",
                "domain": public.hostname or "localhost", "ssh_port": str(s.gitea_ssh_nodeport),
                "http_port": "3000", "app_url": s.gitea_public_url.rstrip("/") + "/",
                "log_root_path": "/data/gitea/log", "admin_name": auth.user, "admin_passwd": auth.password,
                "admin_confirm_passwd": auth.password, "admin_email": s.gitea_admin_email,
                "disable_registration": "on", "require_sign_in_view": "on"}
        if s.gitea_db_type != "sqlite3":
            db_password = ctx.secrets.get("gitea-db-password")
            if not db_password:
                raise StepFailed(f"the {s.gitea_db_type} password for Gitea's database is not in the keyring",
                                 hint="pass STONKS_GITEA_DB_PASSWORD once (it is then kept in the keyring)")
            form.update({"db_host": s.gitea_db_host, "db_name": s.gitea_db_name, "db_user": s.gitea_db_user,
                         "db_passwd": db_password, "ssl_mode": "disable"})
        ctx.log(f"submitting Gitea's install form ({s.gitea_db_type} database, admin account)")
        resp = await gitea.request("POST", "/", data=form, what="submit the install form")
        if resp.status_code != 200:
            raise gitea.fail(resp, "submit the install form")
        # The form answers 200 whatever happened; the real server starts a few seconds later. Gitea has no
        # event to wait on, so ask with a short, growing delay until the API answers.
        ctx.log("waiting for Gitea to restart with its new configuration")
        deadline = time.monotonic() + INSTALL_WAIT
        delay = 0.1
        while time.monotonic() < deadline:
            try:
                if await gitea.version(auth):
                    ctx.log("Gitea is up")
                    return
            except GiteaError as exc:
                if exc.status:  # an answer we cannot use; a closed port (status 0) is Gitea restarting
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 2.0)
        raise StepFailed(f"Gitea did not come up within {INSTALL_WAIT:.0f}s after the install form",
                         hint="the form may have been refused (it always answers 200): open Gitea in a browser "
                              "to see its message, and check the pod's logs")

    async def describe(self, ctx: StepContext) -> list[Change]:
        state, reason = await self._admin_state(ctx)
        if state == "ok":
            return [Change("unchanged", "GiteaAdmin", ctx.settings.gitea_admin_user)]
        if state == "installer":
            return [Change("create", "GiteaInstall", ctx.settings.effective_gitea_api_url,
                           f"initialise with {ctx.settings.gitea_db_type}, admin {ctx.settings.gitea_admin_user}")]
        return [Change("create", "GiteaAdmin", ctx.settings.gitea_admin_user, reason)]


class GiteaTokens(GiteaStep):
    """The admin-scoped token for this tool and a read-only one for Argo CD. Reused while they work; a name
    clash (400) means a stale token of ours: delete it by name and recreate — never pile tokens up."""

    id, title, needs = "gitea-token", "Gitea API tokens", ("gitea-init",)

    async def _works(self, ctx: StepContext, secret: str) -> bool:
        value = ctx.secrets.get(secret)
        if not value:
            return False
        s = ctx.settings
        path = "/api/v1/user" if secret == ADMIN_TOKEN[0] else f"/api/v1/repos/{s.effective_repo_owner}/{s.repo_name}"
        resp = await self.gitea(ctx).request("GET", path, auth=Auth(token=value), what="check a stored token")
        return resp.status_code in ((200,) if secret == ADMIN_TOKEN[0] else (200, 404))

    async def check(self, ctx: StepContext) -> CheckResult:
        missing = [name for name, _, _ in (ADMIN_TOKEN, READONLY_TOKEN) if not await self._works(ctx, name)]
        return Done() if not missing else NotDone(f"no working token: {', '.join(missing)}")

    async def apply(self, ctx: StepContext) -> None:
        gitea = self.gitea(ctx)
        auth = admin_auth(ctx)
        for secret, name, scopes in (ADMIN_TOKEN, READONLY_TOKEN):
            if await self._works(ctx, secret):
                ctx.log(f"token {name}: the stored one still works")
                continue
            path = f"/api/v1/users/{auth.user}/tokens"
            resp = await gitea.request("POST", path, auth=auth, json={"name": name, "scopes": scopes},
                                       what=f"create token {name}")
            if resp.status_code == 400:
                ctx.log(f"token {name}: a stale token of that name exists; deleting it and creating a new one")
                await gitea.json("DELETE", f"{path}/{name}", auth=auth, expect=(204, 404),
                                 what=f"delete stale token {name}", user=auth.user)
                resp = await gitea.request("POST", path, auth=auth, json={"name": name, "scopes": scopes},
                                           what=f"create token {name}")
            if resp.status_code != 201:
                raise gitea.fail(resp, f"create token {name}", auth.user)
            ctx.secrets.set(secret, resp.json()["sha1"])
            ctx.log(f"token {name}: created with scopes {', '.join(scopes)} (kept in the keyring)")

    async def describe(self, ctx: StepContext) -> list[Change]:
        return [Change("unchanged" if await self._works(ctx, secret) else "create", "GiteaToken", name,
                       ", ".join(scopes)) for secret, name, scopes in (ADMIN_TOKEN, READONLY_TOKEN)]


class GiteaOAuthApp(GiteaStep):
    """Woodpecker's OAuth2 app: matched by name + redirect URI; its secret is unreadable after creation, so the
    app is reused only when the keyring holds the secret Gitea gave *for that app*; otherwise PATCH rotates it."""

    id, title, needs = "gitea-oauth-app", "Gitea OAuth2 app for Woodpecker", ("gitea-token",)

    async def _find(self, ctx: StepContext) -> tuple[dict | None, list[dict]]:
        apps = await self.gitea(ctx).json("GET", "/api/v1/user/applications/oauth2", auth=token_auth(ctx),
                                          what="list OAuth2 apps") or []
        redirect = redirect_uri(ctx.settings)
        matches = [a for a in apps if a.get("name") == OAUTH_APP_NAME and redirect in (a.get("redirect_uris") or [])]
        known = ctx.secrets.get("woodpecker-oauth-client-id")
        mine = next((a for a in matches if a.get("client_id") == known), None)
        return (mine or (matches[0] if matches else None)), matches

    async def _state(self, ctx: StepContext) -> tuple[str, dict | None]:
        app, _ = await self._find(ctx)
        if app is None:
            return "create", None
        known_id = ctx.secrets.get("woodpecker-oauth-client-id")
        if app.get("client_id") == known_id and ctx.secrets.get("woodpecker-oauth-client-secret") and \
                app.get("confidential_client"):
            return "unchanged", app
        return "rotate", app

    async def check(self, ctx: StepContext) -> CheckResult:
        state, _ = await self._state(ctx)
        return Done() if state == "unchanged" else NotDone(
            "no Woodpecker OAuth app yet" if state == "create" else "the app's secret is not known: rotate it")

    async def apply(self, ctx: StepContext) -> None:
        gitea = self.gitea(ctx)
        state, app = await self._state(ctx)
        _, matches = await self._find(ctx)
        body = {"name": OAUTH_APP_NAME, "redirect_uris": [redirect_uri(ctx.settings)], "confidential_client": True}
        if state == "create":
            got = await gitea.json("POST", "/api/v1/user/applications/oauth2", auth=token_auth(ctx), body=body,
                                   expect=(201,), what="create the Woodpecker OAuth2 app")
            ctx.log(f"created OAuth2 app {OAUTH_APP_NAME} (id {got['id']})")
        else:
            assert app is not None
            got = await gitea.json("PATCH", f"/api/v1/user/applications/oauth2/{app['id']}", auth=token_auth(ctx),
                                   body=body, expect=(200,), what="rotate the Woodpecker OAuth2 app's secret")
            ctx.log(f"reused OAuth2 app id {app['id']}; its secret was unknown, so it was rotated")
        if len(matches) > 1:
            others = ", ".join(str(a["id"]) for a in matches if a["id"] != got["id"])
            ctx.log(f"note: other OAuth2 apps named {OAUTH_APP_NAME!r} exist (ids {others}); left untouched")
        ctx.secrets.set("woodpecker-oauth-client-secret", got["client_secret"])
        ctx.secrets.set("woodpecker-oauth-client-id", got["client_id"])
        ctx.output("oauth_app_id", got["id"])

    async def describe(self, ctx: StepContext) -> list[Change]:
        if not ctx.secrets.get(ADMIN_TOKEN[0]):  # the plan's own gitea-token step makes it first
            return [Change("create", "GiteaOAuthApp", OAUTH_APP_NAME, AFTER_TOKEN)]
        state, _app = await self._state(ctx)
        action = {"create": "create", "rotate": "update", "unchanged": "unchanged"}[state]
        detail = "secret unknown → rotate with PATCH" if state == "rotate" else redirect_uri(ctx.settings)
        return [Change(action, "GiteaOAuthApp", OAUTH_APP_NAME, detail)]


class GiteaRepo(GiteaStep):
    id, title, needs = "gitea-repo", "Gitea repository", ("gitea-token",)

    def _full(self, ctx: StepContext) -> str:
        return f"{ctx.settings.effective_repo_owner}/{ctx.settings.repo_name}"

    async def _exists(self, ctx: StepContext) -> bool:
        resp = await self.gitea(ctx).request("GET", f"/api/v1/repos/{self._full(ctx)}", auth=token_auth(ctx),
                                             what="look up the repository")
        if resp.status_code == 200:
            return True
        if resp.status_code == 404:
            return False
        raise self.gitea(ctx).fail(resp, f"look up repository {self._full(ctx)}")

    async def check(self, ctx: StepContext) -> CheckResult:
        return Done() if await self._exists(ctx) else NotDone(f"repository {self._full(ctx)} does not exist")

    async def apply(self, ctx: StepContext) -> None:
        s = ctx.settings
        if s.effective_repo_owner.lower() != s.gitea_admin_user.lower():
            raise StepFailed(f"repo_owner {s.repo_owner!r} differs from the admin user; creating repositories for "
                             "another owner is not part of this build", hint="leave repo_owner empty")
        gitea = self.gitea(ctx)
        resp = await gitea.request("POST", "/api/v1/user/repos", auth=token_auth(ctx),
                                   json={"name": s.repo_name, "private": s.repo_private, "default_branch": "main",
                                         "auto_init": False, "description": "stonks-oracle (migrated by stonks-tui)"},
                                   what="create the repository")
        if resp.status_code == 201:
            ctx.log(f"created repository {self._full(ctx)} ({'private' if s.repo_private else 'public'})")
        elif resp.status_code == 409:
            if not await self._exists(ctx):  # 409 for a repository this user cannot see: not ours to use
                raise GiteaError(409, f"Gitea says {self._full(ctx)} already exists (409), but "
                                      f"{s.gitea_admin_user} cannot see it",
                                 hint="it may be being deleted, or its name differs only in case: check Site "
                                      "Administration → Repositories, then resume")
            ctx.log(f"repository {self._full(ctx)} already exists")
        elif resp.status_code >= 500:
            said = gitea.message(resp)
            if "files already exist" in said:  # Gitea's own words (ErrRepoFilesAlreadyExist): the only evidence
                hint = ("files of an earlier repository of that name are still on Gitea's disk: adopt them in Site "
                        "Administration → Repositories → Unadopted (or, if they are not needed, delete "
                        f"/data/git/repositories/{self._full(ctx).lower()}.git in the pod), then resume")
            else:  # a database outage looks the same from here: never advise deleting anything on a guess
                hint = (f"Gitea failed internally: check its logs (kubectl -n {s.gitea_namespace} logs "
                        "deploy/gitea or the gitea pod), then resume")
            raise GiteaError(resp.status_code, f"Gitea could not create {self._full(ctx)} (HTTP {resp.status_code})"
                                               f": {said or 'no message'}", hint=hint)
        else:
            raise gitea.fail(resp, f"create repository {self._full(ctx)}")

    async def describe(self, ctx: StepContext) -> list[Change]:
        visibility = "private" if ctx.settings.repo_private else "public"
        if not ctx.secrets.get(ADMIN_TOKEN[0]):
            return [Change("create", "GiteaRepo", self._full(ctx), f"{visibility}; {AFTER_TOKEN}")]
        return [Change("unchanged" if await self._exists(ctx) else "create", "GiteaRepo", self._full(ctx),
                       visibility)]
