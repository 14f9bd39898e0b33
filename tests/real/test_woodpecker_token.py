"""The token without a browser, the Gitea half (issue 23): the same sign-in and OAuth grant walked against the real
Gitea 1.27.3 and the simulated one, comparing what the product's sign-in branches on — statuses, where each
redirect goes, the session cookie, the forms' fields, the token exchange. Where they differ the simulator is wrong.

(The whole flow, Woodpecker's half included, runs in every install of this tier: the stand-in Woodpecker exchanges
the code with the real Gitea, and `woodpecker-activate` gets its token that way — no STONKS_WOODPECKER_TOKEN.)"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.real.world import ADMIN_PASSWORD, rmtree

REDIRECT = "https://woodpecker.example.test/authorize"


@pytest.fixture
def real_gitea(built: None) -> Iterator[str]:
    from tests.real.gitea import Gitea

    root = Path(tempfile.mkdtemp(prefix="stonks-real-signin-"))
    root.chmod(0o755)
    gitea = Gitea(root / "gitea", installed=True)
    try:
        gitea.prepare()
        made = gitea._as_git(["gitea", "admin", "user", "create", "--admin", "--username", "gitea_admin",
                              "--password", ADMIN_PASSWORD, "--email", "admin@example.test",
                              "--must-change-password=false"])
        assert made.returncode == 0, made.stderr
        gitea.start()
        yield gitea.url
    finally:
        gitea.stop()
        rmtree(root)


@pytest.fixture
def sim_gitea() -> Iterator[str]:
    from stonks_tui.sim.gitea import GiteaSim

    root = Path(tempfile.mkdtemp(prefix="stonks-sim-signin-"))
    gitea = GiteaSim(root, installed=True)
    gitea.add_user("gitea_admin", ADMIN_PASSWORD, "admin@example.test", admin=True)
    gitea.server.start()
    yield gitea.server.url
    gitea.server.stop()
    rmtree(root)


def _fields(page: str) -> dict[str, list[str]]:
    """Each form's action → the names of its inputs and buttons, sorted."""
    out = {}
    for action, body in re.findall(r'<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>', page, re.S):
        out[action] = sorted(set(re.findall(r'<(?:input|button)[^>]*name="([^"]+)"', body)))
    return out


def walk(url: str) -> list[Any]:
    """The sign-in and grant as stonks-tui makes them, each answer reduced to what the product reads."""
    seen: list[Any] = []
    with httpx.Client(base_url=url, follow_redirects=False, timeout=15) as http:
        app = http.post("/api/v1/user/applications/oauth2", auth=("gitea_admin", ADMIN_PASSWORD),
                        json={"name": "woodpecker", "redirect_uris": [REDIRECT], "confidential_client": True})
        seen.append(("create app", app.status_code))
        client_id, secret = app.json()["client_id"], app.json()["client_secret"]
        query = {"client_id": client_id, "redirect_uri": REDIRECT, "response_type": "code", "state": "s-1"}
        r = http.get("/login/oauth/authorize", params=query)
        seen.append(("authorize, no session", r.status_code, urlsplit(r.headers["location"]).path,
                     "i_like_gitea" in http.cookies))
        basic = http.get("/login/oauth/authorize", params=query, auth=("gitea_admin", ADMIN_PASSWORD))
        seen.append(("authorize, basic auth", basic.status_code, urlsplit(basic.headers.get("location", "")).path))
        login = http.get(r.headers["location"])
        seen.append(("sign-in page", login.status_code, _fields(login.text).get("/user/login")))
        wrong = http.post("/user/login", data={"user_name": "gitea_admin", "password": "wrong-password-1"})
        seen.append(("wrong password", wrong.status_code, "Username or password is incorrect." in wrong.text))
        http.get(r.headers["location"])  # the sign-in page again: its redirect_to is what brings the browser back
        right = http.post("/user/login", data={"user_name": "gitea_admin", "password": ADMIN_PASSWORD})
        back = right.headers.get("location", "")
        seen.append(("signed in", right.status_code, urlsplit(back).path))
        grant = http.get(back)
        fields = _fields(grant.text).get("/login/oauth/grant") or []
        seen.append(("grant page", grant.status_code, fields))
        hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', grant.text))
        granted = http.post("/login/oauth/grant", data={**hidden, "granted": "true"})
        to = urlsplit(granted.headers.get("location", ""))
        params = parse_qs(to.query)
        seen.append(("granted", granted.status_code, f"{to.scheme}://{to.netloc}{to.path}", sorted(params)))
        token = http.post("/login/oauth/access_token", data={
            "grant_type": "authorization_code", "code": params["code"][0], "redirect_uri": REDIRECT,
            "client_id": client_id, "client_secret": secret})
        seen.append(("code exchange", token.status_code, {"access_token", "token_type"} <= set(token.json())))
        again = http.post("/login/oauth/access_token", data={
            "grant_type": "authorization_code", "code": params["code"][0], "redirect_uri": REDIRECT,
            "client_id": client_id, "client_secret": secret})
        seen.append(("code used twice", again.status_code))
        me = httpx.get(f"{url}/api/v1/user", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
        seen.append(("API with the access token", me.status_code, me.json().get("login")))
        second = http.get("/login/oauth/authorize", params={**query, "state": "s-2"})
        to = urlsplit(second.headers.get("location", ""))
        seen.append(("authorize once granted", second.status_code, f"{to.scheme}://{to.netloc}{to.path}",
                     parse_qs(to.query).get("state")))
    return seen


def test_the_simulated_gitea_signs_in_and_grants_as_the_real_one(real_gitea: str, sim_gitea: str) -> None:
    real, simulated = walk(real_gitea), walk(sim_gitea)
    for r, s in zip(real, simulated, strict=True):
        assert s == r, f"simulated {s} != real {r}"
