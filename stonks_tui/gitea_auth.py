"""Gitea credentials as the run holds them: the admin's password (basic auth, for the token endpoints) and the
API token this tool makes. Steps and the live checks both authenticate this way."""

from __future__ import annotations

from stonks_tui.clients.gitea import Auth
from stonks_tui.engine.step import StepContext
from stonks_tui.errors import StepFailed

ADMIN_TOKEN = ("gitea-token", "stonks-tui", ["write:admin", "write:repository", "write:user"])
READONLY_TOKEN = ("gitea-readonly-token", "stonks-tui-argocd-readonly", ["read:repository"])


def admin_auth(ctx: StepContext) -> Auth:
    password = ctx.secrets.get("gitea-admin-password")
    if not password:
        raise StepFailed("the Gitea admin password is not in the keyring",
                         hint="enter it in the wizard, or pass STONKS_GITEA_ADMIN_PASSWORD once")
    return Auth(user=ctx.settings.gitea_admin_user, password=password)


def token_auth(ctx: StepContext) -> Auth:
    token = ctx.secrets.get(ADMIN_TOKEN[0])
    if not token:
        raise StepFailed("no Gitea API token in the keyring yet", hint="the gitea-token step creates it: resume")
    return Auth(token=token)
