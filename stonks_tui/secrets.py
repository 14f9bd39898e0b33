"""Secrets: the OS keyring, chosen explicitly, with an encrypted file keyring for SSH sessions.

Order: the operator's own choice (PYTHON_KEYRING_BACKEND or a keyringrc) → a usable desktop keyring
(Secret Service, macOS Keychain, KWallet) → `keyrings.cryptfile` (Argon2id + AES-GCM, mode 0600) unlocked
by a passphrase. Never keyring's auto-chain (with keyrings.alt it ends in a plaintext file), never a
plaintext backend, never getpass() while a TUI owns the terminal.

Secrets are stored per kube context: service `stonks-tui`, user `<context>`, one entry holding every name.
`stonks-tui secrets` shows the names, never the values. Values are cached in memory for the run and
registered with the redactor the moment they are read or written.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stonks_tui.errors import UsageError
from stonks_tui.redact import Redactor

SERVICE = "stonks-tui"
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
    "gitea-db-password": "operator",
}
ENV_FOR = {name: "STONKS_" + name.upper().replace("-", "_") for name in KNOWN}
MIN_PASSPHRASE = 8  # a new keyring's passphrase: everything in it is as strong as this
MIN_GIVEN = 8  # Gitea's MIN_PASSWORD_LENGTH; the wizard asks the same. Shorter values could not be redacted either.


def check_given_secrets(environ: dict[str, str] | None = None) -> None:
    """Secrets handed over in STONKS_* variables meet the rules the wizard applies to them, before anything runs."""
    env = os.environ if environ is None else environ
    for name, var in ENV_FOR.items():
        value = env.get(var)
        if value is not None and KNOWN[name] == "operator":
            check_given_secret(var, value)


def check_given_secret(label: str, value: str) -> None:
    """The rules a secret the operator gives must meet, however it is given (a variable, a prompt)."""
    if len(value) < MIN_GIVEN:
        raise UsageError(f"{label}: {len(value)} characters; a secret needs at least {MIN_GIVEN}",
                         hint="Gitea refuses shorter passwords at its install form: choose a longer one")
    if any(ord(c) < 32 or ord(c) == 0x7f for c in value):
        raise UsageError(f"{label}: contains control characters", hint="remove newlines from the value")
    if any(0xDC80 <= ord(c) <= 0xDCFF for c in value):  # bytes that were not UTF-8, as Python decodes the environment
        raise UsageError(f"{label}: is not valid UTF-8 text", hint="set it again from a UTF-8 terminal or file; "
                                                                  "Gitea and the keyring store UTF-8 only")


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
    if sys.platform == "darwin":  # importing it elsewhere runs ldconfig, gcc and ld looking for macOS's libraries
        with contextlib.suppress(ImportError):  # (ctypes.util.find_library): 0.35 s of every command on Linux
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


# The Argon2 cost a keyring file was made with is written into it (keyrings.cryptfile keeps none: it always uses
# its class defaults, t=15 and 64 MiB, ~0.5 s here). A file without the record has those defaults.
KDF_OPTION = "stonks-kdf"
KDF_KEY = "stonks_2dkdf"  # as it stands in the file (keyrings.cryptfile's escaping, lower-cased by configparser)
# For a keyring whose passphrase is public — the demo's fixed one, in this source — key stretching protects
# nothing, and it cost the demo two derivations per process (~1 s of every command).
PUBLIC_PASSPHRASE_KDF = {"time_cost": 1, "memory_cost": 2**13}
# A new keyring of the operator's: Argon2id at RFC 9106's recommended setting for 64 MiB (t=3, §4: "a uniformly
# safe option"; keyrings.cryptfile's two lanes kept). The library's own default, t=15, is five times that for no
# reason it states, and every command paid it before its first secret: ~0.6 s on both cores, 1.1 s measured in a
# no-op plan on the real tier, where the cluster shares the machine — the larger part of that plan's time.
# A keyring made before this record existed keeps its cost (the library's defaults): it must still unlock.
NEW_KEYRING_KDF = {"time_cost": 3, "memory_cost": 2**16}


def _recorded_kdf(path: Path) -> dict[str, int] | None:
    import configparser

    from keyrings.cryptfile.escape import escape

    config = configparser.RawConfigParser()
    try:
        config.read(path, encoding="utf-8")
        text = config.get(escape("keyring-setting"), escape(KDF_OPTION))
        values = dict(item.split("=", 1) for item in text.split())
        return {"time_cost": int(values["t"]), "memory_cost": int(values["m"])}
    except (configparser.Error, OSError, ValueError, KeyError):
        return None


class DeferredUnlock:
    """keyrings.cryptfile checks a passphrase by decrypting a reference value: one Argon2 derivation (~0.6 s at
    its cost), then a second one for the entry itself. The entry is AES-GCM too, so its own decryption proves the
    passphrase: the reference is decrypted only when that fails (a wrong passphrase, or a damaged entry?) or when
    there is no entry yet to prove it (nothing may be written under a wrong passphrase). Mixed into the file keyring
    the tool makes and into an operator-configured keyrings.cryptfile backend alike."""

    unverified = False
    file_path: str

    def _unlock(self) -> None:
        self.unverified = True

    def check_passphrase(self) -> None:
        if not self.unverified:
            return
        try:
            right = self.get_password("keyring-setting", "password reference") == "password reference value"  # type: ignore[attr-defined]
        except (ValueError, KeyError, TypeError):
            right = False
        if not right:
            raise KeyringLocked(f"the passphrase does not unlock the encrypted keyring {self.file_path}",
                                hint="type it again (nothing was changed), or set STONKS_KEYRING_PASSPHRASE")
        self.unverified = False


def defer_unlock(backend: Any) -> None:
    """An operator-configured keyrings.cryptfile backend unlocks with one derivation too (DeferredUnlock)."""
    cls = type(backend)
    if cls.__module__.startswith("keyrings.cryptfile.") and callable(getattr(cls, "_unlock", None)):
        backend.__class__ = type(cls.__name__, (DeferredUnlock, cls), {})


def encrypted_file_backend(path: Path, passphrase: str, *, public_passphrase: bool = False) -> Any:
    from keyrings.cryptfile.cryptfile import CryptFileKeyring

    class StonksCryptFile(DeferredUnlock, CryptFileKeyring):
        @property
        def file_path(self) -> str:  # type: ignore[override]
            return str(path)

        # keyrings.cryptfile rewrites the file in place (open "w": truncated, then written), so another process
        # reading at that moment — the engine unlocking while its client stores a secret — saw an empty or half
        # file and was refused as damaged. Every write here is a whole new file renamed over the old one.
        def _ensure_file_path(self) -> None:
            path.parent.mkdir(parents=True, exist_ok=True)

        def _write_config_value(self, service: str, key: str, value: str) -> None:
            _rewrite_keyring(path, lambda config: _set_option(config, service, key, value))

        def delete_password(self, service: str, username: str) -> None:
            from keyring.errors import PasswordDeleteError

            if not _rewrite_keyring(path, lambda config: _remove_option(config, service, username)):
                raise PasswordDeleteError("Password not found")

    backend = StonksCryptFile()
    path.parent.mkdir(parents=True, exist_ok=True)
    _refuse_damaged_keyring(path)
    if not path.exists() and not public_passphrase and len(passphrase) < MIN_PASSPHRASE:
        raise KeyringLocked(f"a new encrypted keyring ({path}) needs a passphrase of at least {MIN_PASSPHRASE} "
                            f"characters (this one has {len(passphrase)})",
                            hint="choose a longer one (STONKS_KEYRING_PASSPHRASE or the prompt); nothing was written")
    if not path.exists():
        kdf = PUBLIC_PASSPHRASE_KDF if public_passphrase else NEW_KEYRING_KDF
        _rewrite_keyring(path, lambda config: _set_option(config, "keyring-setting", KDF_OPTION,
                                                           f"t={kdf['time_cost']} m={kdf['memory_cost']}"))
    for name, value in (_recorded_kdf(path) or {}).items():
        setattr(backend, name, value)  # the cost this file was made with (instance attributes: this file only)
    try:
        backend.keyring_key = passphrase  # unlocks an existing file or creates a new one
    except ValueError:
        raise KeyringLocked(f"the passphrase does not unlock the encrypted keyring {path}",
                            hint="type it again (nothing was changed), or set STONKS_KEYRING_PASSPHRASE") from None
    with contextlib.suppress(OSError):
        os.chmod(path, 0o600)
    return backend


def _rewrite_keyring(path: Path, change: Callable[[Any], bool]) -> bool:
    """Read the keyring file, apply `change` to its ini and write it whole (fsutil: a private temporary file renamed
    over the old one), so a reader sees the old file or the new one, never a part. Returns what `change` returned."""
    import configparser
    import io

    from stonks_tui.fsutil import atomic_write_text

    config = configparser.RawConfigParser()
    config.read(path, encoding="utf-8")
    changed = change(config)
    buf = io.StringIO()
    config.write(buf)
    atomic_write_text(path, buf.getvalue())
    return changed


def _set_option(config: Any, service: str, key: str, value: str) -> bool:
    from keyrings.cryptfile.escape import escape as escape_for_ini

    section = escape_for_ini(service)
    if not config.has_section(section):
        config.add_section(section)
    config.set(section, escape_for_ini(key), value)
    return True


def _remove_option(config: Any, service: str, username: str) -> bool:
    from keyrings.cryptfile.escape import escape as escape_for_ini

    section = escape_for_ini(service)
    return config.has_section(section) and config.remove_option(section, escape_for_ini(username))


def _refuse_damaged_keyring(path: Path) -> None:
    """A file that is not an encrypted keyring is said to be one, not reported as a wrong passphrase (the operator
    would retype forever) — and an empty one is not silently replaced by a new keyring."""
    import configparser

    if not path.exists() and not path.is_symlink():
        return  # the first run creates it
    hint = f"move {path} aside (mv {path} {path}.damaged) to start a new keyring; the secrets it held must then be " \
           "given again (generated ones are renewed by the next install)"
    try:
        if path.is_symlink() or not path.is_file():
            raise UsageError(f"keyring {path} is not a regular file", hint=hint)
        if path.stat().st_size == 0:
            raise UsageError(f"keyring {path} is empty: whatever it held is gone", hint=hint)
        parser = configparser.RawConfigParser()
        parser.read_string(path.read_text(encoding="utf-8"))
        if not parser.has_option("keyring_2Dsetting", "password_20reference"):
            if parser.sections() == ["keyring_2Dsetting"] and parser.options("keyring_2Dsetting") == [KDF_KEY]:
                return  # its creation was interrupted after the KDF record: it holds nothing, creating goes on
            raise UsageError(f"keyring {path} is not an encrypted keyring (no passphrase check in it)", hint=hint)
    except (configparser.Error, UnicodeDecodeError, OSError) as exc:
        raise UsageError(f"keyring {path} is not an encrypted keyring ({type(exc).__name__})", hint=hint) from None


def choose_backend(state_dir: Path, *, passphrase: str | None = None, isolated: bool = False,
                   ask: Callable[[str], str] | None = None, public_passphrase: bool = False) -> tuple[Any, str]:
    """(backend, explanation). `isolated` (demo, tests) always uses the encrypted file in state_dir;
    `public_passphrase`: its passphrase is no secret (the demo's), so a new file gets a cheap key derivation."""
    if not isolated and _operator_configured():
        from keyring import core

        # Resolved afresh (keyring.get_keyring() caches the first answer for the whole process).
        try:
            backend = core.load_env() or core.load_config()
        except Exception as exc:  # keyring imports the named module and class: any import error may come back
            named = os.environ.get("PYTHON_KEYRING_BACKEND") or "the keyringrc's default-keyring"
            raise UsageError(f"PYTHON_KEYRING_BACKEND / keyringrc: {named!r} cannot be loaded "
                             f"({type(exc).__name__}: {exc})",
                             hint="name an installed backend as module.Class (python -m keyring --list-backends), "
                                  "or unset it to use the encrypted file keyring") from None
        if backend is None:
            raise UsageError("PYTHON_KEYRING_BACKEND / keyringrc names a keyring backend that cannot be loaded",
                             hint="check the class path, or unset it to use the encrypted file keyring")
        name = _backend_name(backend)
        if any(bad in name for bad in REFUSED_BACKENDS):
            raise UsageError(f"the configured keyring backend {name} is refused: it would store secrets in clear "
                             "or not at all",
                             hint="unset PYTHON_KEYRING_BACKEND (an encrypted file keyring is used instead) or "
                                  "configure a real keyring")
        # An encrypted file backend: unlock it here, never via its own getpass(). (Look at the class: even
        # hasattr() on the instance would run the property's getter, which prompts.)
        if isinstance(getattr(type(backend), "keyring_key", None), property):
            phrase = passphrase or os.environ.get("STONKS_KEYRING_PASSPHRASE") or (ask("Keyring passphrase: ")
                                                                                   if ask else None)
            if not phrase:
                raise KeyringLocked(f"the keyring {name} needs its passphrase",
                                    hint="set STONKS_KEYRING_PASSPHRASE, or run on a terminal to be asked")
            defer_unlock(backend)
            try:
                backend.keyring_key = phrase
            except ValueError:
                raise KeyringLocked(f"the passphrase does not unlock {name}", hint="type it again") from None
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
    return (encrypted_file_backend(path, phrase, public_passphrase=public_passphrase),
            f"encrypted file {path} (Argon2id + AES-GCM)")


class SecretStore:
    """get / set / delete / list_names over a keyring backend, per kube context, cached for the run.

    A context's secrets are one keyring entry (service `stonks-tui`, user `<context>`) holding a JSON map:
    the encrypted file keyring derives an Argon2 key per entry (~0.5 s), so one entry means one derivation
    per read instead of one per secret (12 secrets: 6.5 s → 0.5 s at start-up). Desktop keyrings show one
    item per cluster, which is also what an operator expects to find there.
    """

    def __init__(self, backend: Any, context: str, redactor: Redactor, where: str = "",
                 lock_path: Path | None = None, resolve: Callable[[], tuple[Any, str]] | None = None) -> None:
        self.backend = backend
        # No backend yet: `resolve` chooses and unlocks it the first time it is needed — in the preload thread,
        # or only at the first write when the values were handed over (the engine process, from its client).
        self._resolve = resolve
        self._resolving = threading.Lock()
        self.context = context
        self.redactor = redactor
        self.where = where
        self.lock_path = lock_path  # serialises read-merge-write with other stonks-tui processes
        self._values: dict[str, str] | None = None
        self._loading: threading.Thread | None = None  # a background preload, until joined
        self._load_error: BaseException | None = None
        # What this process changed (None: deleted) and has not written yet. A write merges these into the entry
        # as it is in the keyring now, so two processes never lose each other's values (last writer used to win).
        self._changes: dict[str, str | None] = {}
        self.passphrase: str | None = None
        # Writes go to the keyring from one thread, coalesced: an Argon2 derivation per write would otherwise
        # stall every step running on the event loop. flush() waits for them (the CLI calls it on exit).
        self._lock = threading.Lock()
        self._dirty = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._writer: threading.Thread | None = None
        self.write_error: Exception | None = None

    def _read_entry(self) -> str | None:
        """The context's entry as stored; a damaged one (a truncated file, a changed character: it no longer
        decrypts) is a message naming it, never a traceback — and never written over."""
        backend = self._backend()
        check = getattr(backend, "check_passphrase", None)
        try:
            raw = backend.get_password(SERVICE, self.context)
            if raw is None and check is not None:
                check()  # no entry yet to prove the passphrase: the reference does, before anything is written
            return raw
        except (ValueError, KeyError, TypeError) as exc:  # binascii, JSON and AES-GCM's MAC failure among them
            if check is not None:
                check()  # a wrong passphrase is said as such; only a right one makes this a damaged entry
            where = getattr(self, "where", "") or "the keyring"
            raise UsageError(f"the keyring entry {SERVICE}/{self.context} in {where} is damaged: it does not decrypt "
                             f"({type(exc).__name__})",
                             hint="restore the file from a backup; or move it aside — the next run starts a new "
                                  "keyring, makes the generated secrets again and asks again for the ones you "
                                  "gave (the Gitea admin password, a Woodpecker token)") from None

    def _backend(self) -> Any:
        with self._resolving:
            if self.backend is None and self._resolve is not None:
                self.backend, self.where = self._resolve()
        return self.backend

    def handed_over(self, values: dict[str, str]) -> None:
        """The context's values as the process that started this one had them (the engine's client): no read
        of the keyring, so no Argon2 derivation, unless something is written."""
        self._hold(values)

    def _hold(self, values: dict) -> None:
        """These values are the context's secrets now; the redactor knows each before anything is logged."""
        self._values = {str(k): str(v) for k, v in values.items()}
        for value in self._values.values():
            self.redactor.add(value)

    def snapshot(self) -> dict[str, str]:
        """Every value as this process has it (what the engine process is handed)."""
        values = self._load()
        with self._lock:
            return dict(values)

    def _load(self) -> dict[str, str]:
        loading = self._loading
        if loading is not None and loading is not threading.current_thread():
            self.wait_loaded()
        if self._values is None:
            raw = self._read_entry()
            try:
                values = json.loads(raw) if raw else {}
            except ValueError:
                raise UsageError(f"the keyring entry {SERVICE}/{self.context} is not stonks-tui's JSON map of secrets",
                                 hint="if you stored something under that name yourself, keep a copy of it; then "
                                      "delete the entry with your keyring tool — the next install makes the generated "
                                      "secrets again and asks for the ones you give") from None
            self._hold(values if isinstance(values, dict) else {})
        return self._values

    def _save(self) -> None:
        self._idle.clear()
        self._dirty.set()
        if self._writer is None:
            self._writer = threading.Thread(target=self._write_loop, name="keyring-writer", daemon=True)
            self._writer.start()

    def _write_loop(self) -> None:
        while True:
            self._dirty.wait()
            self._dirty.clear()
            with self._lock:
                changes, self._changes = self._changes, {}
            try:
                self._merge_write(changes)
            except Exception as exc:  # surfaced by flush(); a step must not die in a background thread
                self.write_error = exc
            if not self._dirty.is_set():
                self._idle.set()

    def _merge_write(self, changes: dict[str, str | None]) -> None:
        import fcntl

        fd = None
        if self.lock_path is not None:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            raw = self._read_entry()
            try:
                current = json.loads(raw) if raw else {}
            except ValueError:
                current = {}
            merged = {str(k): str(v) for k, v in current.items()} if isinstance(current, dict) else {}
            for name, value in changes.items():
                if value is None:
                    merged.pop(name, None)
                else:
                    merged[name] = value
            self._backend().set_password(SERVICE, self.context, json.dumps(merged, sort_keys=True))
        finally:
            if fd is not None:
                os.close(fd)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every value set so far is in the keyring."""
        self._idle.wait(timeout)
        if self.write_error is not None:
            raise UsageError(f"the keyring could not store secrets: {self.write_error}",
                             hint="check the keyring (its file's permissions, or the desktop keyring service)")

    def get(self, name: str) -> str | None:
        values = self._load()
        value = values.get(name)
        if value is None and name in ENV_FOR and os.environ.get(ENV_FOR[name]):
            value = os.environ[ENV_FOR[name]]  # given for this run: keep it like any other secret
            self.set(name, value)
        self.redactor.add(value)
        return value

    def set(self, name: str, value: str) -> None:
        self.redactor.add(value)
        values = self._load()
        if values.get(name) == value:
            return
        with self._lock:
            values[name] = value
            self._changes[name] = value
        self._save()

    def delete(self, name: str) -> None:
        values = self._load()
        with self._lock:
            removed = values.pop(name, None)
            if removed is not None:
                self._changes[name] = None
        if removed is not None:
            self._save()

    def list_names(self) -> list[str]:
        return sorted(self._load())

    def reload(self) -> None:
        """Forget the cached entry (another process — the engine — wrote to it); the next read fetches it."""
        self.flush()
        with self._lock:
            self._values = None

    def preload(self, *, background: bool = False) -> None:
        """Read the context's entry once so the redactor knows every value before anything is logged.
        `background`: in a thread (Argon2 releases the GIL, so the unlock runs beside imports and cluster reads);
        every read of a secret, and wait_loaded(), waits for it and raises what it raised."""
        if not background:
            self._load()
            return

        def load() -> None:
            try:
                self._load()  # the backend itself chosen and unlocked here too, when it was left to resolve
            except BaseException as exc:  # said by whoever reads a secret first, in its own thread
                self._load_error = exc

        self._loading = threading.Thread(target=load, name="keyring-unlock", daemon=True)
        self._loading.start()

    def wait_loaded(self) -> None:
        loading = self._loading
        if loading is not None:
            loading.join()
            self._loading = None
        if self._load_error is not None:
            raise self._load_error


def open_store(state_dir: Path, context: str, redactor: Redactor, *, isolated: bool = False,
               passphrase: str | None = None, interactive: bool | None = None,
               public_passphrase: bool = False, background: bool = False,
               handed: dict[str, str] | None = None) -> SecretStore:
    interactive = sys.stdin.isatty() if interactive is None else interactive

    typed: list[str] = []

    def ask(prompt: str) -> str:
        import getpass

        typed.append(getpass.getpass(prompt))
        return typed[-1]

    known = passphrase or os.environ.get("STONKS_KEYRING_PASSPHRASE")
    if (background or handed is not None) and (known or not interactive):  # nothing to ask at a prompt
        state_dir.mkdir(parents=True, exist_ok=True)
        store = SecretStore(None, context, redactor, lock_path=state_dir / "secrets.lock",
                            resolve=lambda: choose_backend(state_dir, passphrase=passphrase, isolated=isolated,
                                                           public_passphrase=public_passphrase))
        store.passphrase = known
        if handed is not None:
            store.handed_over(handed)
        else:
            store.preload(background=True)  # the whole unlock in a thread
        return store
    backend, where = choose_backend(state_dir, passphrase=passphrase, isolated=isolated,
                                    ask=ask if interactive else None, public_passphrase=public_passphrase)
    state_dir.mkdir(parents=True, exist_ok=True)
    store = SecretStore(backend, context, redactor, where, lock_path=state_dir / "secrets.lock")
    # The engine process this client starts opens the same keyring: it is handed this, on a pipe (service/client).
    store.passphrase = passphrase or os.environ.get("STONKS_KEYRING_PASSPHRASE") or (typed[-1] if typed else None)
    store.preload(background=background)
    return store
