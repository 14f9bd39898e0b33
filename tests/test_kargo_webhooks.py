"""Issue 24: Kargo's admission webhooks (failurePolicy Fail) answer only once kargo-webhooks-server serves and
cert-manager has injected their CA — after `helm --wait` has ended (no readiness probe). The first Project or Stage
write then failed "failed calling webhook" and the hint blamed the API server. The Kargo resources step waits,
bounded; the hint names the webhook's server and the CA injection. (The real tier: tests/real/kargo_webhooks.py.)"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_demo

NOT_YET = "kube:PATCH /apis/kargo.akuity.io/v1alpha1/projects/=webhookx2"


def test_the_kargo_resources_wait_until_the_webhooks_answer(tmp_path: Path) -> None:
    r = run_demo(tmp_path, "install", "--yes", STONKS_SIM_FAULTS=NOT_YET)
    assert r.returncode == 0, r.stdout[-3000:]
    waited = [line for line in r.stdout.splitlines() if "waiting   for Kargo's admission webhooks" in line]
    assert len(waited) == 1 and 'failed calling webhook "project.kargo.akuity.io"' in waited[0], r.stdout[-3000:]
    assert "✓ kargo-resources" in r.stdout


async def test_a_webhook_that_does_not_answer_is_said_as_such_not_as_a_failed_api_server(tmp_path: Path) -> None:
    from stonks_tui.clients.kube import KubeClient
    from stonks_tui.errors import StepFailed
    from stonks_tui.sim.kinds import crd
    from stonks_tui.sim.world import World

    with World(tmp_path / "w", speed=0.0, faults="kube:PATCH /apis/kargo.akuity.io/=webhookx*") as world:
        kube = KubeClient(str(world.kubeconfig), "stonks-demo")
        await kube.apply(crd("kargo.akuity.io", "projects", "Project", namespaced=False))
        project = {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Project", "metadata": {"name": "p"}}
        for _ in range(50):  # the CRD's kind, served a moment later
            try:
                await kube.apply(project)
            except StepFailed as exc:
                if "does not serve" in exc.message:
                    continue
                failed = exc
                break
        kube.close()
    assert 'failed calling webhook "project.kargo.akuity.io"' in failed.message
    assert "kargo-webhooks-server" in failed.hint and "cert-manager" in failed.hint
    assert "API server failed" not in failed.hint
