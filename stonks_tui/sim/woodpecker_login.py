"""The simulated Woodpecker's sign-in through Gitea (OAuth2), its session, CSRF and personal tokens.

As Woodpecker 3.16.0 does (server/api/login.go HandleAuth, server/web/config.go, server/api/user.go
PostToken/DeleteToken, shared/token): `/authorize` redirects (303) to Gitea's `/login/oauth/authorize` at the OAuth
host with a signed, five-minute `state`; the callback checks the state, exchanges the code at Gitea's
`/login/oauth/access_token` (over HTTP, with the client id and secret from its environment, i.e. the
woodpecker-gitea-oauth Secret), reads the user from Gitea's API, refuses a new user when registration is closed and
the user is not in WOODPECKER_ADMIN (`/login?error=registration_closed`), sets the `user_sess` cookie and redirects
to `/`. `web-config.js` carries `window.WOODPECKER_CSRF` for a signed-in session; `POST /api/user/token` needs it in
`X-CSRF-TOKEN` (401 without) and answers the personal token as text; `DELETE` makes a new user hash, so the old
token is refused from then on. Tokens are HS256 JWTs signed with the user's hash, as shared/token makes them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx

STATE_TTL = 300


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(claims: dict[str, Any], secret: str) -> str:
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    mac = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(mac)}"


def claims_of(token: str) -> dict[str, Any] | None:
    """The claims, unverified (to find whose secret verifies it); None if it is no JWT."""
    try:
        return json.loads(_unb64(token.split(".")[1]))
    except (IndexError, ValueError):
        return None


def verify(token: str, secret: str, kinds: tuple[str, ...]) -> dict[str, Any] | None:
    try:
        head, body, mac = token.split(".")
    except ValueError:
        return None
    want = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(want, _unb64(mac)):
        return None
    claims = claims_of(token) or {}
    if claims.get("type") not in kinds or (claims.get("exp") and claims["exp"] < time.time()):
        return None
    return claims


class Login:
    """`forge()` → the server's forge settings: client_id, client_secret, gitea_url (server to Gitea),
    oauth_host (the browser's Gitea), host (WOODPECKER_HOST), admins (WOODPECKER_ADMIN), open (WOODPECKER_OPEN)."""

    def __init__(self, state: dict[str, Any], forge: Callable[[], dict[str, Any] | None],
                 changed: Callable[[], None]) -> None:
        self.state = state
        self.forge = forge
        self.changed = changed
        state.setdefault("users", {})
        state.setdefault("jwt_secret", secrets.token_hex(16))

    # -- users and tokens ---------------------------------------------------------------------------------
    def user(self, login: str, *, admin: bool = False) -> dict[str, Any]:
        users = self.state["users"]
        if login.lower() not in users:
            users[login.lower()] = {"id": len(users) + 1, "login": login, "admin": admin,
                                    "hash": secrets.token_hex(16)}
            self.changed()
        return users[login.lower()]

    def user_by_id(self, uid: Any) -> dict[str, Any] | None:
        return next((u for u in self.state["users"].values() if str(u["id"]) == str(uid)), None)

    def personal_token(self, user: dict[str, Any]) -> str:
        return sign({"type": "user", "user-id": str(user["id"])}, user["hash"])

    def reset_token(self, user: dict[str, Any]) -> str:
        user["hash"] = secrets.token_hex(16)
        self.changed()
        return self.personal_token(user)

    def from_token(self, token: str, kinds: tuple[str, ...]) -> dict[str, Any] | None:
        claims = claims_of(token) or {}
        user = self.user_by_id(claims.get("user-id"))
        return user if user is not None and verify(token, user["hash"], kinds) else None

    def from_cookie(self, cookie_header: str | None) -> dict[str, Any] | None:
        for part in (cookie_header or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == "user_sess":
                return self.from_token(value, ("sess",))
        return None

    def csrf(self, user: dict[str, Any]) -> str:
        return sign({"type": "csrf", "user-id": str(user["id"])}, user["hash"])

    def csrf_ok(self, user: dict[str, Any], header: str | None) -> bool:
        return bool(header) and verify(header or "", user["hash"], ("csrf",)) is not None

    # -- /authorize -----------------------------------------------------------------------------------------
    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str]]:
        """(status, headers) of GET /authorize."""
        if query.get("error"):
            keep = {k: query[k] for k in ("error", "error_description", "error_uri") if query.get(k)}
            return 303, {"Location": "/login?" + urlencode(keep)}
        forge = self.forge()
        if not forge:
            return 303, {"Location": "/login?error=internal_error"}
        code, state = query.get("code", ""), query.get("state", "")
        if not (code and state):
            token = sign({"type": "oauth-state", "forge-id": "1", "exp": int(time.time()) + STATE_TTL},
                         self.state["jwt_secret"])
            params = {"client_id": forge["client_id"], "redirect_uri": f"{forge['host']}/authorize",
                      "response_type": "code", "state": token}
            return 303, {"Location": f"{forge['oauth_host'].rstrip('/')}/login/oauth/authorize?{urlencode(params)}"}
        if verify(state, self.state["jwt_secret"], ("oauth-state",)) is None:
            return 303, {"Location": "/login?error=invalid_state"}
        try:
            with httpx.Client(timeout=10) as http:
                exchanged = http.post(f"{forge['gitea_url'].rstrip('/')}/login/oauth/access_token", data={
                    "grant_type": "authorization_code", "code": code, "redirect_uri": f"{forge['host']}/authorize",
                    "client_id": forge["client_id"], "client_secret": forge["client_secret"]})
                access = exchanged.json().get("access_token") if exchanged.status_code == 200 else None
                me = http.get(f"{forge['gitea_url'].rstrip('/')}/api/v1/user",
                              headers={"Authorization": f"Bearer {access}"}) if access else None
        except (httpx.HTTPError, ValueError):
            return 303, {"Location": "/login?error=oauth_error"}
        if me is None or me.status_code != 200:
            return 303, {"Location": "/login?error=oauth_error"}
        login = str(me.json().get("login", ""))
        admins = {a.strip().lower() for a in forge.get("admins") or () if a.strip()}
        if login.lower() not in self.state["users"] and not forge.get("open") and login.lower() not in admins:
            return 303, {"Location": "/login?error=registration_closed"}
        user = self.user(login, admin=login.lower() in admins)
        user["forge_token_set"] = True
        sess = sign({"type": "sess", "user-id": str(user["id"]), "exp": int(time.time()) + 72 * 3600}, user["hash"])
        return 303, {"Location": "/", "Set-Cookie": f"user_sess={sess}; Path=/; HttpOnly"}

    def web_config(self, cookie_header: str | None) -> str:
        user = self.from_cookie(cookie_header)
        shown = json.dumps({"id": user["id"], "login": user["login"], "admin": user["admin"]}) if user else "null"
        csrf = self.csrf(user) if user else ""
        return (f'\nwindow.WOODPECKER_USER = {shown};\nwindow.WOODPECKER_CSRF = "{csrf}";\n'
                'window.WOODPECKER_VERSION = "3.16.0";\nwindow.WOODPECKER_ROOT_PATH = "";\n')
