from __future__ import annotations

import os
import subprocess
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
                "PYTHONUNBUFFERED": "1", "STONKS_KEYRING_PASSPHRASE": "test-passphrase", "STONKS_SIM_SPEED": "0"})
    env.update(LOOPBACK_ENDPOINTS)
    return env


# Every endpoint a non-demo run could contact, pinned to closed loopback ports: the design's defaults name the
# operator's real network (192.168.42.8, *.celestium.life), which tests must never contact.
LOOPBACK_ENDPOINTS = {
    "STONKS_GITEA_PUBLIC_URL": "http://127.0.0.1:9", "STONKS_GITEA_API_URL": "http://127.0.0.1:9",
    "STONKS_REGISTRY_URL": "http://127.0.0.1:9", "STONKS_WOODPECKER_URL": "http://127.0.0.1:9",
    "STONKS_ARGOCD_URL": "http://127.0.0.1:9", "STONKS_NFS_SERVER": "127.0.0.1", "STONKS_NFS_PORT": "9",
}


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test (in this process) that tries to connect anywhere but loopback."""
    import ipaddress
    import socket

    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def allowed(address: object) -> bool:
        if not isinstance(address, tuple):
            return True  # unix sockets
        host = str(address[0])
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return host == "localhost"

    def connect(self: socket.socket, address: object) -> None:
        if not allowed(address):
            raise AssertionError(f"a test tried to connect to {address}: only loopback is allowed")
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: object) -> int:
        if not allowed(address):
            raise AssertionError(f"a test tried to connect to {address}: only loopback is allowed")
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


PYTHON = sys.executable


@pytest.fixture
def demo_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A `--demo` Session (the simulated world in this process) at STONKS_SIM_SPEED=0, isolated from the
    developer's STONKS_ settings; closed after the test."""
    from stonks_tui.cli import Session, build_parser

    monkeypatch.setenv("STONKS_SIM_SPEED", "0")
    for key in [k for k in os.environ if k.startswith("STONKS_") and k != "STONKS_SIM_SPEED"]:
        monkeypatch.delenv(key)
    session = Session(build_parser().parse_args(["--state-dir", str(tmp_path), "--demo"]))
    yield session
    session.close()


def run_demo(state: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`stonks-tui --state-dir STATE --demo ARGS` as an operator runs it, at STONKS_SIM_SPEED=0, free of the
    developer's STONKS_ settings and keyring backend; `env` adds variables (STONKS_SIM_FAULTS=…)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_") and k != "PYTHON_KEYRING_BACKEND"}
    base.update({"STONKS_SIM_SPEED": "0", "PYTHONUNBUFFERED": "1", **env})
    return subprocess.run([PYTHON, "-m", "stonks_tui", "--state-dir", str(state), "--demo", *args], env=base,
                          capture_output=True, text=True, timeout=300)


def demo_objects(state: Path, plural: str) -> dict[str, dict]:
    """The demo world's objects of one kind as it saved them, by name."""
    import json

    objects = json.loads((state / "demo" / "world.json").read_text())["kube"]["objects"]
    return {o["object"]["metadata"]["name"]: o["object"] for o in objects if o["plural"] == plural}
