"""Woodpecker API client (httpx): Bearer personal token, repos, activation, repo secrets."""

from __future__ import annotations

from typing import Any

import httpx

from stonks_tui.errors import StepFailed

PAGE_SIZE = 50  # the server's maximum page (session.Pagination): asking for more still gives 50
MAX_PAGES = 200


def list_of(answer: Any, what: str) -> list[dict[str, Any]]:
    """A JSON list as Woodpecker sends it: `null` is an empty list; anything else not a list of objects is refused."""
    if answer is None:
        return []
    if not isinstance(answer, list) or not all(isinstance(item, dict) for item in answer):
        raise StepFailed(f"Woodpecker sent {what} in a form stonks-tui does not know ({type(answer).__name__})",
                         hint="is the URL Woodpecker's own (not a proxy's page)? check woodpecker_url")
    return answer


class TokenRefused(StepFailed):
    """Woodpecker answered 401: the personal token is wrong, revoked or from another server."""


class WoodpeckerClient:
    def __init__(self, base_url: str, token: str, timeout: float = 15.0) -> None:
        self.base_url = base_url.rstrip("/")
        from stonks_tui.clients.tls import tls_for

        self.http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, verify=tls_for(self.base_url),
                                      headers={"Authorization": f"Bearer {token}", "User-Agent": "stonks-tui"})

    async def aclose(self) -> None:
        await self.http.aclose()

    async def call(self, method: str, path: str, *, body: Any = None, params: dict | None = None,
                   ok: tuple[int, ...] = (200,), what: str = "") -> httpx.Response:
        try:
            resp = await self.http.request(method, path, json=body, params=params)
        except httpx.TransportError as exc:
            raise StepFailed(f"Woodpecker at {self.base_url} is unreachable ({type(exc).__name__})",
                             hint="check the woodpecker-server pod and its ingress") from None
        if resp.status_code == 401 and 401 not in ok:
            raise TokenRefused(f"Woodpecker refused the token to {what or path} (HTTP 401)",
                               hint="create a new personal token in the Woodpecker UI (user settings)")
        if resp.status_code not in ok:
            hints = {403: "the token's user is not a Woodpecker admin (WOODPECKER_ADMIN)",
                     503: "Woodpecker is not serving yet: is woodpecker-server ready?"}
            raise StepFailed(f"Woodpecker refused to {what or path}: HTTP {resp.status_code} {resp.text[:160]}",
                             hint=hints.get(resp.status_code, "see the step log"))
        return resp

    async def healthy(self) -> bool:
        try:
            return (await self.http.get("/healthz")).status_code in (200, 204)
        except httpx.TransportError:
            return False

    async def forge_repos(self) -> list[dict[str, Any]]:
        # Woodpecker answers `null` (Go's nil slice) when the user has no repository it could list.
        listed = (await self.call("GET", "/api/user/repos", params={"all": "true"}, what="list repositories")).json()
        return list_of(listed, "the repository list")

    async def activate(self, forge_remote_id: str) -> dict[str, Any] | None:
        resp = await self.call("POST", "/api/repos", params={"forge_remote_id": forge_remote_id}, ok=(200, 409),
                               what="activate the repository")
        return resp.json() if resp.status_code == 200 else None

    async def secrets(self, repo_id: int) -> list[dict[str, Any]]:
        """Every secret of the repository: the list is paginated (at most PAGE_SIZE a page) and an empty page,
        like a repository with no secret yet, is `null`."""
        out: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            resp = await self.call("GET", f"/api/repos/{repo_id}/secrets", params={"page": page, "perPage": PAGE_SIZE},
                                   what="list repository secrets")
            chunk = list_of(resp.json(), "the secret list")
            out.extend(chunk)
            if len(chunk) < PAGE_SIZE:
                return out
        raise StepFailed(f"Woodpecker lists more than {MAX_PAGES * PAGE_SIZE} secrets for repository {repo_id}",
                         hint="remove secrets the repository no longer uses in Woodpecker's repository settings")

    async def put_secret(self, repo_id: int, name: str, value: str, events: list[str], note: str) -> None:
        body = {"name": name, "value": value, "events": events, "images": [], "note": note}
        existing = {s.get("name") for s in await self.secrets(repo_id)}  # 3.16 keeps names' case
        if name in existing:
            await self.call("PATCH", f"/api/repos/{repo_id}/secrets/{name}", body=body, what=f"update secret {name}")
        else:
            await self.call("POST", f"/api/repos/{repo_id}/secrets", body=body, what=f"add secret {name}")
