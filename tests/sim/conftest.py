from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stonks_tui.sim.world import World


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path / "world", speed=0.0, faults="").start()
    try:
        yield w
    finally:
        w.stop()


@pytest.fixture
def kube(world: World):  # the official client, through a kubeconfig, as the product uses it
    from kubernetes import config

    client = config.new_client_from_config(config_file=str(world.kubeconfig), context="stonks-demo")
    yield client
    client.close()
