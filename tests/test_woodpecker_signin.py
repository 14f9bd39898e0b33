"""Woodpecker's token without a browser (issue 23): the product signs in through Gitea's form and Woodpecker's
OAuth callback as a browser would, against the simulated Gitea and Woodpecker serving their halves as the real
ones do (tests/real/test_woodpecker_token.py holds the Gitea half to the real Gitea 1.27.3)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from stonks_tui.clients.woodpecker_signin import SignInImpossible, fetch_token
from stonks_tui.errors import StepFailed
from stonks_tui.sim.gitea import GiteaSim
from stonks_tui.sim.woodpecker import WoodpeckerSim

HOST = "https://woodpecker.example.test"  # WOODPECKER_HOST: only ever a name in redirects, never contacted


@pytest.fixture
def pair(tmp_path: Path):  # type: ignore[no-untyped-def]
    gitea = GiteaSim(tmp_path, installed=True)
    gitea.add_user("gitea_admin", "Admin-pass-123", "a@example.test", admin=True)
    gitea.state["apps"].append({"id": 1, "user": "gitea_admin", "name": "woodpecker", "client_id": "cid-1",
                                "redirect_uris": [f"{HOST}/authorize"], "confidential_client": True,
                                "secret_hash": __import__("hashlib").sha256(b"csecret").hexdigest(), "created": ""})
    gitea.server.start()
    forge: dict[str, Any] = {"client_id": "cid-1", "client_secret": "csecret", "gitea_url": gitea.server.url,
                             "oauth_host": gitea.server.url, "host": HOST, "admins": ["gitea_admin"], "open": False}
    wp = WoodpeckerSim(gitea, lambda: True, forge=lambda: forge)
    wp.server.start()
    try:
        yield gitea, wp, forge
    finally:
        wp.server.stop()
        gitea.server.stop()


def token_for(gitea: GiteaSim, wp: WoodpeckerSim, password: str = "Admin-pass-123", user: str = "gitea_admin",
              lines: list[str] | None = None) -> str:
    return asyncio.run(fetch_token(woodpecker_url=wp.server.url, gitea_url=gitea.server.url, woodpecker_host_url=HOST,
                                   user=user, password=password, log=(lines if lines is not None else []).append))


def test_the_sign_in_gives_a_token_that_works_and_the_same_one_again(pair) -> None:  # type: ignore[no-untyped-def]
    gitea, wp, _ = pair
    lines: list[str] = []
    token = token_for(gitea, wp, lines=lines)
    me = httpx.get(f"{wp.server.url}/api/user", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["login"] == "gitea_admin"
    assert any("granting Woodpecker access" in line for line in lines)  # the grant page, the first time
    again: list[str] = []
    assert token_for(gitea, wp, lines=again) == token  # the token never expires; the flow gives the same one
    assert not any("granting" in line for line in again)  # granted once: Gitea redirects straight back
    assert all(token not in line and "Admin-pass-123" not in line for line in lines + again)
    renewed = httpx.delete(f"{wp.server.url}/api/user/token", headers={"Authorization": f"Bearer {token}"})
    assert renewed.status_code == 200 and renewed.text != token
    assert httpx.get(f"{wp.server.url}/api/user", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_session_without_the_csrf_header_gets_no_token(pair) -> None:  # type: ignore[no-untyped-def]
    gitea, wp, _ = pair
    token_for(gitea, wp)
    sess = wp.login.from_token  # a session cookie made as the callback makes one
    user = wp.login.user("gitea_admin")
    from stonks_tui.sim.woodpecker_login import sign

    cookie = sign({"type": "sess", "user-id": str(user["id"])}, user["hash"])
    assert sess(cookie, ("sess",)) is not None
    bare = httpx.post(f"{wp.server.url}/api/user/token", headers={"Cookie": f"user_sess={cookie}"})
    assert bare.status_code == 401


@pytest.mark.parametrize(("switch", "words"), [
    ("2fa", "Gitea requires two-factor authentication (2FA) for gitea_admin"),
    ("captcha", "Gitea asks for a CAPTCHA at sign-in"),
    ("sso", "sign-in is external or SSO only"),
    ("password-change", "Gitea requires a forced password change for gitea_admin"),
    ("wrong-password", "Gitea refused the sign-in of gitea_admin: Username or password is incorrect."),
    ("not-admin", "Woodpecker's registration is closed and gitea_admin is not in WOODPECKER_ADMIN"),
])
def test_where_gitea_cannot_be_signed_in_to_the_reason_is_said(pair, switch: str, words: str) -> None:  # type: ignore[no-untyped-def]
    gitea, wp, forge = pair
    password = "Admin-pass-123"
    if switch == "2fa":
        gitea.web.require_2fa.add("*")
    elif switch == "captcha":
        gitea.web.captcha = True
    elif switch == "sso":
        gitea.web.password_signin = False
    elif switch == "password-change":
        gitea.state["users"]["gitea_admin"]["must_change_password"] = True
    elif switch == "wrong-password":
        password = "not-it-at-all"
    elif switch == "not-admin":
        forge["admins"] = ["someone_else"]
    with pytest.raises(SignInImpossible) as caught:
        token_for(gitea, wp, password=password)
    assert words in caught.value.message


def test_redirects_go_only_to_the_configured_gitea_and_woodpecker(pair) -> None:  # type: ignore[no-untyped-def]
    """Woodpecker configured with another OAuth host: the sign-in stops before contacting it (a documentation
    address: nothing is ever sent there)."""
    gitea, wp, forge = pair
    forge["oauth_host"] = "http://192.0.2.10:3000"
    with pytest.raises(SignInImpossible, match=r"sent to 192\.0\.2\.10:3000, which is neither Gitea"):
        token_for(gitea, wp)


def test_an_unreachable_woodpecker_is_a_bounded_clear_failure(pair) -> None:  # type: ignore[no-untyped-def]
    gitea, wp, _ = pair
    wp.server.stop()
    with pytest.raises(StepFailed, match="Woodpecker did not answer the sign-in"):
        token_for(gitea, wp)


def _cli(state: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_") and k != "PYTHON_KEYRING_BACKEND"}
    base.update({"STONKS_SIM_SPEED": "0", "PYTHONUNBUFFERED": "1", **env})
    return subprocess.run([sys.executable, "-m", "stonks_tui", "--state-dir", str(state), "--demo", *args],
                          env=base, capture_output=True, text=True, timeout=300)


def test_a_demo_install_gets_its_token_itself_and_renews_a_refused_one(tmp_path: Path) -> None:
    """No token anywhere: woodpecker-activate signs in and is done, asking nothing. Then the token is reset in
    Woodpecker (the stored one is refused from then on): the next install fetches a new one without asking."""
    state = tmp_path / "state"
    first = _cli(state, "install", "--yes")
    assert first.returncode == 0, first.stdout[-3000:]
    assert "signing in to Gitea as gitea_admin (for Woodpecker's token)" in first.stdout
    assert "✓ woodpecker-activate" in first.stdout and "needs you" not in first.stdout
    from stonks_tui.sim.world import World

    with World(state / "demo", speed=0.0, faults="") as world:  # someone resets the token in Woodpecker's UI
        login = world.woodpecker.login
        login.reset_token(login.user("gitea_admin"))
    again = _cli(state, "install", "--yes")
    assert again.returncode == 0, again.stdout[-3000:]
    assert "Woodpecker refused the stored token (HTTP 401): signing in again for a new one" in again.stdout
    logs = "".join(p.read_text(errors="replace") for p in (state / "stonks-demo" / "logs").rglob("*.log"))
    with World(state / "demo", speed=0.0, faults="") as world:
        token = world.woodpecker.login.personal_token(world.woodpecker.login.user("gitea_admin"))
    assert token not in again.stdout + first.stdout + logs
