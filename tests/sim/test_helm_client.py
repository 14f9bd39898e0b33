"""The helm client against the simulated helm, on points found with the real helm (tests/real)."""

from __future__ import annotations

import os
from pathlib import Path

from stonks_tui.clients.helm import HelmClient
from stonks_tui.sim.helm_standin import install_wrapper
from stonks_tui.sim.world import World


async def test_releases_parse_stdout_only_with_a_group_readable_kubeconfig(world: World, tmp_path: Path) -> None:
    """helm 3.13–3.16 warn on stderr on every call when the kubeconfig is group/world-readable (k3s
    --write-kubeconfig-mode 644): `helm list -o json` must still parse, and the warning is kept as one."""
    world.kubeconfig.chmod(0o644)
    bin_dir = install_wrapper(tmp_path / "bin").parent
    env = {**os.environ, "KUBECONFIG": str(world.kubeconfig), "STONKS_SIM_DIR": str(world.dir),
           "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    helm = HelmClient("stonks-demo", env=env)
    rows = await helm.releases()
    assert {r["name"] for r in rows} >= {"arc", "arc-runner-set"}
    assert any("group-readable" in w for w in helm.warnings)
