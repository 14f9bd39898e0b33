"""Verify's webhook verdict against what the real Gitea does with a delivery (issue 14, point 10).

Gitea keeps its verdict on each delivery in its hook_task table: the check must predict it, refusal and success
alike, and its hint must be the setting that turns one into the other.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.real.conftest import _world
from tests.real.world import ADMIN_PASSWORD, ChartRepo, World

ADMIN = ("gitea_admin", ADMIN_PASSWORD)


@pytest.fixture
def world_default_webhooks(charts: ChartRepo) -> Iterator[World]:
    """The homelab with Gitea's default allow list (empty [webhook] ALLOWED_HOST_LIST: external addresses only)."""
    yield from _world(charts, webhook_hosts="")


def _test_delivery(world: World) -> dict:
    """Ask the real Gitea for a test delivery of Woodpecker's hook; return Gitea's record of it once delivered."""
    assert world.gitea is not None
    repo = "gitea_admin/stonks-oracle"
    hooks = httpx.get(f"{world.gitea.url}/api/v1/repos/{repo}/hooks", auth=ADMIN, timeout=10).json()
    assert len(hooks) == 1, hooks
    db = world.gitea.data / "gitea" / "gitea.db"
    with sqlite3.connect(db) as conn:
        before = conn.execute("SELECT COALESCE(MAX(id), 0) FROM hook_task").fetchone()[0]
    r = httpx.post(f"{world.gitea.url}/api/v1/repos/{repo}/hooks/{hooks[0]['id']}/tests", auth=ADMIN, timeout=10)
    assert r.status_code == 204, r.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with sqlite3.connect(db) as conn:
            # Gitea marks a task is_delivered *before* it sends it (MarkTaskDelivered) and writes the answer
            # afterwards (UpdateHookTask): read the row once the answer is there (a slower receiver lost the race).
            row = conn.execute("SELECT is_succeed, response_content FROM hook_task WHERE id > ? AND is_delivered = 1 "
                               "AND response_content != '' ORDER BY id DESC LIMIT 1", (before,)).fetchone()
        if row:
            return {"succeeded": bool(row[0]), "response": row[1] or ""}
        time.sleep(0.3)
    raise AssertionError("Gitea did not deliver the test webhook within 30 s")


def test_verify_predicts_the_real_giteas_delivery_and_its_hint_fixes_it(world_default_webhooks: World) -> None:
    world = world_default_webhooks
    first = world.cli("install", "--yes")
    assert first.returncode == 1, first.stdout[-3000:]
    assert "FAIL webhook: Gitea will refuse every delivery to http://127.0.0.1:" in first.stdout, first.stdout[-3000:]
    assert "hint: in Gitea's app.ini set [security] ALLOWED_HOST_LIST = 127.0.0.1 " in first.stdout

    refused = _test_delivery(world)  # the real Gitea agrees: refused by its allow list, Woodpecker never hit
    assert not refused["succeeded"] and "can only call allowed HTTP servers" in refused["response"], refused
    assert world.woodpecker.deliveries == []

    # The operator does what the hint says and restarts Gitea.
    assert world.gitea is not None
    ini = world.gitea.app_ini.read_text()
    world.gitea.app_ini.write_text(ini.replace("[security]\n", "[security]\nALLOWED_HOST_LIST = 127.0.0.1\n"))
    world.restart_gitea()
    again = world.cli("verify")
    assert again.returncode == 0, again.stdout[-3000:]
    assert "PASS webhook: Gitea may deliver to http://127.0.0.1:" in again.stdout
    delivered = _test_delivery(world)
    assert delivered["succeeded"], delivered
    assert [d["event"] for d in world.woodpecker.deliveries] == ["push"]
    # The push reached Woodpecker, which starts a pipeline of the pushed commit from its .woodpecker.yml (read
    # from the real Gitea): the stand-in answers the delivery with the pipeline, as the real server does.
    runs = [p for r in world.woodpecker.pipelines.state["pipelines"].values() for p in r]
    assert [(p["event"], p["branch"]) for p in runs] == [("push", "main")], runs
    head = httpx.get(f"{world.gitea.url}/api/v1/repos/gitea_admin/stonks-oracle/branches/main",
                     auth=("gitea_admin", ADMIN_PASSWORD), timeout=10).json()["commit"]["id"]
    assert runs[0]["commit"] == head and "build-query-api" in json.dumps(runs[0])
