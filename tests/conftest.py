from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


def shared_file(relative: str) -> Path:
    """A file from ../shared, or skip the test with a reason that says what is missing."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"../shared/{relative} is not beside this checkout; contract test skipped")
    return path


@pytest.fixture
def kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A kubeconfig with two contexts; `KUBECONFIG` points at it for the test."""
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: homelab\n"
        "contexts:\n- name: homelab\n  context: {cluster: c, user: u}\n"
        "- name: other\n  context: {cluster: c, user: u}\n"
        "clusters:\n- name: c\n  cluster: {server: 'http://127.0.0.1:9'}\n"
        "users:\n- name: u\n  user: {}\n"
    )
    monkeypatch.setenv("KUBECONFIG", str(path))
    return path


@pytest.fixture
def cli_env(tmp_path: Path, kubeconfig: Path) -> dict[str, str]:
    """Environment for running the installed CLI in a subprocess, isolated from the developer's."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("STONKS_") and k not in ("PYTHON_KEYRING_BACKEND", "DBUS_SESSION_BUS_ADDRESS")}
    env.update({"KUBECONFIG": str(kubeconfig), "STONKS_STATE_DIR": str(tmp_path / "state"),
                "STONKS_GITEA_PUBLIC_URL": "http://127.0.0.1:30300", "PYTHONUNBUFFERED": "1",
                "STONKS_KEYRING_PASSPHRASE": "test-passphrase", "STONKS_SIM_SPEED": "0"})
    return env


PYTHON = sys.executable
