"""Issue 24: Woodpecker's server runs as uid 1000 with SQLite on its NFS volume, and Kubernetes applies no fsGroup
to NFS: an export uid 1000 cannot write crash-looped the server while preflight only saw the NFS port answer.
The install proves the export writable as uid 1000 (a short Job) before helm runs, and says what to change."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import demo_objects, run_demo

EXPORT = "/volume1/Kubernetes/pipelines/woodpecker"


def test_an_export_uid_1000_cannot_write_stops_the_woodpecker_release_and_says_what_to_change(tmp_path: Path) -> None:
    plan = run_demo(tmp_path, "plan")
    assert "create    Job woodpecker/stonks-nfs-probe" in plan.stdout, plan.stdout

    refused = run_demo(tmp_path, "install", "--yes", STONKS_SIM_FAULTS=f"nfs:{EXPORT} uid=1000=403x*")
    assert refused.returncode == 1, refused.stdout[-3000:]
    out = refused.stdout
    assert (f"Woodpecker's server runs as uid 1000 and keeps its data on the NFS export 127.0.0.1:{EXPORT} "
            "(nfs_path_woodpecker), which uid 1000 cannot write: touch: /probe/.stonks-probe: Permission denied"
            in out), out[-3000:]
    assert f"chown -R 1000:1000 {EXPORT}" in out and "all_squash,anonuid=1000,anongid=1000" in out
    assert "woodpecker-server" not in demo_objects(tmp_path, "statefulsets")  # helm never ran
    assert demo_objects(tmp_path, "jobs") == {} and not [p for p in demo_objects(tmp_path, "pods")
                                                         if p.startswith("stonks-nfs-probe")]

    fixed = run_demo(tmp_path, "install", "--yes")  # the NAS changed: the run resumes
    assert fixed.returncode == 0, fixed.stdout[-3000:]
    assert f"writable  127.0.0.1:{EXPORT} as uid 1000" in fixed.stdout
    again = run_demo(tmp_path, "install", "--yes")
    assert again.returncode == 0 and "proving" not in again.stdout  # a server running on it has proved it
    assert "stonks-nfs-probe" not in run_demo(tmp_path, "plan").stdout
