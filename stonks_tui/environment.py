"""The STONKS_* variables that are not settings, checked like settings: a bad value is a clear error (exit 2), and
a misspelt name is not silently ignored."""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping

from stonks_tui.errors import UsageError

CONCURRENCY_DEFAULT, CONCURRENCY_MAX = 4, 32
OTHER_VARIABLES = ("STONKS_KEYRING_PASSPHRASE", "STONKS_STATE_DIR", "STONKS_CONCURRENCY")
# The simulated world's knobs (demo and tests), the real tier's (tests/real), and git's askpass variables (set by
# us for one git process, seen here only if a parent stonks-tui ran a hook that started us).
TEST_PREFIXES = ("STONKS_SIM_", "STONKS_REAL_", "STONKS_GIT_")


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def concurrency(environ: Mapping[str, str] | None = None) -> int:
    raw = _env(environ).get("STONKS_CONCURRENCY", "").strip()
    if not raw:
        return CONCURRENCY_DEFAULT
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= CONCURRENCY_MAX:
        raise UsageError(f"STONKS_CONCURRENCY: {raw[:40]!r} is not a whole number from 1 to {CONCURRENCY_MAX}",
                         hint=f"how many independent steps run at once (default {CONCURRENCY_DEFAULT}); unset it "
                              "or give a number")
    return value


def check_environment(environ: Mapping[str, str] | None = None) -> None:
    from stonks_tui.secrets import ENV_FOR
    from stonks_tui.settings import FIELD_NAMES

    env = _env(environ)
    known = {f"STONKS_{n.upper()}" for n in FIELD_NAMES} | set(ENV_FOR.values()) | set(OTHER_VARIABLES)
    for var in sorted(env):
        if var.startswith("STONKS_") and var not in known and not var.startswith(TEST_PREFIXES):
            close = difflib.get_close_matches(var, sorted(known), n=1, cutoff=0.8)
            raise UsageError(f"{var}: not a variable stonks-tui reads",
                             hint=f"did you mean {close[0]}?" if close else
                             "settings are STONKS_<SETTING> (see docs/operator-guide.md); unset it")
    concurrency(env)
    state_dir = env.get("STONKS_STATE_DIR")
    if state_dir is not None and (not state_dir.strip() or "\0" in state_dir):
        raise UsageError("STONKS_STATE_DIR: empty or not a path", hint="unset it or give a directory")
