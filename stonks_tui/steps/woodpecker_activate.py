"""Activate the repository in Woodpecker and give it the GitHub mirror's deploy key.

Woodpecker's API needs a personal token, which exists only after a sign-in through Gitea. The step makes that
sign-in itself with the Gitea admin's credentials from the keyring (clients/woodpecker_signin.py) and keeps the
token in the keyring; a token Woodpecker refuses (401) is fetched again the same way. Only where Gitea cannot be
signed in to without a person (2FA, a CAPTCHA, ...) does the step end as "needs the operator", saying which and
how to give a token instead — not a failure, not a skip.
"""

from __future__ import annotations

import os

from stonks_tui.clients.woodpecker import TokenRefused
from stonks_tui.engine.step import Change, CheckResult, Done, NotDone, Step, StepContext
from stonks_tui.errors import NeedsOperator
from stonks_tui.steps.common import runtime

SECRET_NAME = "github_deploy_key"


def generate_deploy_key() -> tuple[str, str]:
    """(private OpenSSH PEM, public 'ssh-ed25519 …'), made in memory: never written to disk."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode() + " stonks-oracle-mirror"
    return private, public


def public_from_private(private: str) -> str:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_ssh_private_key(private.encode(), password=None)
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                         serialization.PublicFormat.OpenSSH).decode() + " stonks-oracle-mirror"


class WoodpeckerActivate(Step):
    id, title = "woodpecker-activate", "Activate the repo in Woodpecker"
    needs = ("woodpecker", "woodpecker-network-policy", "woodpecker-agent-rbac", "repo-migrate")


    def _needs_token(self, ctx: StepContext, refused: str = "") -> NeedsOperator:
        url = ctx.settings.effective_woodpecker_url
        rt = runtime(ctx)
        how = (f"give it to stonks-tui: the wizard's Woodpecker screen, {rt.cmd('secrets rotate woodpecker-token')}, "
               f"or STONKS_WOODPECKER_TOKEN=<token> {rt.cmd('install', ticks=False)} — the install resumes here")
        if refused:
            # The refused token is gone from the keyring, so every way of giving one works again (the variable
            # is read only when the keyring has none; the wizard asks again).
            again = " (and unset STONKS_WOODPECKER_TOKEN: it holds the refused one)" if os.environ.get(
                "STONKS_WOODPECKER_TOKEN") else ""
            return NeedsOperator(f"Woodpecker refused the stored personal token ({refused}); it was removed "
                                 "from the keyring",
                                 hint=f"create a new token in {url} under your user settings, then {how}{again}")
        return NeedsOperator(
            "Woodpecker needs a personal API token, which exists only after you log in once",
            hint=f"open {url}, log in through Gitea as {ctx.settings.gitea_admin_user}, create a token under your "
                 f"user settings, then {how}")

    async def _sign_in(self, ctx: StepContext, refused: str = "") -> str:
        """Woodpecker's personal token through the OAuth sign-in with the admin's credentials; kept in the keyring.
        Where that cannot work, "needs you" saying why, with today's ways to give a token."""
        from stonks_tui.clients.woodpecker_signin import SignInImpossible, fetch_token

        s = ctx.settings
        password = ctx.secrets.get("gitea-admin-password")
        if not password:
            raise self._needs_token(ctx, refused)
        try:
            token = await fetch_token(woodpecker_url=s.effective_woodpecker_url, gitea_url=s.gitea_public_url,
                                      woodpecker_host_url=f"https://{s.woodpecker_host}", user=s.gitea_admin_user,
                                      password=password, log=ctx.log)
        except SignInImpossible as exc:
            rt = runtime(ctx)
            how = (f"create a token in {s.effective_woodpecker_url} (log in, user settings) and give it: the "
                   f"wizard's Woodpecker screen, {rt.cmd('secrets rotate woodpecker-token')}, or "
                   f"STONKS_WOODPECKER_TOKEN=<token> {rt.cmd('install', ticks=False)}")
            raise NeedsOperator(f"stonks-tui cannot sign in to Woodpecker for you: {exc.message}",
                                hint=how) from None
        ctx.secrets.set("woodpecker-token", token)
        ctx.log("Woodpecker's personal token obtained through Gitea's sign-in (in the keyring)")
        return token

    async def _state(self, ctx: StepContext, *, forget_refused: bool = True) -> tuple[dict | None, bool]:
        """(the repository as Woodpecker lists it, whether it has the mirror's secret). Without a token the step
        signs in for one; a refused token is removed from the keyring and fetched again (`forget_refused`:
        describe is read-only and does neither)."""
        token = ctx.secrets.get("woodpecker-token")
        if not token:
            if not forget_refused:
                raise self._needs_token(ctx)
            token = await self._sign_in(ctx)
        try:
            return await self._read(ctx, token)
        except TokenRefused:
            if not forget_refused:
                raise
            ctx.secrets.delete("woodpecker-token")  # a refused credential is never kept
            ctx.log("Woodpecker refused the stored token (HTTP 401): signing in again for a new one")
            token = await self._sign_in(ctx, refused="HTTP 401")
        try:
            return await self._read(ctx, token)
        except TokenRefused:
            ctx.secrets.delete("woodpecker-token")
            raise self._needs_token(ctx, refused="HTTP 401, even right after signing in") from None

    async def _read(self, ctx: StepContext, token: str) -> tuple[dict | None, bool]:
        wp = runtime(ctx).woodpecker(ctx.settings, token)
        try:
            full = f"{ctx.settings.effective_repo_owner}/{ctx.settings.repo_name}".lower()
            repo = next((r for r in await wp.forge_repos() if r.get("full_name", "").lower() == full), None)
            has_secret = False
            if repo and repo.get("active") and repo.get("id"):
                has_secret = any(s.get("name") == SECRET_NAME for s in await wp.secrets(int(repo["id"])))
            return repo, has_secret
        finally:
            await wp.aclose()

    async def check(self, ctx: StepContext) -> CheckResult:
        repo, has_secret = await self._state(ctx)
        if not repo or not repo.get("active"):
            return NotDone("the repository is not active in Woodpecker")
        return Done() if has_secret and ctx.secrets.get("github-mirror-deploy-key") else NotDone(
            "the GitHub mirror deploy key is not set")

    async def apply(self, ctx: StepContext) -> None:
        from stonks_tui.errors import StepFailed

        repo, _ = await self._state(ctx)
        full = f"{ctx.settings.effective_repo_owner}/{ctx.settings.repo_name}"
        if repo is None:
            raise StepFailed(f"Woodpecker does not see {full} in Gitea",
                             hint="log in to Woodpecker once as the repository's owner so it syncs your repositories")
        wp = runtime(ctx).woodpecker(ctx.settings, ctx.secrets.get("woodpecker-token") or "")
        try:
            if not repo.get("active"):
                activated = await wp.activate(str(repo["forge_remote_id"]))
                ctx.log(f"activated {full} in Woodpecker (Woodpecker registered its webhook in Gitea)")
                repo = activated or repo
            repo = next(r for r in await wp.forge_repos() if r.get("full_name", "").lower() == full.lower())
            private = ctx.secrets.get("github-mirror-deploy-key")
            if not private:
                private, _ = generate_deploy_key()
                ctx.secrets.set("github-mirror-deploy-key", private)
                ctx.log("generated an ed25519 deploy key for the GitHub mirror (private half in the keyring)")
            public = public_from_private(private)
            await wp.put_secret(int(repo["id"]), SECRET_NAME, private, ["push", "manual"],
                                "GitHub mirror deploy key (stonks-tui)")
            ctx.log(f"repository secret {SECRET_NAME} set")
            ctx.log(f"add this deploy key, with write access, to {ctx.settings.github_mirror_url}:")
            ctx.log(f"  {public}")
            ctx.output("github_deploy_public_key", public)
            rt = runtime(ctx)
            if rt.state_dir is not None:  # the public half only: safe to keep, easy to `cat` (status names it)
                from stonks_tui.fsutil import atomic_write_text

                atomic_write_text(rt.state_dir / "github-deploy-key.pub", public + "\n")
        finally:
            await wp.aclose()

    async def describe(self, ctx: StepContext) -> list[Change]:
        if not ctx.secrets.get("woodpecker-token"):
            return [Change("create", "WoodpeckerRepo", f"{ctx.settings.effective_repo_owner}/{ctx.settings.repo_name}",
                           f"activate; Woodpecker's token first: signs in through Gitea as "
                           f"{ctx.settings.gitea_admin_user} (token kept in the keyring)")]
        try:
            repo, has_secret = await self._state(ctx, forget_refused=False)
        except TokenRefused:
            return [Change("create", "WoodpeckerRepo", f"{ctx.settings.effective_repo_owner}/{ctx.settings.repo_name}",
                           "Woodpecker refuses the stored token (HTTP 401): a new one is fetched by signing in")]
        except Exception:
            return [Change("create", "WoodpeckerRepo", "activation + deploy key", "after Woodpecker is up")]
        out = [Change("unchanged" if repo and repo.get("active") else "create", "WoodpeckerRepo",
                      f"{ctx.settings.effective_repo_owner}/{ctx.settings.repo_name}", "activate")]
        out.append(Change("unchanged" if has_secret else "create", "WoodpeckerSecret", SECRET_NAME))
        return out
