"""Waiting costs nothing: CPU used by the product while it waits ~10 s for a workload to become ready.

The simulated world runs in a separate process (so only the waiting process is measured); the wait is
KubeClient.wait_workload_ready, i.e. a watch. Goal: < 2 % of a core.
"""

from __future__ import annotations

import asyncio
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORLD = """
import sys, time
from pathlib import Path
from stonks_tui.sim.world import World
w = World(Path(sys.argv[1]), speed=1.0, faults="").start()
w.controllers.ready_delay = float(sys.argv[2])
print(w.kubeconfig, flush=True)
time.sleep(120)
"""


async def wait_once(kubeconfig: str) -> float:
    from kubernetes import client, config

    from stonks_tui.clients.kube import KubeClient

    api = config.new_client_from_config(config_file=kubeconfig)
    client.AppsV1Api(api).create_namespaced_deployment("default", {"metadata": {"name": "slow"}, "spec": {
        "replicas": 1, "selector": {"matchLabels": {"app": "slow"}},
        "template": {"metadata": {"labels": {"app": "slow"}}, "spec": {"containers": [{"name": "s", "image": "x"}]}}}})
    kube = KubeClient(kubeconfig, "stonks-demo", None)
    kube.resource("apps/v1", "Deployment")  # discovery outside the measured window
    t0, cpu0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    await kube.wait_workload_ready("Deployment", "slow", "default", timeout=60)
    t1, cpu1 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    print(f"waited {t1 - t0:5.1f} s for readiness, CPU {cpu * 1000:6.1f} ms = {100 * cpu / (t1 - t0):.2f} % of a core")
    return cpu / (t1 - t0)


def main() -> None:
    delay = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    with tempfile.TemporaryDirectory() as tmp:
        world = subprocess.Popen([sys.executable, "-c", WORLD, str(Path(tmp) / "w"), str(delay)],
                                 stdout=subprocess.PIPE, text=True)
        try:
            kubeconfig = world.stdout.readline().strip()  # type: ignore[union-attr]
            asyncio.run(wait_once(kubeconfig))
        finally:
            world.kill()


if __name__ == "__main__":
    main()
