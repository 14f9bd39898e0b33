"""The offline checks fail on what is wrong (naming file and field), and verify fails on a world not installed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from stonks_tui.checks.offline import offline_checks
from stonks_tui.settings import Settings
from stonks_tui.sim.clone import make_clone
from tests.conftest import PYTHON


def test_offline_checks_pass_on_the_design_and_fail_on_ghcr(tmp_path: Path) -> None:
    clone = make_clone(tmp_path / "clone")
    good = {r.name: r for r in offline_checks(Settings(gitea_public_url="http://10.1.1.1:30300"), clone)}
    assert {r.status for r in good.values()} == {"pass"}, {n: r.line() for n, r in good.items()}
    bad = {r.name: r for r in offline_checks(Settings(gitea_public_url="http://10.1.1.1:30300",
                                                      registry_host="ghcr.io"), clone)}
    assert bad["images"].status == "fail"
    assert "ghcr.io" in bad["images"].reason or ".woodpecker.yml" in bad["images"].reason
    assert bad["gitops-sources"].status == "pass"  # the warehouse follows registry_host, wherever it points


def test_verify_on_a_world_without_the_install_fails(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_")}
    env["STONKS_SIM_SPEED"] = "0"
    r = subprocess.run([PYTHON, "-m", "stonks_tui", "--state-dir", str(tmp_path), "--demo", "verify"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert "FAIL woodpecker" in r.stdout and "FAIL arc-removed: ARC remains" in r.stdout
