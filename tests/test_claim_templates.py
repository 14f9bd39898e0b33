"""Issue 24: a changed Woodpecker volume size or class changes the server StatefulSet's claim template, which
Kubernetes never lets an update change (the simulated API server refuses it as kube-apiserver does; the real tier
shows the same on the real one). It is planned as what it is and applied only with consent, keeping the data."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.conftest import PYTHON


def run(state: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_") and k != "PYTHON_KEYRING_BACKEND"}
    env.update({"STONKS_SIM_SPEED": "0", "PYTHONUNBUFFERED": "1", **extra})
    return subprocess.run([PYTHON, "-m", "stonks_tui", "--state-dir", str(state), "--demo", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def world_objects(state: Path, plural: str) -> dict[str, dict]:
    objects = json.loads((state / "demo" / "world.json").read_text())["kube"]["objects"]
    return {o["object"]["metadata"]["name"]: o["object"] for o in objects if o["plural"] == plural}


def test_a_changed_volume_size_recreates_the_server_statefulset_keeping_its_claim(tmp_path: Path) -> None:
    first = run(tmp_path, "install", "--yes")
    assert first.returncode == 0, first.stdout[-3000:]
    sts = world_objects(tmp_path, "statefulsets")["woodpecker-server"]
    claim = world_objects(tmp_path, "persistentvolumeclaims")["data-woodpecker-server-0"]

    plan = run(tmp_path, "plan", STONKS_NFS_SIZE_WOODPECKER="6Gi")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "delete    StatefulSet woodpecker/woodpecker-server" in plan.stdout
    assert "size 5Gi → 6Gi (nfs_size_woodpecker)" in plan.stdout and "the data stays on its volume" in plan.stdout

    again = run(tmp_path, "install", "--yes", STONKS_NFS_SIZE_WOODPECKER="6Gi")
    assert again.returncode == 0, again.stdout[-3000:]
    assert "deleted   StatefulSet woodpecker/woodpecker-server (pod and claim kept)" in again.stdout
    new = world_objects(tmp_path, "statefulsets")["woodpecker-server"]
    assert new["metadata"]["uid"] != sts["metadata"]["uid"]
    assert new["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "6Gi"
    kept = world_objects(tmp_path, "persistentvolumeclaims")["data-woodpecker-server-0"]
    assert kept["metadata"]["uid"] == claim["metadata"]["uid"]  # the same claim, on the same volume
    assert kept["spec"]["volumeName"] == claim["spec"]["volumeName"] == "pipeline-woodpecker-pv"
    assert run(tmp_path, "plan", "--exit-code", STONKS_NFS_SIZE_WOODPECKER="6Gi").returncode == 0  # nothing left
