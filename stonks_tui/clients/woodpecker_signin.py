"""Woodpecker's personal token without a browser: the OAuth sign-in a browser would make, done over HTTP.

Woodpecker `/authorize` → Gitea's sign-in form (the admin's name and password from the keyring) → the grant page
(the first time) → Woodpecker's callback (its `user_sess` cookie) → `web-config.js` (the CSRF token) →
`POST /api/user/token`. Measured against Woodpecker 3.16.0 and Gitea 1.27.3 (FACTS): ~0.6 s.

Safety: redirects are followed by hand and only to the configured Gitea (its browser URL) and Woodpecker; the
callback Gitea sends to Woodpecker's registered host is sent to the configured Woodpecker URL (the same server
as this machine reaches it). Every request is bounded. Cookies, codes, CSRF values and the token stay in this
module's memory: nothing of them is logged, written, shown or passed to a child. Where Gitea cannot be signed in to
this way — a CAPTCHA, two-factor authentication, a forced password change, no password sign-in (external or SSO
only), wrong credentials, or Woodpecker refusing the user — `SignInImpossible` says which, in those words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from stonks_tui.errors import StepFailed

MAX_HOPS = 12
TIMEOUT = 15.0


class SignInImpossible(StepFailed):
    """Gitea or Woodpecker cannot be signed in to without a person: the operator gives a token instead."""


class _Forms(HTMLParser):
    """Every <form>: its action, method and named inputs (hidden values kept), and its submit buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "method": a.get("method", "get").lower(),
                               "fields": {}, "buttons": {}})
        elif tag in ("input", "textarea", "select") and self.forms and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value", "")
        elif tag == "button" and self.forms and a.get("name"):
            self.forms[-1]["buttons"][a["name"]] = a.get("value", "")
        elif tag == "img" and "captcha" in a.get("class", ""):
            self.text.append("captcha")

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())


def _forms(page: str) -> _Forms:
    parser = _Forms()
    parser.feed(page)
    return parser


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, f"{(parts.hostname or '').lower()}:{port}"


ERRORS = {
    "registration_closed": "Woodpecker's registration is closed and {user} is not in WOODPECKER_ADMIN",
    "org_access_denied": "{user} is in none of the organizations WOODPECKER_ORGS allows",
    "access_denied": "Gitea denied Woodpecker's access request",
    "invalid_state": "Woodpecker did not accept its own sign-in state (is WOODPECKER_HOST this server?)",
    "oauth_error": "Woodpecker could not exchange the sign-in with Gitea (its OAuth client id/secret, or it cannot "
                   "reach WOODPECKER_GITEA_URL)",
}


async def fetch_token(*, woodpecker_url: str, gitea_url: str, woodpecker_host_url: str, user: str, password: str,
                      log: Callable[[str], None] = lambda _line: None, timeout: float = TIMEOUT) -> str:
    """The user's Woodpecker personal token, signed in through Gitea as a browser would."""
    woodpecker = _origin(woodpecker_url)
    registered = _origin(woodpecker_host_url)  # WOODPECKER_HOST: where Gitea sends the browser back
    gitea = _origin(gitea_url)

    def where(url: str) -> str:
        origin = _origin(url)
        if origin == gitea:
            return "gitea"
        if origin in (woodpecker, registered):
            return "woodpecker"
        return ""

    def to_woodpecker(url: str) -> str:
        """The same path on the configured Woodpecker URL (Gitea sends the browser to WOODPECKER_HOST)."""
        base, parts = urlsplit(woodpecker_url), urlsplit(url)
        return urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + parts.path, parts.query, ""))

    from stonks_tui.clients.tls import tls_for

    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False, verify=tls_for(woodpecker_url, gitea_url),
                                 headers={"User-Agent": "stonks-tui"}) as http:
        async def request(method: str, url: str, **kw: object) -> httpx.Response:
            if where(url) == "woodpecker":
                url = to_woodpecker(url)
            try:
                return await http.request(method, url, **kw)  # type: ignore[arg-type]
            except httpx.TransportError as exc:
                side = "Gitea" if where(url) == "gitea" else "Woodpecker"
                raise StepFailed(f"{side} did not answer the sign-in at {urlsplit(url).netloc} "
                                 f"({type(exc).__name__})", hint="check that it runs and its URL setting") from None

        resp = await request("GET", f"{woodpecker_url.rstrip('/')}/authorize")
        signed_in = granted = False
        for _hop in range(MAX_HOPS):
            url = str(resp.url)
            path = urlsplit(url).path
            side = where(url)
            if resp.is_redirect:
                target = urljoin(url, resp.headers.get("Location", ""))
                if not where(target):
                    raise SignInImpossible(
                        f"the sign-in was sent to {urlsplit(target).netloc}, which is neither Gitea "
                        f"({gitea_url}) nor Woodpecker ({woodpecker_url}); stonks-tui follows no other site",
                        hint="check WOODPECKER_EXPERT_FORGE_OAUTH_HOST against gitea_public_url")
                resp = await request("GET", target)
                continue
            if side == "woodpecker":
                error = dict(httpx.QueryParams(urlsplit(url).query)).get("error")
                if error:
                    words = ERRORS.get(error, f"Woodpecker refused the sign-in ({error})")
                    raise SignInImpossible(words.format(user=user))
                if signed_in and path.rstrip("/") in ("", "/"):
                    break
                raise StepFailed(f"Woodpecker answered the sign-in with HTTP {resp.status_code} at {path}",
                                 hint="is woodpecker_url Woodpecker's own address?")
            if side != "gitea":
                raise StepFailed(f"unexpected answer during the sign-in: HTTP {resp.status_code}")
            page = _forms(resp.text)
            if path.startswith(("/user/two_factor", "/user/webauthn")):
                raise SignInImpossible(f"Gitea requires two-factor authentication (2FA) for {user}")
            if path.startswith("/user/settings/change_password"):
                raise SignInImpossible(f"Gitea requires a forced password change for {user} before any sign-in")
            if path.startswith("/user/settings/security"):
                raise SignInImpossible(f"Gitea requires {user} to enrol in two-factor authentication (2FA)")
            if path.startswith("/user/login"):
                form = next((f for f in page.forms if "password" in f["fields"]), None)
                if form is None:
                    raise SignInImpossible("Gitea's sign-in page has no password form: sign-in is external or SSO "
                                           "only")
                if any("captcha" in k.lower() for k in form["fields"]) or "captcha" in page.text:
                    raise SignInImpossible("Gitea asks for a CAPTCHA at sign-in")
                if signed_in:
                    raise SignInImpossible(f"Gitea refused the sign-in of {user}: "
                                           + _flash(page.text, "username or password is incorrect"))
                data = {**form["fields"], "user_name": user, "password": password}
                data.pop("remember", None)
                signed_in = True
                log(f"signing in to Gitea as {user} (for Woodpecker's token)")
                resp = await request("POST", urljoin(url, form["action"] or "/user/login"), data=data)
                continue
            if path.startswith("/login/oauth/authorize") and resp.status_code == 200 and not granted:
                form = next((f for f in page.forms if "client_id" in f["fields"]), None)
                if form is None:
                    raise StepFailed("Gitea's authorization page has no grant form",
                                     hint=_flash(page.text, "see Gitea's log"))
                granted = True
                log("granting Woodpecker access to the account (Gitea's authorize page, once)")
                resp = await request("POST", urljoin(url, form["action"]), data={**form["fields"], "granted": "true"})
                continue
            if resp.status_code == 403 and path.startswith("/user/login"):
                raise SignInImpossible("Gitea's password sign-in is off: sign-in is external or SSO only")
            raise StepFailed(f"Gitea answered the sign-in with HTTP {resp.status_code} at {path}",
                             hint=_flash(page.text, "see Gitea's log"))
        else:
            raise StepFailed("the sign-in went round in circles (more than 12 redirects)")
        config = await request("GET", f"{woodpecker_url.rstrip('/')}/web-config.js")
        m = re.search(r'window\.WOODPECKER_CSRF\s*=\s*"([^"]+)"', config.text)
        if config.status_code != 200 or not m:
            raise StepFailed("Woodpecker did not start a session after the sign-in (no CSRF token in web-config.js)")
        token = await request("POST", f"{woodpecker_url.rstrip('/')}/api/user/token",
                              headers={"X-CSRF-TOKEN": m.group(1)})
        if token.status_code != 200 or not token.text.strip():
            raise StepFailed(f"Woodpecker refused to give the personal token (HTTP {token.status_code})")
        return token.text.strip()


def _flash(text: list[str], default: str) -> str:
    for line in text:
        low = line.lower()
        if any(w in low for w in ("incorrect", "invalid", "prohibit", "disabled", "not allowed", "locked")):
            return line[:160]
    return default
