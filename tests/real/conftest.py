"""The real tier: the product against real upstream programs built from the Go module proxy (tests/real/build.py).

Run: `.venv/bin/python -m pytest tests/real` (serially: the tier's Gitea listens where its container would, on
127.0.0.1:3000). Off CI, a machine without Go skips the tier with the reason; in CI (CI=true) that is a failure.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.real import build
from tests.real.world import ChartRepo, World, rmtree

NEEDED = ("kube", "kwok", "helm", "helm-3.13", "helm-4", "gitea")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"real tier: {reason}", pytrace=False)
    pytest.skip(f"real tier: {reason}")


@pytest.fixture(scope="session")
def built() -> None:
    why = build.check_go()
    if why:
        _unavailable(why)
    for name in NEEDED:
        build.build(build.COMPONENTS[name])
    from tests.real import gitea

    why = gitea.why_not()
    if why:
        _unavailable(why)


@pytest.fixture(scope="session")
def charts(built: None) -> Iterator[ChartRepo]:
    root = Path(tempfile.mkdtemp(prefix="stonks-real-charts-"))
    repo = ChartRepo(root).start()
    yield repo
    repo.stop()
    rmtree(root)


def _world(charts: ChartRepo, **kw: object) -> Iterator[World]:
    # Not pytest's tmp_path: that is 0700 under root, and Gitea runs as the `git` user.
    root = Path(tempfile.mkdtemp(prefix="stonks-real-"))
    root.chmod(0o755)
    world = World(root, charts, **kw)  # type: ignore[arg-type]
    try:
        yield world.start()
    finally:
        world.stop()
        if not os.environ.get("STONKS_REAL_KEEP"):
            rmtree(root)
        else:
            print(f"kept {root}")


@pytest.fixture
def world(charts: ChartRepo) -> Iterator[World]:
    """A fresh homelab: Gitea deployed, not initialised (its install page answers); ARC installed."""
    yield from _world(charts)


@pytest.fixture(params=["helm", "helm-3.13", "helm-4"], ids=["helm-3.21.4", "helm-3.13.1", "helm-4.3.2"])
def world_each_helm(charts: ChartRepo, request: pytest.FixtureRequest) -> Iterator[World]:
    """A fresh homelab whose operator runs helm 3.21.4, the oldest supported 3.13.1, or 4.3.2 (helm's current
    major line: server-side apply, kstatus waits): where helm's behaviour matters, the product runs on all three."""
    yield from _world(charts, helm=request.param)


@pytest.fixture
def world_installed_gitea(charts: ChartRepo) -> Iterator[World]:
    """Gitea installed (INSTALL_LOCK) but without an admin: the product creates it through the pod exec API."""
    yield from _world(charts, gitea_installed=True)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """The tier runs serially whatever addopts say (-n 2): its worlds share 127.0.0.1:3000, and each already
    keeps both cores busy."""
    if hasattr(config.option, "numprocesses"):
        config.option.numprocesses = 0
        config.option.dist = "no"
