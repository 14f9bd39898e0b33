"""Will Gitea deliver Woodpecker's webhook? Gitea 1.27's rules (modules/hostmatcher, setting.Webhook) as the verify
check models them; the real tier checks the same verdicts against a real Gitea's deliveries."""

from __future__ import annotations

import ipaddress
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from stonks_tui.checks.webhook_delivery import WebhookConfig, host_allowed
from tests.conftest import PYTHON

# (allow list, host in the URL, address it resolves to, Gitea delivers?) — each row from hostmatcher's code.
CASES = [
    ("external", "stonks-ci.celestium.life", "192.168.42.20", False),  # the design's LAN ingress
    ("external", "127.0.0.1", "127.0.0.1", False),
    ("external", "woodpecker-server.woodpecker.svc", "10.43.12.7", False),  # a cluster IP is private too
    ("external", "ci.example.org", "100.64.3.4", False),  # CGNAT is reserved, never external
    ("external", "ci.example.org", "8.8.8.8", True),
    ("private", "stonks-ci.celestium.life", "192.168.42.20", True),
    ("private", "ci.example.org", "100.64.3.4", False),  # reserved is not private either
    ("private", "127.0.0.1", "127.0.0.1", False),
    ("loopback", "127.0.0.1", "127.0.0.1", True),
    ("loopback", "ci", "::1", True),
    ("private, loopback", "ci", "::ffff:192.168.1.9", True),  # an IPv4-mapped address counts as IPv4
    ("192.168.42.0/24", "stonks-ci.celestium.life", "192.168.42.20", True),
    ("192.168.43.0/24", "stonks-ci.celestium.life", "192.168.42.20", False),
    ("*.celestium.life", "stonks-ci.celestium.life", "192.168.42.20", True),  # a host-name pattern
    ("*.celestium.life", "ci.example.org", "192.168.42.20", False),
    ("STONKS-CI.celestium.life", "stonks-ci.celestium.life", "192.168.42.20", True),  # lower-cased
    ("*", "anything", "127.0.0.1", True),
    (" , ", "anything", "127.0.0.1", True),  # a list with no entries allows everything
]


@pytest.mark.parametrize(("allowed", "host", "ip", "delivers"), CASES)
def test_gitea_allow_list(allowed: str, host: str, ip: str, delivers: bool) -> None:
    assert host_allowed(allowed, host, ipaddress.ip_address(ip)) is delivers


@pytest.mark.parametrize(("ini", "effective", "source", "skip_tls"), [
    ("", "external", "Gitea's default", False),
    ("[webhook]\nALLOWED_HOST_LIST =\n", "external", "Gitea's default", False),  # empty keeps the default
    ("[security]\nALLOWED_HOST_LIST = private\n[webhook]\nALLOWED_HOST_LIST =\n", "private",
     "[security] ALLOWED_HOST_LIST", False),  # 1.27: [webhook] falls back to [security]
    ("[security]\nALLOWED_HOST_LIST = private\n[webhook]\nALLOWED_HOST_LIST = loopback\nSKIP_TLS_VERIFY = true\n",
     "loopback", "[webhook] ALLOWED_HOST_LIST", True),
    ('[Webhook]\n; comment\nALLOWED_HOST_LIST = "10.0.0.0/8"\n', "10.0.0.0/8", "[webhook] ALLOWED_HOST_LIST", False),
])
def test_effective_webhook_settings(ini: str, effective: str, source: str, skip_tls: bool) -> None:
    config = WebhookConfig.from_ini(ini)
    assert (config.allowed_hosts, config.source, config.skip_tls_verify) == (effective, source, skip_tls)


def test_simulated_woodpecker_answers_with_the_real_servers_status_codes(tmp_path: Path) -> None:
    """Woodpecker's PostRepo and PostSecret (server/api): a missing forge id is 400, one the forge does not know 500
    (forge.Repo fails), no event 422 (Validate), a duplicate name 500 (the store's UNIQUE constraint); activation
    registers the webhook in Gitea."""
    from stonks_tui.sim.gitea import GiteaSim
    from stonks_tui.sim.woodpecker import WoodpeckerSim

    gitea = GiteaSim(tmp_path, installed=True)
    gitea.state["repos"]["op/app"] = {"id": 7, "owner": "op", "name": "app", "private": True,
                                      "created": "2026-12-01T00:00:00Z"}
    wp = WoodpeckerSim(gitea, lambda: True)
    wp.server.start()
    try:
        token = wp.mint_token("op")
        http = httpx.Client(base_url=wp.server.url, headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert http.post("/api/repos").status_code == 400
        assert http.post("/api/repos", params={"forge_remote_id": "99"}).status_code == 500
        # WOODPECKER_REPO_OWNERS (services/permissions/repo_owners.go): only those owners' repositories, any case.
        wp.forge = lambda: {"repo_owners": ["someone-else"]}
        refused = http.post("/api/repos", params={"forge_remote_id": "7"})
        assert (refused.status_code, refused.text) == (403, "Repo owner is not allowed")
        wp.forge = lambda: {"repo_owners": ["OP"]}
        assert http.post("/api/repos", params={"forge_remote_id": "7"}).status_code == 200
        assert http.post("/api/repos", params={"forge_remote_id": "7"}).status_code == 409
        hooks = gitea.state["repos"]["op/app"]["hooks"]
        assert [h["events"] for h in hooks] == [["push", "create", "pull_request", "release"]]
        assert hooks[0]["config"]["url"].startswith(f"{wp.server.url}/api/hook?access_token=")
        rid = wp.state["repos"]["7"]["id"]
        secret = {"name": "Deploy_Key", "value": "v", "events": ["push"], "images": []}
        assert http.post(f"/api/repos/{rid}/secrets", json={**secret, "events": []}).status_code == 422
        assert http.post(f"/api/repos/{rid}/secrets", json=secret).json()["name"] == "Deploy_Key"  # 3.16 keeps the case
        assert http.post(f"/api/repos/{rid}/secrets", json=secret).status_code == 500
    finally:
        wp.server.stop()


def _install(state: Path, profile: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_") and k != "PYTHON_KEYRING_BACKEND"}
    env.update({"STONKS_SIM_SPEED": "0", "PYTHONUNBUFFERED": "1", "STONKS_SIM_PROFILE": profile})
    return subprocess.run([PYTHON, "-m", "stonks_tui", "--state-dir", str(state), "--demo", "install", "--yes"],
                          env=env, capture_output=True, text=True, timeout=300)


def test_verify_says_exactly_what_to_set_when_gitea_would_refuse_the_webhook(tmp_path: Path) -> None:
    """The homelab's Gitea with its default allow list: the install does everything, then verify fails naming the
    setting that lets Gitea deliver to Woodpecker — not a green install whose pushes never build."""
    r = _install(tmp_path / "state", "webhook-default")
    assert r.returncode == 1, r.stdout[-3000:]
    assert "FAIL webhook: Gitea will refuse every delivery to http://127.0.0.1:" in r.stdout
    assert "127.0.0.1 is a loopback address and Gitea's default allow list is 'external'" in r.stdout
    assert "hint: in Gitea's app.ini set [security] ALLOWED_HOST_LIST = 127.0.0.1" in r.stdout
    assert "access_token" not in r.stdout  # the hook's URL carries Woodpecker's token: never shown
