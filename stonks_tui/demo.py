"""`--demo`: the whole tool against the simulated world on 127.0.0.1 — the one door from product into sim/.

Starts the world in-process, writes its kubeconfig, puts the helm stand-in first on PATH, generates a clone
shaped like stonks-oracle, and points the settings at loopback endpoints (demo only). The keyring is an
encrypted file in the state dir, unlocked with STONKS_KEYRING_PASSPHRASE or the fixed demo passphrase
(the demo's secrets are throwaway). Nothing here is ever used against a real cluster.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEMO_CONTEXT = "stonks-demo"
DEMO_PASSPHRASE = "stonks-demo-keyring"


@dataclass
class Demo:
    world: Any
    directory: Path
    env: dict[str, str]
    overrides: dict[str, Any]

    def stop(self) -> None:
        self.world.stop()


def start_demo(state_dir: Path, *, profile: str | None = None, wait: float = 0.0) -> Demo:
    """The demo's world for this process. `wait`: how long to wait for another process to let it go (the engine
    process takes it over from the client that started it)."""
    from stonks_tui.errors import LockHeld, UsageError
    from stonks_tui.sim.clone import make_clone
    from stonks_tui.sim.helm_standin import install_wrapper
    from stonks_tui.sim.world import PROFILES, World, WorldBusy, WorldDamaged

    directory = state_dir / "demo"
    chosen = profile or os.environ.get("STONKS_SIM_PROFILE", "fresh-homelab")
    if chosen not in PROFILES:
        raise UsageError(f"STONKS_SIM_PROFILE: {chosen!r} is not a simulated world", hint="one of "
                         + ", ".join(PROFILES))
    from stonks_tui.sim.faults import FaultSpecError, parse

    try:  # before the world takes its directory: a bad rule is a message, not a traceback
        parse(os.environ.get("STONKS_SIM_FAULTS", ""))
    except FaultSpecError as exc:
        raise UsageError(str(exc), hint="rules are TARGET:PATTERN=ACTION[xCOUNT] separated by ';', e.g. "
                                        "gitea:POST /api/v1/user/repos=500x2 (docs/architecture.md)") from None
    import time

    deadline = time.monotonic() + wait
    while True:
        try:
            world = World(directory, profile=chosen)
            break
        except WorldBusy:
            if time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            raise LockHeld("another stonks-tui runs the demo in this state directory (its simulated world is in "
                           "use)", hint="wait for it to finish, or use another --state-dir") from None
    try:
        world.start()
    except WorldDamaged as exc:
        raise UsageError(str(exc), hint=f"start the demo afresh: rm -r {directory} (it holds only the simulated "
                                        "world and its keyring)") from None
    bin_dir = install_wrapper(directory / "bin").parent
    env = {"KUBECONFIG": str(world.kubeconfig), "STONKS_SIM_DIR": str(directory),
           "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    os.environ.update(env)  # helm and git child processes inherit the demo world
    clone = make_clone(directory / "stonks-oracle")
    overrides = {**world.settings_overrides(), "local_clone": str(clone)}
    return Demo(world=world, directory=directory, env=dict(os.environ), overrides=overrides)


def saved_overrides(state_dir: Path) -> dict[str, Any]:
    """The demo's endpoints from its saved world (its ports are kept across starts), without starting it."""
    from stonks_tui.sim.world import overrides_for, saved_ports

    directory = state_dir / "demo"
    return {**overrides_for(saved_ports(directory)), "local_clone": str(directory / "stonks-oracle")}


def demo_clone(state_dir: Path) -> Path:
    from stonks_tui.sim.clone import make_clone

    return make_clone(state_dir / "demo" / "stonks-oracle")


def seed_demo_secrets(store: Any, demo: Demo, admin_user: str) -> None:
    """Operator-provided secrets the demo makes up (once; kept in the demo keyring like real ones)."""
    if not store.get("gitea-admin-password"):
        store.set("gitea-admin-password", "Demo-" + secrets.token_urlsafe(18))
    # No Woodpecker token is made up: the install signs in through the simulated Gitea for one, as it does on a
    # real cluster (STONKS_SIM_GITEA_2FA=1 has the admin enrolled in 2FA, to show the "needs you" fallback).


def demo_passphrase() -> str:
    return os.environ.get("STONKS_KEYRING_PASSPHRASE") or DEMO_PASSPHRASE


def passphrase_is_public(phrase: str | None) -> bool:
    """The demo's fixed passphrase is in this source: stretching it protects nothing (secrets.PUBLIC_PASSPHRASE_KDF)."""
    return phrase == DEMO_PASSPHRASE
