"""ARC removal against the simulated ARC: the right order lets ARC clean up; with its controller already gone,
the namespace hangs on ARC's finalizers, which are cleared only with the operator's consent."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from kubernetes import client, config

from stonks_tui.sim.world import World
from tests.conftest import PYTHON


def arc_install(state: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_")}
    env["STONKS_SIM_SPEED"] = "0"
    return subprocess.run([PYTHON, "-m", "stonks_tui", "--state-dir", str(state), "--demo", "install", "--yes",
                           "--quiet", *extra], env=env, capture_output=True, text=True, timeout=300)


def namespaces(state: Path) -> set[str]:
    with World(state / "demo", speed=0.0, faults="") as w:
        c = config.new_client_from_config(config_file=str(w.kubeconfig))
        names = {n.metadata.name for n in client.CoreV1Api(c).list_namespace().items}
        c.close()
    return names


def test_right_order_lets_arc_clean_up(tmp_path: Path) -> None:
    r = arc_install(tmp_path)
    assert r.returncode == 0, r.stdout[-2000:]
    log = (tmp_path / "stonks-demo" / "logs" / "install" / "arc-removal.log").read_text()
    scale_set = log.index("uninstall runner scale set")
    assert scale_set < log.index("runner scale set arc-runner-set and its runners are gone")
    assert log.index("its runners are gone") < log.index("uninstall ARC controller")  # scale sets first
    assert "cleared" not in log  # ARC's own controller removed its finalizers
    assert not {"arc-systems", "arc-runners"} & namespaces(tmp_path)


def test_controller_gone_first_needs_consent_to_clear_finalizers(tmp_path: Path) -> None:
    # The situation the old script's order creates: ARC's controller removed before its scale sets.
    with World(tmp_path / "demo", speed=0.0, faults="") as w:
        c = config.new_client_from_config(config_file=str(w.kubeconfig))
        client.AppsV1Api(c).delete_namespaced_deployment("arc-gha-rs-controller", "arc-systems")
        c.close()
    refused = arc_install(tmp_path)
    assert refused.returncode == 1
    assert "stuck Terminating on ARC finalizers" in refused.stdout and "--clear-arc-finalizers" in refused.stdout
    assert "arc-runners" in namespaces(tmp_path)  # nothing was forced
    agreed = arc_install(tmp_path, "--clear-arc-finalizers")
    assert agreed.returncode == 0, agreed.stdout[-2000:]
    log = (tmp_path / "stonks-demo" / "logs" / "install" / "arc-removal.log").read_text()
    assert "cleared   ephemeralrunner.actions.github.com/finalizer" in log
    assert not {"arc-systems", "arc-runners"} & namespaces(tmp_path)
