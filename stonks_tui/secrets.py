"""Secrets: the OS keyring, chosen explicitly, with an encrypted file keyring for SSH sessions.

Order: the operator's own choice (PYTHON_KEYRING_BACKEND or a keyringrc) → a usable desktop keyring
(Secret Service, macOS Keychain, KWallet) → `keyrings.cryptfile` (Argon2id + AES-GCM, mode 0600) unlocked
by a passphrase. Never keyring's auto-chain (with keyrings.alt it ends in a plaintext file), never a
plaintext backend, never getpass() while a TUI owns the terminal.

Names are stored per kube context: service `stonks-tui`, user `<context>/<name>`. An index entry lists the
names so `stonks-tui secrets` can show what is stored without revealing values. Values are cached in memory
for the run and registered with the redactor the moment they are read or written.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stonks_tui.errors import UsageError
from stonks_tui.redact import Redactor

SERVICE = "stonks-tui"
INDEX = "__index__"
REFUSED_BACKENDS = ("PlaintextKeyring", "ChainerBackend", "fail.Keyring", "null.Keyring")

# The secrets this tool keeps, and whether it generates them (rotatable) or the operator provides them.
KNOWN = {
    "gitea-admin-password": "operator",
    "gitea-token": "generated",
    "gitea-readonly-token": "generated",
    "woodpecker-oauth-client-id": "generated",
    "woodpecker-oauth-client-secret": "generated",
    "woodpecker-token": "operator",
    "kargo-admin-password": "generated",
    "kargo-token-signing-key": "generated",
    "github-mirror-deploy-key": "generated",
    "registry-password": "operator",
}
ENV_FOR = {name: "STONKS_" + name.upper().replace("-", "_") for name in KNOWN}


class KeyringLocked(UsageError):
    """The encrypted file keyring needs its passphrase (wrong or missing)."""


def _backend_name(backend: Any) -> str:
    return f"{type(backend).__module__}.{type(backend).__name__}"


def _operator_configured() -> bool:
    if os.environ.get("PYTHON_KEYRING_BACKEND"):
        return True
    with contextlib.suppress(Exception):
        from keyring.util import platform_

        return Path(platform_.config_root(), "keyringrc.cfg").exists()
    return False


def _desktop_backend() -> Any | None:
    """A real OS keyring if one is usable here (its priority raises when it is not)."""
    candidates = []
    with contextlib.suppress(ImportError):
        from keyring.backends import SecretService

        if os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
            candidates.append(SecretService.Keyring)
    with contextlib.suppress(ImportError):
        from keyring.backends import macOS

        candidates.append(macOS.Keyring)
    with contextlib.suppress(ImportError):
        from keyring.backends import kwallet

        if os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
            candidates.append(kwallet.DBusKeyring)
    for cls in candidates:
        try:
            if cls.priority > 0:  # type: ignore[operator]
                return cls()
        except Exception:
            continue
    return None


def encrypted_file_backend(path: Path, passphrase: str) -> Any:
    from keyrings.cryptfile.cryptfile import CryptFileKeyring

    class StonksCryptFile(CryptFileKeyring):
        @property
        def file_path(self) -> str:  # type: ignore[override]
            return str(path)

    backend = StonksCryptFile()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        backend.keyring_key = passphrase  # unlocks an existing file or creates a new one
    except ValueError:
        raise KeyringLocked(f"the passphrase does not unlock the encrypted keyring {path}",
                            hint="type it again (nothing was changed), or set STONKS_KEYRING_PASSPHRASE") from None
    with contextlib.suppress(OSError):
        os.chmod(path, 0o600)
    return backend


def choose_backend(state_dir: Path, *, passphrase: str | None = None, isolated: bool = False,
                   ask: Callable[[str], str] | None = None) -> tuple[Any, str]:
    """(backend, explanation). `isolated` (demo, tests) always uses the encrypted file in state_dir."""
    import keyring

    if not isolated and _operator_configured():
        backend = keyring.get_keyring()
        name = _backend_name(backend)
        if any(bad in name for bad in REFUSED_BACKENDS):
            raise UsageError(f"the configured keyring backend {name} is refused: it would store secrets in clear "
                             "or not at all",
                             hint="unset PYTHON_KEYRING_BACKEND (an encrypted file keyring is used instead) or "
                                  "configure a real keyring")
        return backend, f"{name} (configured by you)"
    if not isolated:
        desktop = _desktop_backend()
        if desktop is not None:
            return desktop, f"{_backend_name(desktop)} (desktop keyring)"
    path = state_dir / "secrets.cryptfile"
    phrase = passphrase or os.environ.get("STONKS_KEYRING_PASSPHRASE")
    if not phrase and ask is not None:
        phrase = ask(f"Passphrase for the encrypted keyring {path}: ")
    if not phrase:
        raise KeyringLocked(f"the encrypted keyring {path} needs a passphrase",
                            hint="set STONKS_KEYRING_PASSPHRASE, or run on a terminal to be asked")
    return encrypted_file_backend(path, phrase), f"encrypted file {path} (Argon2id + AES-GCM)"


class SecretStore:
    """get / set / delete / list_names over a keyring backend, per kube context, cached for the run."""

    def __init__(self, backend: Any, context: str, redactor: Redactor, where: str = "") -> None:
        self.backend = backend
        self.context = context
        self.redactor = redactor
        self.where = where
        self._cache: dict[str, str | None] = {}

    def _user(self, name: str) -> str:
        return f"{self.context}/{name}"

    def get(self, name: str) -> str | None:
        if name not in self._cache:
            value = self.backend.get_password(SERVICE, self._user(name))
            if value is None and name in ENV_FOR and os.environ.get(ENV_FOR[name]):
                value = os.environ[ENV_FOR[name]]  # given for this run: keep it like any other secret
                self.set(name, value)
            self._cache[name] = value
        value = self._cache[name]
        self.redactor.add(value)
        return value

    def set(self, name: str, value: str) -> None:
        self.redactor.add(value)
        if self._cache.get(name) == value:
            return
        self.backend.set_password(SERVICE, self._user(name), value)
        self._cache[name] = value
        names = set(self.list_names())
        if name not in names:
            self.backend.set_password(SERVICE, self._user(INDEX), json.dumps(sorted(names | {name})))

    def delete(self, name: str) -> None:
        import keyring.errors

        with contextlib.suppress(keyring.errors.PasswordDeleteError):
            self.backend.delete_password(SERVICE, self._user(name))
        self._cache[name] = None
        names = set(self.list_names()) - {name}
        self.backend.set_password(SERVICE, self._user(INDEX), json.dumps(sorted(names)))

    def list_names(self) -> list[str]:
        raw = self.backend.get_password(SERVICE, self._user(INDEX))
        try:
            return sorted(json.loads(raw)) if raw else []
        except ValueError:
            return []

    def preload(self) -> None:
        """Read every stored value once so the redactor knows them all before anything is logged."""
        for name in self.list_names():
            self.get(name)


def open_store(state_dir: Path, context: str, redactor: Redactor, *, isolated: bool = False,
               passphrase: str | None = None, interactive: bool | None = None) -> SecretStore:
    interactive = sys.stdin.isatty() if interactive is None else interactive

    def ask(prompt: str) -> str:
        import getpass

        return getpass.getpass(prompt)

    backend, where = choose_backend(state_dir, passphrase=passphrase, isolated=isolated,
                                    ask=ask if interactive else None)
    store = SecretStore(backend, context, redactor, where)
    store.preload()
    return store
