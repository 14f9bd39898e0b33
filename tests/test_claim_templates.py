"""Issue 24: a changed Woodpecker volume size or class changes the server StatefulSet's claim template, which
Kubernetes never lets an update change (the simulated API server refuses it as kube-apiserver does; the real tier
shows the same on the real one). It is planned as what it is and applied only with consent, keeping the data."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import demo_objects, run_demo


def test_a_changed_volume_size_recreates_the_server_statefulset_keeping_its_claim(tmp_path: Path) -> None:
    first = run_demo(tmp_path, "install", "--yes")
    assert first.returncode == 0, first.stdout[-3000:]
    sts = demo_objects(tmp_path, "statefulsets")["woodpecker-server"]
    claim = demo_objects(tmp_path, "persistentvolumeclaims")["data-woodpecker-server-0"]

    plan = run_demo(tmp_path, "plan", STONKS_NFS_SIZE_WOODPECKER="6Gi")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "delete    StatefulSet woodpecker/woodpecker-server" in plan.stdout
    assert "size 5Gi → 6Gi (nfs_size_woodpecker)" in plan.stdout and "the data stays on its volume" in plan.stdout

    again = run_demo(tmp_path, "install", "--yes", STONKS_NFS_SIZE_WOODPECKER="6Gi")
    assert again.returncode == 0, again.stdout[-3000:]
    assert "deleted   StatefulSet woodpecker/woodpecker-server (pod and claim kept)" in again.stdout
    new = demo_objects(tmp_path, "statefulsets")["woodpecker-server"]
    assert new["metadata"]["uid"] != sts["metadata"]["uid"]
    assert new["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "6Gi"
    kept = demo_objects(tmp_path, "persistentvolumeclaims")["data-woodpecker-server-0"]
    assert kept["metadata"]["uid"] == claim["metadata"]["uid"]  # the same claim, on the same volume
    assert kept["spec"]["volumeName"] == claim["spec"]["volumeName"] == "pipeline-woodpecker-pv"
    assert run_demo(tmp_path, "plan", "--exit-code", STONKS_NFS_SIZE_WOODPECKER="6Gi").returncode == 0  # nothing left
