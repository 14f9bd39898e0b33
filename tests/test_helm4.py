"""helm 4 (issue 24): the real tier runs the product on helm 3.13.1, 3.21.4 and 4.3.2. What differed: helm 4's
`list` has no `--all` (its default shows every state), so every install failed its preflight ("unknown flag:
--all"). The simulated helm answers as helm 4 with STONKS_SIM_HELM_VERSION=v4.3.2; the product runs on both."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PYTHON


@pytest.mark.parametrize("version", ["v3.16.2", "v4.3.2"])
def test_install_and_plan_on_helm_3_and_helm_4(tmp_path: Path, version: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_") and k != "PYTHON_KEYRING_BACKEND"}
    env.update({"STONKS_SIM_SPEED": "0", "PYTHONUNBUFFERED": "1", "STONKS_SIM_HELM_VERSION": version})

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([PYTHON, "-m", "stonks_tui", "--state-dir", str(tmp_path), "--demo", *args], env=env,
                              capture_output=True, text=True, timeout=300)

    first = run("install", "--yes")
    assert first.returncode == 0, first.stdout[-3000:]
    assert f"PASS helm: helm {version.lstrip('v')}" in first.stdout
    assert run("plan", "--exit-code").returncode == 0
