"""ARC's scale-set controller (actions.github.com) in the simulated world, while it runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stonks_tui.sim.controllers import release_finalizers


def controller(store: Any, ready: Callable[[], bool], etype: str, kind: Any, obj: dict) -> None:
    """A deleted AutoscalingRunnerSet takes its runner sets, runners and listener with it, and every ARC finalizer
    on them (and on the runner namespace's helpers) is cleared. Once the controller is gone nothing clears them:
    the namespace then hangs in Terminating."""
    if kind.group != "actions.github.com" or not obj["metadata"].get("deletionTimestamp"):
        return

    def cleanup() -> None:
        if not ready():
            return
        release_finalizers(store, {"arc-runners", "arc-systems"}, "actions.github.com",
                           lambda k: k.group == "actions.github.com", "arc-controller")

    store.scheduler.after(0.5, cleanup)
