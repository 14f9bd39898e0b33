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


def legacy_install(state: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_")}
    env.update({"STONKS_SIM_SPEED": "0", "STONKS_SIM_PROFILE": "legacy-arc"})
    return subprocess.run([PYTHON, "-m", "stonks_tui", "--state-dir", str(state), "--demo", "install", "--yes",
                           "--quiet", *extra], env=env, capture_output=True, text=True, timeout=400)


def test_legacy_arc_is_found_named_and_removed_through_its_controller(tmp_path: Path) -> None:
    """Issue 24: legacy ARC (actions.summerwind.dev, v0.27.6) beside the scale-set ARC. Its Runners and their pods
    carry finalizers only its controller removes: the RunnerDeployment goes first, while the controller runs, then
    the controller; nothing is cleared by force, and its namespaces go. It used to be uninstalled first, leaving
    arc-runners Terminating on runner.actions.summerwind.dev."""
    r = legacy_install(tmp_path)
    assert r.returncode == 0, r.stdout[-3000:]
    log = (tmp_path / "stonks-demo" / "logs" / "install" / "arc-removal.log").read_text()
    assert "legacy ARC (actions.summerwind.dev) RunnerDeployment arc-runners/legacy-runners" in log  # named
    deleted = log.index("deleted   legacy ARC RunnerDeployment arc-runners/legacy-runners")
    assert deleted < log.index("legacy ARC's runners are gone") < \
        log.index("uninstall ARC controller actions-runner-system/actions-runner-controller")
    assert "cleared" not in log
    assert not {"arc-systems", "arc-runners", "actions-runner-system"} & namespaces(tmp_path)


def test_legacy_arc_without_its_controller_needs_consent_to_clear_its_finalizers(tmp_path: Path) -> None:
    with World(tmp_path / "demo", speed=0.0, faults="", profile="legacy-arc") as w:
        c = config.new_client_from_config(config_file=str(w.kubeconfig))
        client.AppsV1Api(c).delete_namespaced_deployment("actions-runner-controller", "actions-runner-system")
        c.close()
    refused = legacy_install(tmp_path)
    assert refused.returncode == 1, refused.stdout[-3000:]
    assert "stuck Terminating on ARC finalizers" in refused.stdout and "runner.actions.summerwind.dev" in \
        refused.stdout, refused.stdout[-3000:]
    agreed = legacy_install(tmp_path, "--clear-arc-finalizers")
    assert agreed.returncode == 0, agreed.stdout[-3000:]
    log = (tmp_path / "stonks-demo" / "logs" / "install" / "arc-removal.log").read_text()
    assert "cleared   runner.actions.summerwind.dev on Runner arc-runners/legacy-runners-abcde-xyz12" in log
    assert not {"arc-systems", "arc-runners", "actions-runner-system"} & namespaces(tmp_path)
