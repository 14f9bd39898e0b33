"""Gitea client (httpx.AsyncClient): timeouts, bounded retries on connection errors and 5xx (never 4xx),
and errors mapped by status code to messages an operator can act on. Gitea's error wording varies between
versions, so nothing here branches on message text.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any

import httpx

from stonks_tui.errors import StepFailed
from stonks_tui.settings import Settings

RETRIES = 3
BACKOFF = 0.5  # seconds, doubled per retry


class GiteaError(StepFailed):
    def __init__(self, status: int, message: str, hint: str = "") -> None:
        super().__init__(message, hint)
        self.status = status


@dataclass(frozen=True)
class Auth:
    """Basic (user + password) or a token. Token endpoints need basic auth (FACTS)."""

    user: str = ""
    password: str = ""
    token: str = ""

    def header(self) -> dict[str, str]:
        if self.token:
            return {"Authorization": f"token {self.token}"}
        if self.user:
            import base64

            raw = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            return {"Authorization": f"Basic {raw}"}
        return {}


class GiteaClient:
    def __init__(self, base_url: str, *, verify: bool | str = True, timeout: float = 15.0) -> None:
        self.base_url = base_url.rstrip("/")
        from stonks_tui.clients.tls import tls_for

        self.http = httpx.AsyncClient(base_url=self.base_url, verify=tls_for(self.base_url, verify=verify),
                                      timeout=timeout,
                                      follow_redirects=False, headers={"User-Agent": "stonks-tui"})

    @classmethod
    def from_settings(cls, settings: Settings) -> GiteaClient:
        verify: bool | str = settings.gitea_verify_tls
        if settings.gitea_ca_bundle:
            verify = os.path.expanduser(settings.gitea_ca_bundle)
        return cls(settings.effective_gitea_api_url, verify=verify)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def request(self, method: str, path: str, *, auth: Auth | None = None, json: Any = None,
                      data: dict[str, str] | None = None, what: str = "") -> httpx.Response:
        """Send with retries on connection errors and 5xx; return the response (any status < 500)."""
        what = what or f"{method} {path}"
        headers = auth.header() if auth else {}
        delay = BACKOFF
        last: Exception | None = None
        for attempt in range(RETRIES + 1):
            try:
                resp = await self.http.request(method, path, headers=headers, json=json, data=data)
            except httpx.TimeoutException as exc:
                last = exc
                reason = "did not answer in time"
            except httpx.TransportError as exc:
                last = exc
                reason = f"is unreachable ({type(exc).__name__})"
            else:
                if resp.status_code < 500:
                    return resp
                last = None
                reason = f"answered HTTP {resp.status_code}"
                if attempt == RETRIES:
                    return resp
            if attempt < RETRIES:
                await asyncio.sleep(delay)
                delay *= 2
        assert last is not None
        raise GiteaError(0, f"Gitea at {self.base_url} {reason} ({what})",
                         hint="check the Gitea pod (kubectl -n git-server get pods) and gitea_api_url") from None

    @staticmethod
    def message(resp: httpx.Response) -> str:
        try:
            body = resp.json()
            return str(body.get("message") or body) if isinstance(body, dict) else str(body)
        except ValueError:
            return resp.text[:200].strip()

    def fail(self, resp: httpx.Response, what: str, user: str = "") -> GiteaError:
        code = resp.status_code
        detail = self.message(resp)
        hints = {
            401: f"wrong user or password for {user or 'the admin'}: check gitea_admin_user and the password in "
                 "the keyring (stonks-tui secrets)",
            403: ("the user must change its password first: log in once at Gitea and change it, or recreate the "
                  "user with --must-change-password=false" if "change your password" in detail.lower()
                  else "the user or token lacks permission: the admin user and a token with write scopes are needed"),
            404: "not found: check the owner/name settings (or Gitea is still in installer mode)",
            409: "it already exists",
            422: "Gitea refused the values as invalid: check the names in your settings",
        }
        if code >= 500:
            hint = "Gitea failed internally: check its logs (kubectl -n git-server logs deploy/gitea)"
        else:
            hint = hints.get(code, "see the step log")
        return GiteaError(code, f"Gitea refused to {what}: HTTP {code} {detail}".rstrip(), hint)

    async def json(self, method: str, path: str, *, auth: Auth | None = None, body: Any = None,
                   expect: tuple[int, ...] = (200,), what: str = "", user: str = "") -> Any:
        resp = await self.request(method, path, auth=auth, json=body, what=what)
        if resp.status_code not in expect:
            raise self.fail(resp, what or f"{method} {path}", user)
        if resp.status_code == 204 or not resp.content:
            return None
        return resp.json()

    # -- mode detection (FACTS recipe) --------------------------------------------------------------------
    async def mode(self) -> str:
        """'installer' (INSTALL_LOCK=false) or 'installed'."""
        resp = await self.request("GET", "/api/healthz", what="read Gitea's health")
        if resp.status_code == 200:
            try:
                return "installed" if "checks" in resp.json() else "installer"
            except ValueError:
                pass
        version = await self.request("GET", "/api/v1/version", what="read Gitea's version")
        if version.status_code == 200 or (version.status_code in (401, 403) and _is_json(version)):
            return "installed"  # 403 JSON: installed with REQUIRE_SIGNIN_VIEW (the installer answers HTML)
        root = await self.request("GET", "/", what="read Gitea's front page")
        if 'name="db_type"' in root.text:
            return "installer"
        raise GiteaError(version.status_code, f"cannot tell whether Gitea at {self.base_url} is installed "
                                              f"(healthz {resp.status_code}, version {version.status_code})",
                         hint="check gitea_api_url points at Gitea itself")

    async def version(self, auth: Auth | None = None) -> str | None:
        """Gitea's version, or None while it is not serving its API. Pass credentials: the install form sets
        REQUIRE_SIGNIN_VIEW, after which Gitea answers every anonymous API call, this one too, with 403."""
        resp = await self.request("GET", "/api/v1/version", auth=auth, what="read Gitea's version")
        if resp.status_code != 200:
            return None
        try:
            return resp.json().get("version")
        except ValueError:
            return None


def _is_json(resp: httpx.Response) -> bool:
    return resp.headers.get("content-type", "").startswith("application/json")
