"""helm 4 (issue 24): the real tier runs the product on helm 3.13.1, 3.21.4 and 4.3.2. What differed: helm 4's
`list` has no `--all` (its default shows every state), so every install failed its preflight ("unknown flag:
--all"). The simulated helm answers as helm 4 with STONKS_SIM_HELM_VERSION=v4.3.2; the product runs on both."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_demo


@pytest.mark.parametrize("version", ["v3.16.2", "v4.3.2"])
def test_install_and_plan_on_helm_3_and_helm_4(tmp_path: Path, version: str) -> None:
    def run(*args: str) -> subprocess.CompletedProcess:
        return run_demo(tmp_path, *args, STONKS_SIM_HELM_VERSION=version)

    first = run("install", "--yes")
    assert first.returncode == 0, first.stdout[-3000:]
    assert f"PASS helm: helm {version.lstrip('v')}" in first.stdout
    assert run("plan", "--exit-code").returncode == 0
