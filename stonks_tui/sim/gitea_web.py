"""The simulated Gitea's web sign-in and OAuth2 provider: what a browser (or stonks-tui, fetching Woodpecker's
token) meets between Woodpecker's /authorize and its callback.

As Gitea 1.27 answers (routers/web/auth/auth.go, oauth2_provider.go; templates/user/auth/{signin_inner,grant}.tmpl,
checked against the real 1.27.3 by tests/real/test_woodpecker_token.py):
- a page without a signed-in session sends the browser to `/user/login?redirect_to=…` (303); the sign-in form has
  `user_name`, `password`, `remember` and no CSRF field; every answer sets the session cookie `i_like_gitea`;
- a wrong password is the form again (200) with "Username or password is incorrect."; a user enrolled in 2FA goes
  to `/user/two_factor` (303), one who must change the password to `/user/settings/change_password`;
- `/login/oauth/authorize` shows the grant page (200) until the user granted the application once, then redirects
  straight to the redirect URI with `code` and `state` (a confidential client); basic auth is not accepted there;
- `POST /login/oauth/grant` (client_id, state, scope, nonce, redirect_uri, granted) checks them against the session
  and redirects (303) with a code; `POST /login/oauth/access_token` exchanges it (client id and secret) for an
  access token the API accepts as a Bearer token.
Sessions and codes live in memory: a restarted world signs in again, as after Gitea restarts with memory sessions.
"""

from __future__ import annotations

import hashlib
import html
import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

COOKIE = "i_like_gitea"
CODE_TTL = 600.0

SIGNIN_FORM = """<!DOCTYPE html><html><head><title>Sign In - Gitea: Git with a cup of tea</title></head><body>
{flash}<form class="ui form" action="/user/login" method="post">
<input id="user_name" type="text" name="user_name" value="{user}" autocomplete="username" required>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<input name="remember" type="checkbox">
<button class="ui primary button">Sign In</button></form></body></html>"""

GRANT_PAGE = """<!DOCTYPE html><html><head><title>Authorize Application - Gitea</title></head><body>
<h3>Authorize "{name}" to access your account?</h3>
<form method="post" action="/login/oauth/grant">
<input type="hidden" name="client_id" value="{client_id}">
<input type="hidden" name="state" value="{state}">
<input type="hidden" name="scope" value="{scope}">
<input type="hidden" name="nonce" value="{nonce}">
<input type="hidden" name="redirect_uri" value="{redirect_uri}">
<button type="submit" id="authorize-app" name="granted" value="true">Authorize Application</button>
<button type="submit" name="granted" value="false">Cancel</button></form></body></html>"""


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def web_paths() -> tuple[str, ...]:
    return ("/user/login", "/login/oauth/authorize", "/login/oauth/grant", "/login/oauth/access_token",
            "/user/two_factor", "/user/settings/change_password")


class Web:
    """Per-world web state: sessions, grants, codes (kept beside GiteaSim.state, never persisted)."""

    def __init__(self) -> None:
        self.sessions: dict[str, dict[str, Any]] = {}
        self.grants: dict[tuple[str, str], str] = {}  # (client_id, user) -> scope
        self.codes: dict[str, dict[str, Any]] = {}
        self.require_2fa: set[str] = set()  # logins enrolled in TOTP ("*": every admin; the world's 2FA switch)
        self.oauth_tokens: dict[str, str] = {}  # hash of an OAuth2 access token -> user
        # [service] switches of app.ini the tests turn: a login CAPTCHA, and no password sign-in (SSO only)
        self.captcha = False
        self.password_signin = True


def handle(h: Any, path: str, query: dict[str, str]) -> None:
    """Serve one web request on the GiteaHandler `h` (the app's lock is held)."""
    app = h.app
    web: Web = app.web
    cookie, session = _session(h, web)
    headers = {"Set-Cookie": f"{COOKIE}={cookie}; Path=/; HttpOnly; SameSite=Lax"}
    form = _form(h) if h.command == "POST" else {}
    user = app.state["users"].get(session.get("uid", "")) if session.get("uid") else None

    if path == "/login/oauth/access_token" and h.command == "POST":
        return _access_token(h, app, web, form)
    if path == "/user/login" and h.command == "GET":
        if query.get("redirect_to"):
            session["redirect_to"] = query["redirect_to"]
        return h.reply(200, _signin_page(web, "", ""), "text/html; charset=utf-8", headers)
    if path == "/user/login" and h.command == "POST" and not web.password_signin:
        return h.reply(403, b"Forbidden", "text/plain; charset=utf-8", headers)  # EnablePasswordSignInForm off
    if path == "/user/login" and h.command == "POST" and web.captcha and not form.get("captcha"):
        flash = '<div class="ui negative message flash-error"><p>The CAPTCHA is incorrect.</p></div>'
        return h.reply(200, _signin_page(web, flash, form.get("user_name", "")), "text/html; charset=utf-8", headers)
    if path == "/user/login" and h.command == "POST":
        login = form.get("user_name", "")
        found = app.state["users"].get(login.lower())
        if found is None or found["password"] != _hash(form.get("password", "")):
            flash = '<div class="ui negative message flash-error"><p>Username or password is incorrect.</p></div>'
            return h.reply(200, _signin_page(web, flash, login), "text/html; charset=utf-8", headers)
        if found["login"].lower() in web.require_2fa or (found.get("is_admin") and "*" in web.require_2fa):
            session["twofa_uid"] = found["login"].lower()
            return h.reply(303, b"", "text/html", {**headers, "Location": "/user/two_factor"})
        session["uid"] = found["login"].lower()
        target = session.pop("redirect_to", "") or "/"
        return h.reply(303, b"", "text/html", {**headers, "Location": target})
    if path in ("/user/two_factor", "/user/settings/change_password"):
        return h.reply(200, b"<html><title>Gitea</title></html>", "text/html; charset=utf-8", headers)
    if user is None:
        here = path + ("?" + urlencode(query) if query else "")
        login_page = f"/user/login?redirect_to={quote(here, safe='')}"
        return h.reply(303, b"", "text/html", {**headers, "Location": login_page})
    if user.get("must_change_password"):
        return h.reply(303, b"", "text/html", {**headers, "Location": "/user/settings/change_password"})
    if path == "/login/oauth/authorize" and h.command == "GET":
        return _authorize(h, app, web, session, user, query, headers)
    if path == "/login/oauth/grant" and h.command == "POST":
        return _grant(h, app, web, session, user, form, headers)
    return h.reply(404, b"Not found", "text/html")


def _signin_page(web: Web, flash: str, user: str) -> bytes:
    if not web.password_signin:  # only the external sources' buttons
        return (b'<!DOCTYPE html><html><body><a class="ui button" href="/user/oauth2/sso">Sign in with SSO</a>'
                b"</body></html>")
    page = SIGNIN_FORM.format(flash=flash, user=html.escape(user))
    if web.captcha:
        page = page.replace('<input name="remember"', '<img class="captcha-img" src="/captcha/x.png">'
                                                     '<input name="captcha" autocomplete="off"><input name="remember"')
    return page.encode()


def _session(h: Any, web: Web) -> tuple[str, dict[str, Any]]:
    for part in (h.headers.get("Cookie") or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE and value in web.sessions:
            return value, web.sessions[value]
    value = secrets.token_hex(8)
    web.sessions[value] = {}
    return value, web.sessions[value]


def _form(h: Any) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(h.body_bytes().decode("utf-8", "replace"), keep_blank_values=True).items()}


def _app_for(app: Any, client_id: str) -> dict | None:
    return next((a for a in app.state["apps"] if a["client_id"] == client_id), None)


def _redirect_with(uri: str, params: dict[str, str]) -> str:
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


def _issue_code(web: Web, client_id: str, login: str, redirect_uri: str) -> str:
    code = secrets.token_urlsafe(24)
    web.codes[_hash(code)] = {"client_id": client_id, "user": login, "redirect_uri": redirect_uri,
                              "expires": time.time() + CODE_TTL}
    return code


def _authorize(h: Any, app: Any, web: Web, session: dict, user: dict, query: dict[str, str],
               headers: dict[str, str]) -> None:
    client = _app_for(app, query.get("client_id", ""))
    redirect_uri = query.get("redirect_uri", "")
    if client is None or query.get("response_type") != "code":
        return h.reply(400, b"<html>invalid_request: Client ID not registered</html>", "text/html", headers)
    if redirect_uri not in client["redirect_uris"]:
        return h.reply(400, b"<html>invalid_request: Unregistered Redirect URI</html>", "text/html", headers)
    login = user["login"].lower()
    if client.get("confidential_client") and (client["client_id"], login) in web.grants:
        code = _issue_code(web, client["client_id"], login, redirect_uri)
        return h.reply(303, b"", "text/html", {**headers, "Location": _redirect_with(
            redirect_uri, {"code": code, "state": query.get("state", "")})})
    session.update(client_id=client["client_id"], redirect_uri=redirect_uri, state=query.get("state", ""))
    page = GRANT_PAGE.format(name=html.escape(client["name"]), client_id=html.escape(client["client_id"]),
                             state=html.escape(query.get("state", "")), scope=html.escape(query.get("scope", "")),
                             nonce=html.escape(query.get("nonce", "")), redirect_uri=html.escape(redirect_uri))
    return h.reply(200, page.encode(), "text/html; charset=utf-8", headers)


def _grant(h: Any, app: Any, web: Web, session: dict, user: dict, form: dict[str, str],
           headers: dict[str, str]) -> None:
    if (session.get("client_id"), session.get("state"), session.get("redirect_uri")) != (
            form.get("client_id"), form.get("state"), form.get("redirect_uri")):
        return h.reply(400, b"Bad Request", "text/plain; charset=utf-8", headers)
    redirect_uri = form["redirect_uri"]
    if form.get("granted") != "true":
        return h.reply(303, b"", "text/html", {**headers, "Location": _redirect_with(
            redirect_uri, {"error": "access_denied", "error_description": "the request is denied",
                           "state": form.get("state", "")})})
    login = user["login"].lower()
    web.grants.setdefault((form["client_id"], login), form.get("scope", ""))
    code = _issue_code(web, form["client_id"], login, redirect_uri)
    return h.reply(303, b"", "text/html", {**headers, "Location": _redirect_with(
        redirect_uri, {"code": code, "state": form.get("state", "")})})


def _access_token(h: Any, app: Any, web: Web, form: dict[str, str]) -> None:
    if not form and (h.headers.get("Content-Type") or "").startswith("application/json"):
        try:
            form = {k: str(v) for k, v in json.loads(h.body_bytes() or b"{}").items()}
        except ValueError:
            form = {}
    client = _app_for(app, form.get("client_id", ""))
    if client is None or client["secret_hash"] != _hash(form.get("client_secret", "")):
        return h.reply_json(400, {"error": "unauthorized_client", "error_description": "invalid client secret"})
    grant = web.codes.pop(_hash(form.get("code", "")), None)
    if form.get("grant_type") != "authorization_code" or grant is None or grant["expires"] < time.time() or \
            grant["client_id"] != client["client_id"] or grant["redirect_uri"] != form.get("redirect_uri"):
        return h.reply_json(400, {"error": "unauthorized_client", "error_description": "client is not authorized"})
    token = "gta_" + secrets.token_urlsafe(32)
    web.oauth_tokens[_hash(token)] = grant["user"]  # not a personal token: the user's token list never shows it
    return h.reply_json(200, {"access_token": token, "token_type": "bearer", "expires_in": 3600,
                              "refresh_token": secrets.token_urlsafe(24), "id_token": ""})
