"""Which kube context we act on, read like kubectl does (KUBECONFIG, --context) without importing kubernetes.

The context name keys the journal, the lock and the keyring entries; reading it must stay cheap because
`status` and the wizard's first screen need it before any heavy import.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from stonks_tui.errors import UsageError


def kubeconfig_paths(environ: dict[str, str] | None = None) -> list[Path]:
    env = os.environ if environ is None else environ
    value = env.get("KUBECONFIG")
    if value:
        return [Path(p).expanduser() for p in value.split(os.pathsep) if p]
    return [Path("~/.kube/config").expanduser()]


def _load(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"kubeconfig {path} cannot be read: {exc}", hint="fix or point KUBECONFIG elsewhere") from None
    return data if isinstance(data, dict) else {}


def list_contexts(environ: dict[str, str] | None = None) -> tuple[list[str], str | None]:
    """All context names across the kubeconfig files, and the current one (first file that sets it wins)."""
    names: list[str] = []
    current: str | None = None
    for path in kubeconfig_paths(environ):
        data = _load(path)
        for ctx in data.get("contexts") or []:
            name = ctx.get("name") if isinstance(ctx, dict) else None
            if name and name not in names:
                names.append(str(name))
        if current is None and data.get("current-context"):
            current = str(data["current-context"])
    return names, current


def resolve_context(requested: str | None, environ: dict[str, str] | None = None) -> str:
    names, current = list_contexts(environ)
    if requested:
        if names and requested not in names:
            raise UsageError(f"--context {requested!r} is not in your kubeconfig",
                             hint=f"choose one of: {', '.join(names)}")
        return requested
    if current:
        return current
    if names:
        raise UsageError("your kubeconfig has no current-context", hint=f"pass --context (one of {', '.join(names)})")
    raise UsageError("no kubeconfig found (looked at " + ", ".join(map(str, kubeconfig_paths(environ))) + ")",
                     hint="set KUBECONFIG, copy /etc/rancher/k3s/k3s.yaml to ~/.kube/config, or try --demo")
