"""The simulated Gitea behaves as FACTS says Gitea 1.27 does, and our Gitea steps handle each case."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from stonks_tui.sim.world import World

ADMIN = ("gitea_admin", "S3cret-admin-pass")


def install(w: World) -> None:
    form = {"db_type": "sqlite3", "app_name": "Gitea", "repo_root_path": "/data/git", "run_user": "git",
            "domain": "127.0.0.1", "http_port": "3000", "app_url": w.gitea.server.url + "/",
            "log_root_path": "/data/log", "admin_name": ADMIN[0], "admin_passwd": ADMIN[1],
            "admin_confirm_passwd": ADMIN[1], "admin_email": "a@example.com"}
    r = httpx.post(w.gitea.server.url + "/", data=form)
    assert r.status_code == 200
    deadline = time.monotonic() + 5
    while httpx.get(w.gitea.server.url + "/api/v1/version").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_installer_mode_answers_like_gitea(world: World) -> None:
    url = world.gitea.server.url
    health = httpx.get(url + "/api/healthz").json()
    assert "checks" not in health
    version = httpx.get(url + "/api/v1/version")
    assert version.status_code == 404 and "Refresh" in version.headers
    assert 'name="db_type"' in httpx.get(url + "/").text
    bad = httpx.post(url + "/", data={"db_type": "sqlite3"})  # missing fields: still 200
    assert bad.status_code == 200 and httpx.get(url + "/api/v1/version").status_code == 404
    install(world)
    assert "checks" in httpx.get(url + "/api/healthz").json()


def test_tokens_oauth_apps_and_repos(world: World) -> None:
    install(world)
    url = world.gitea.server.url
    basic = httpx.BasicAuth(*ADMIN)
    r = httpx.post(f"{url}/api/v1/users/{ADMIN[0]}/tokens", auth=basic, json={"name": "t", "scopes": ["all"]})
    assert r.status_code == 201 and len(r.json()["sha1"]) == 40
    token = {"Authorization": f"token {r.json()['sha1']}"}
    assert httpx.post(f"{url}/api/v1/users/{ADMIN[0]}/tokens", auth=basic, json={"name": "t"}).status_code == 400
    assert httpx.post(f"{url}/api/v1/users/{ADMIN[0]}/tokens", headers=token,
                      json={"name": "u"}).status_code == 401  # token endpoints need basic auth
    assert httpx.get(f"{url}/api/v1/users/{ADMIN[0]}/tokens", auth=basic).json()[0]["sha1"] == ""
    app = {"name": "W", "redirect_uris": ["https://w/authorize"], "confidential_client": True}
    one = httpx.post(f"{url}/api/v1/user/applications/oauth2", headers=token, json=app).json()
    two = httpx.post(f"{url}/api/v1/user/applications/oauth2", headers=token, json=app).json()
    assert one["id"] != two["id"] and one["client_secret"]  # names are not unique
    listed = httpx.get(f"{url}/api/v1/user/applications/oauth2", headers=token).json()
    assert all(a["client_secret"] == "" for a in listed)  # never readable again
    rotated = httpx.patch(f"{url}/api/v1/user/applications/oauth2/{one['id']}", headers=token, json=app).json()
    assert rotated["client_secret"] and rotated["client_secret"] != one["client_secret"]
    repo = {"name": "stonks-oracle", "private": True}
    assert httpx.post(f"{url}/api/v1/user/repos", headers=token, json=repo).status_code == 201
    assert httpx.post(f"{url}/api/v1/user/repos", headers=token, json=repo).status_code == 409
    assert httpx.post(f"{url}/api/v1/user/repos", headers=token, json={"name": "bad name"}).status_code == 422
    (world.gitea.repo_root / "gitea_admin" / "leftover.git").mkdir(parents=True)
    assert httpx.post(f"{url}/api/v1/user/repos", headers=token, json={"name": "leftover"}).status_code == 500


def test_must_change_password_blocks_the_api(world: World) -> None:
    install(world)
    world.gitea.add_user("fresh", "pw-123456", "f@example.com", admin=True, must_change_password=True)
    r = httpx.get(world.gitea.server.url + "/api/v1/user", auth=httpx.BasicAuth("fresh", "pw-123456"))
    assert r.status_code == 403 and "change your password" in r.json()["message"]


def test_git_push_over_smart_http_with_a_token(world: World, tmp_path: Path) -> None:
    install(world)
    url = world.gitea.server.url
    sha = httpx.post(f"{url}/api/v1/users/{ADMIN[0]}/tokens", auth=httpx.BasicAuth(*ADMIN),
                     json={"name": "push", "scopes": ["write:repository"]}).json()["sha1"]
    httpx.post(f"{url}/api/v1/user/repos", headers={"Authorization": f"token {sha}"}, json={"name": "r"})
    repo = tmp_path / "clone"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "f").write_text("x")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
           "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", "-C", str(repo), "add", "f"], check=True)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "one"], check=True, env=env)
    from stonks_tui.clients.git import Git

    git = Git(repo, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, askpass_dir=tmp_path / "askpass")
    asyncio.run(git.run("push", f"{url}/gitea_admin/r.git", "main", user=ADMIN[0], password=sha))
    refs = asyncio.run(git.remote_refs(f"{url}/gitea_admin/r.git", ADMIN[0], sha))
    assert list(refs) == ["refs/heads/main"]
    for path in (repo / ".git").rglob("*"):
        if path.is_file():
            assert sha.encode() not in path.read_bytes(), f"token leaked into {path}"
    with pytest.raises(Exception, match="git push failed"):
        asyncio.run(git.run("push", f"{url}/gitea_admin/r.git", "main", user=ADMIN[0], password="wrong-token"))


def test_each_table_counts_its_own_ids(world: World) -> None:
    """Gitea's tables autoincrement apart: tokens minted again after a kill leave the next repository's id (which
    Woodpecker keeps as forge_remote_id) as an uninterrupted run would have it."""
    install(world)
    url = world.gitea.server.url
    basic = httpx.BasicAuth(*ADMIN)
    for name in ("a", "b", "c"):
        sha = httpx.post(f"{url}/api/v1/users/{ADMIN[0]}/tokens", auth=basic,
                         json={"name": name, "scopes": ["all"]}).json()["sha1"]
    r = httpx.post(f"{url}/api/v1/user/repos", headers={"Authorization": f"token {sha}"}, json={"name": "r"})
    assert r.json()["id"] == 1


def test_a_world_killed_between_git_init_and_its_record_keeps_no_orphan_repository(tmp_path: Path) -> None:
    """A real Gitea is not killed with its client: its request completes. The simulated one, killed with the
    demo's engine between creating a repository's files and saving its record, goes back to before the request,
    so the resumed run creates the repository instead of meeting 'repository files already exist'."""
    with World(tmp_path / "w", speed=0.0, faults="") as w:
        install(w)
        orphan = w.gitea.repo_path(ADMIN[0], "stonks-oracle")
        subprocess.run(["git", "init", "--bare", "-q", str(orphan)], check=True)  # files, no record: the kill
        half = orphan.parent / ".creating-other.git"
        subprocess.run(["git", "init", "--bare", "-q", str(half)], check=True)
        w.flush()
    with World(tmp_path / "w", speed=0.0, faults="") as w:
        assert not orphan.exists() and not half.exists()
        r = httpx.post(f"{w.gitea.server.url}/api/v1/user/repos", auth=httpx.BasicAuth(*ADMIN),
                       json={"name": "stonks-oracle"})
        assert r.status_code == 201, r.text
