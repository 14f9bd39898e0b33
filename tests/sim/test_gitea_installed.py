"""gitea-init on an already-initialised Gitea (chart-installed profile): the admin is created in the pod through
the Kubernetes exec API, with the password on stdin — or the step explains why it cannot."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.conftest import PYTHON


def install(state: Path, user: str, profile: str = "gitea-installed") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_")}
    env.update({"STONKS_SIM_SPEED": "0", "STONKS_SIM_PROFILE": profile, "STONKS_GITEA_ADMIN_USER": user})
    return subprocess.run([PYTHON, "-m", "stonks_tui", "--state-dir", str(state), "--demo", "install", "--yes",
                           "--quiet"], env=env, capture_output=True, text=True, timeout=300)


def test_admin_created_through_exec_then_install_completes(tmp_path: Path) -> None:
    r = install(tmp_path, "stonks_admin")
    assert r.returncode == 0, r.stdout[-2500:]
    log = (tmp_path / "stonks-demo" / "logs" / "install" / "gitea-init.log").read_text()
    assert "gitea admin user create` in pod git-server/gitea-" in log
    assert "New user 'stonks_admin' has been successfully created!" in log
    world = json.loads((tmp_path / "demo" / "world.json").read_text())
    user = world["gitea"]["users"]["stonks_admin"]
    assert user["is_admin"] and not user["must_change_password"]


def test_existing_admin_with_unknown_password_is_explained(tmp_path: Path) -> None:
    r = install(tmp_path, "gitea_admin")  # the chart's admin exists, with a password we do not have
    assert r.returncode == 1
    assert "gitea_admin already exists with another password" in r.stdout
    assert "STONKS_GITEA_ADMIN_PASSWORD" in r.stdout
