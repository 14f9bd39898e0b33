"""Teardown removes what the install made and nothing else (issue 15, "nothing foreign is deleted"; issue 17,
"teardown says what it does"): a namespace that existed before the install is kept with everything in it, a volume
someone else's claim holds in a namespace we delete keeps its data, the agents' cluster-admin binding goes, and a
half-typed --delete-pvs is refused before anything runs."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from kubernetes import client, config

from stonks_tui.sim.world import World
from tests.conftest import PYTHON


def cli(state: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_") and k != "PYTHON_KEYRING_BACKEND"}
    env.update({"STONKS_SIM_SPEED": "0", "PYTHONUNBUFFERED": "1"})
    return subprocess.run([PYTHON, "-m", "stonks_tui", "--state-dir", str(state), "--demo", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def cli_env(state: Path, extra: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_") and k != "PYTHON_KEYRING_BACKEND"}
    env.update({"STONKS_SIM_SPEED": "0", "PYTHONUNBUFFERED": "1", **extra})
    return subprocess.run([PYTHON, "-m", "stonks_tui", "--state-dir", str(state), "--demo", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def test_teardown_deletes_only_what_the_install_made(tmp_path: Path) -> None:
    with World(tmp_path / "demo", speed=0.0, faults="") as w:  # the operator's cluster before the install
        c = config.new_client_from_config(config_file=str(w.kubeconfig))
        core = client.CoreV1Api(c)
        core.create_namespace({"metadata": {"name": "kargo"}})  # made by someone else, with their things in it
        core.create_namespaced_config_map("kargo", {"metadata": {"name": "team-settings"}, "data": {"a": "1"}})
        c.close()
    up = cli(tmp_path, "install", "--yes", "--quiet")
    assert up.returncode == 0, up.stdout[-3000:]
    with World(tmp_path / "demo", speed=0.0, faults="") as w:  # after it: a claim of someone else's in our namespace
        c = config.new_client_from_config(config_file=str(w.kubeconfig))
        core = client.CoreV1Api(c)
        assert "app.kubernetes.io/managed-by" not in (core.read_namespace("kargo").metadata.labels or {})
        core.create_namespaced_persistent_volume_claim("woodpecker", {
            "metadata": {"name": "scratch"},
            "spec": {"storageClassName": "local-path", "accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "1Gi"}}}})
        c.close()
    plan = cli(tmp_path, "plan", "teardown")
    assert "kept: it existed before the install" in plan.stdout, plan.stdout[-3000:]
    # Issue 24: the agents' per-replica claims (the chart's agent-config, the cluster's default class) hold only an
    # agent's registration: planned as going, and they go with their volumes (each cycle left two Released ones).
    assert "PersistentVolumeClaim woodpecker/agent-config-woodpecker-agent-0" in plan.stdout, plan.stdout[-3000:]
    down = cli(tmp_path, "teardown", "--yes")
    assert down.returncode == 0, down.stdout[-3000:]
    with World(tmp_path / "demo", speed=0.0, faults="") as w:
        c = config.new_client_from_config(config_file=str(w.kubeconfig))
        core, rbac = client.CoreV1Api(c), client.RbacAuthorizationV1Api(c)
        names = {n.metadata.name for n in core.list_namespace().items}
        assert "kargo" in names and not {"woodpecker", "argocd"} & names, names
        assert core.read_namespaced_config_map("team-settings", "kargo").data == {"a": "1"}
        scratch = [pv for pv in core.list_persistent_volume().items
                   if pv.spec.claim_ref and pv.spec.claim_ref.name == "scratch"]
        assert [pv.spec.persistent_volume_reclaim_policy for pv in scratch] == ["Retain"], scratch
        agents = [pv.metadata.name for pv in core.list_persistent_volume().items
                  if pv.spec.claim_ref and pv.spec.claim_ref.name.startswith("agent-config-")]
        assert agents == [], agents
        assert "woodpecker-agent-inttest" not in {b.metadata.name for b in rbac.list_cluster_role_binding().items}
        c.close()
    log = (tmp_path / "stonks-demo" / "logs" / "teardown" / "namespaces-remove.log").read_text()
    assert "kept      Namespace kargo: it existed before the install" in log
    assert "set Retain on PersistentVolume" in log and "(claim woodpecker/scratch)" in log
    after = cli(tmp_path, "verify")
    assert after.returncode == 0 and "PASS namespaces" in after.stdout, after.stdout[-2000:]


def test_delete_pvs_without_every_name_typed_is_refused_before_anything_runs(tmp_path: Path) -> None:
    up = cli(tmp_path, "install", "--yes", "--quiet")
    assert up.returncode == 0, up.stdout[-3000:]
    r = cli(tmp_path, "teardown", "--yes", "--delete-pvs", "--confirm-pv-names", "pipeline-kargo-pv,pipeline-argcd-pv")
    assert r.returncode == 2, r.stdout[-2000:] + r.stderr
    assert "not typed: pipeline-argocd-pv, pipeline-woodpecker-pv" in r.stderr
    assert "not a pipeline PV: pipeline-argcd-pv" in r.stderr
    assert not (tmp_path / "stonks-demo" / "teardown.json").exists()  # no step ran, no journal
    assert not list((tmp_path / "stonks-demo").glob("logs/teardown/*.log"))


def test_the_live_namespace_stays_clean_of_kargos_finalizers_and_is_never_deleted(tmp_path: Path) -> None:
    """Issue 24: Kargo's management controller puts its finalizer on the Project and its namespace (the live
    one) and takes it off only when the Project goes while it runs; a Project deleted without
    kargo.akuity.io/keep-namespace takes its namespace with it. The install's Project carries the annotation and
    teardown deletes it while Kargo runs: the live namespace stays, with its content, and no Kargo finalizer."""
    up = cli(tmp_path, "install", "--yes", "--quiet")
    assert up.returncode == 0, up.stdout[-3000:]
    with World(tmp_path / "demo", speed=0.0, faults="") as w:
        c = config.new_client_from_config(config_file=str(w.kubeconfig))
        core = client.CoreV1Api(c)
        core.create_namespaced_config_map("stonks-oracle", {"metadata": {"name": "live-settings"}, "data": {"a": "1"}})
        wait = __import__("time").monotonic() + 10
        while "kargo.akuity.io/finalizer" not in (core.read_namespace("stonks-oracle").metadata.finalizers or []):
            assert __import__("time").monotonic() < wait, "Kargo's controller put no finalizer on the namespace"
            __import__("time").sleep(0.05)
        c.close()
    down = cli(tmp_path, "teardown", "--yes")
    assert down.returncode == 0, down.stdout[-3000:]
    with World(tmp_path / "demo", speed=0.0, faults="") as w:
        c = config.new_client_from_config(config_file=str(w.kubeconfig))
        core = client.CoreV1Api(c)
        live = core.read_namespace("stonks-oracle")
        assert live.metadata.deletion_timestamp is None and not (live.metadata.finalizers or [])
        assert core.read_namespaced_config_map("live-settings", "stonks-oracle").data == {"a": "1"}
        projects = client.CustomObjectsApi(c).list_cluster_custom_object("kargo.akuity.io", "v1alpha1", "projects")
        assert projects["items"] == []
        c.close()


def test_the_simulated_kargo_deletes_a_projects_namespace_unless_told_to_keep_it(tmp_path: Path) -> None:
    """Kargo v1.11.0's management controller (projects.go): the simulator does what it does, so a missing
    keep-namespace annotation would show in the tests as the live namespace gone."""
    from stonks_tui.sim.kinds import crd

    with World(tmp_path / "demo", speed=0.0, faults="") as w:
        store = w.store
        c = config.new_client_from_config(config_file=str(w.kubeconfig))
        client.ApiextensionsV1Api(c).create_custom_resource_definition(
            crd("kargo.akuity.io", "projects", "Project", namespaced=False))
        c.close()
        import time

        deadline = time.monotonic() + 5
        while ("kargo.akuity.io", "projects") not in store.objects:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        kind = store.kinds[("kargo.akuity.io", "v1alpha1", "projects")]
        ns_kind = store.kinds[("", "v1", "namespaces")]
        w.kargo.management_ready = lambda: True  # its Deployment is not installed in this bare world
        for name, keep in (("kept", True), ("gone", False)):
            store.create(ns_kind, "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
            meta: dict = {"name": name}
            if keep:
                meta["annotations"] = {"kargo.akuity.io/keep-namespace": "true"}
            store.create(kind, "", {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Project", "metadata": meta})
        w.kargo.manage_projects()
        for name in ("kept", "gone"):
            assert "kargo.akuity.io/finalizer" in store.find(ns_kind, "", name)["metadata"]["finalizers"]
            store.delete(kind, "", name)
        w.kargo.manage_projects()
        deadline = time.monotonic() + 5
        while store.find(ns_kind, "", "gone") is not None:
            assert time.monotonic() < deadline, "the namespace of a Project without keep-namespace stayed"
            time.sleep(0.02)
        assert store.find(ns_kind, "", "kept") is not None
        assert not store.find(ns_kind, "", "kept")["metadata"].get("finalizers")
        assert store.find(kind, "", "kept") is None and store.find(kind, "", "gone") is None


@pytest.mark.parametrize("manager", ["running", "gone"])
def test_kargos_finalizer_on_its_controller_account_never_hangs_the_teardown(tmp_path: Path, manager: str) -> None:
    """Issue 24: Kargo's management controller holds kargo-controller (its ServiceAccount) with its finalizer and
    helm deletes the Deployments first, so `helm uninstall kargo --wait` sat out its whole timeout and the kargo
    namespace stayed Terminating. The account goes first, while the controller runs; without the controller,
    exactly that finalizer is cleared (teardown --yes consents) and said."""
    up = cli(tmp_path, "install", "--yes", "--quiet")
    assert up.returncode == 0, up.stdout[-3000:]
    if manager == "gone":
        with World(tmp_path / "demo", speed=0.0, faults="") as w:
            deploy = w.store.kinds[("apps", "v1", "deployments")]
            w.store.mutate(deploy, "kargo", "kargo-management-controller", lambda o: o["spec"].update(replicas=0))
            w.store.update_status(deploy, "kargo", "kargo-management-controller", {"replicas": 0,
                                                                                   "readyReplicas": 0})
    env = {"STONKS_HELM_TIMEOUT": "30s"}  # the old code waited out helm's --timeout: fail fast if it does
    down = cli_env(tmp_path, env, "teardown", "--yes")
    assert down.returncode == 0, down.stdout[-3000:]
    if manager == "running":
        assert "gone      ServiceAccount kargo/kargo-controller" in down.stdout and "cleared" not in down.stdout
    else:
        assert "cleared   kargo.akuity.io/finalizer on ServiceAccount kargo/kargo-controller" in down.stdout
    with World(tmp_path / "demo", speed=0.0, faults="") as w:
        ns_kind = w.store.kinds[("", "v1", "namespaces")]
        assert w.store.find(ns_kind, "", "kargo") is None  # not left Terminating


def test_a_kargo_release_a_kill_left_never_deployed_is_installed_again_with_its_controllers_account(
        tmp_path: Path) -> None:
    """Found by the kill-anywhere test under load: a kill left the kargo release pending-install; the resume
    uninstalled it (without waiting) and installed it again, which adopted the kargo-controller ServiceAccount still
    Terminating behind Kargo's finalizer — gone a moment later, Kargo's controller without its account. The account
    now goes first (as at teardown), and comes back whole with the new install."""
    import base64
    import gzip
    import json as jsonlib

    up = cli(tmp_path, "install", "--yes", "--quiet")
    assert up.returncode == 0, up.stdout[-3000:]
    with World(tmp_path / "demo", speed=0.0, faults="") as w:
        secrets = w.store.kinds[("", "v1", "secrets")]
        name = next(o["metadata"]["name"] for o in w.store.list(secrets, "kargo")["items"]
                    if o["metadata"]["name"].startswith("sh.helm.release.v1.kargo."))

        def pending(obj: dict) -> None:  # what helm leaves when it is killed mid-install: revision 1 pending
            obj["metadata"]["labels"]["status"] = "pending-install"
            payload = base64.b64decode(obj["data"]["release"])
            release = jsonlib.loads(gzip.decompress(base64.b64decode(payload)))
            release["info"]["status"] = "pending-install"
            packed = base64.b64encode(gzip.compress(jsonlib.dumps(release).encode())).decode()
            obj["data"]["release"] = base64.b64encode(packed.encode()).decode()

        w.store.mutate(secrets, "kargo", name, pending)
        sa = w.store.find(w.store.kinds[("", "v1", "serviceaccounts")], "kargo", "kargo-controller")
        assert "kargo.akuity.io/finalizer" in (sa["metadata"].get("finalizers") or [])
    again = cli(tmp_path, "install", "--yes", "--quiet")
    assert again.returncode == 0, again.stdout[-3000:]
    with World(tmp_path / "demo", speed=0.0, faults="") as w:
        time.sleep(0.5)  # the management controller's turn
        sa = w.store.find(w.store.kinds[("", "v1", "serviceaccounts")], "kargo", "kargo-controller")
        assert sa is not None and not sa["metadata"].get("deletionTimestamp"), sa
