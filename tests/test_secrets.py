"""The keyring store: explicit backend choice, wrong passphrase, persistence, redaction of plain and base64."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from stonks_tui.errors import UsageError
from stonks_tui.redact import MASK, Redactor
from stonks_tui.secrets import KeyringLocked, choose_backend, open_store


@pytest.fixture(autouse=True)
def headless(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An SSH session: no D-Bus, no keyring configured by the operator."""
    for var in ("DBUS_SESSION_BUS_ADDRESS", "PYTHON_KEYRING_BACKEND", "STONKS_KEYRING_PASSPHRASE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no keyringrc


def test_no_desktop_keyring_means_the_encrypted_file(tmp_path: Path) -> None:
    backend, where = choose_backend(tmp_path, passphrase="correct horse")
    assert "CryptFile" in type(backend).__name__ and "encrypted file" in where
    path = tmp_path / "secrets.cryptfile"
    assert path.exists() and path.stat().st_mode & 0o777 == 0o600


def test_without_a_passphrase_it_says_how_to_give_one(tmp_path: Path) -> None:
    with pytest.raises(KeyringLocked, match="needs a passphrase") as err:
        choose_backend(tmp_path)
    assert "STONKS_KEYRING_PASSPHRASE" in err.value.hint


def test_wrong_passphrase_is_refused_and_nothing_is_overwritten(tmp_path: Path) -> None:
    store = open_store(tmp_path, "ctx", Redactor(), passphrase="right-phrase", interactive=False)
    store.set("gitea-token", "tok-123456789")
    store.flush()
    before = (tmp_path / "secrets.cryptfile").read_bytes()
    with pytest.raises(KeyringLocked, match="does not unlock"):
        open_store(tmp_path, "ctx", Redactor(), passphrase="wrong-phrase", interactive=False)
    assert (tmp_path / "secrets.cryptfile").read_bytes() == before
    again = open_store(tmp_path, "ctx", Redactor(), passphrase="right-phrase", interactive=False)
    assert again.get("gitea-token") == "tok-123456789" and again.list_names() == ["gitea-token"]


def test_a_wrong_passphrase_is_refused_for_a_context_with_no_entry_yet(tmp_path: Path) -> None:
    """The entry proves the passphrase (its AES-GCM tag); a context without one must still be refused before a
    value is written under a wrong passphrase."""
    store = open_store(tmp_path, "ctx", Redactor(), passphrase="right-phrase", interactive=False)
    store.set("gitea-token", "tok-123456789")
    store.flush()
    with pytest.raises(KeyringLocked, match="does not unlock"):
        open_store(tmp_path, "other-ctx", Redactor(), passphrase="wrong-phrase", interactive=False)


def test_contexts_are_separate_and_values_never_in_clear(tmp_path: Path) -> None:
    a = open_store(tmp_path, "ctx-a", Redactor(), passphrase="pp-123456", interactive=False)
    a.set("gitea-admin-password", "Plain-Secret-Value-1")
    a.flush()
    b = open_store(tmp_path, "ctx-b", Redactor(), passphrase="pp-123456", interactive=False)
    assert b.get("gitea-admin-password") is None
    assert b"Plain-Secret-Value-1" not in (tmp_path / "secrets.cryptfile").read_bytes()


def test_operator_configured_plaintext_backend_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.cryptfile.file.PlaintextKeyring")
    with pytest.raises(UsageError, match="refused"):
        choose_backend(tmp_path, passphrase="x")


def test_operator_configured_backend_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.cryptfile.cryptfile.CryptFileKeyring")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # where that backend keeps its file
    backend, where = choose_backend(tmp_path, passphrase="x")
    assert "configured by you" in where and type(backend).__name__ == "CryptFileKeyring"


@pytest.mark.parametrize("configured", [False, True], ids=["the tool's file", "operator's cryptfile"])
def test_an_unlock_in_the_background_derives_one_key_and_still_refuses_a_wrong_passphrase(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, configured: bool) -> None:
    """Each Argon2 derivation costs ~0.6 s at the file's cost: opening a context's secrets was two (the reference
    value, then the entry), in the foreground. Now one, in a thread beside the command's imports and cluster reads
    (plan, verify, install) — the entry's own AES-GCM tag proves the passphrase."""
    from argon2 import low_level

    if configured:
        monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.cryptfile.cryptfile.CryptFileKeyring")
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    store = open_store(tmp_path, "ctx", Redactor(), passphrase="right-phrase", interactive=False)
    store.set("gitea-token", "tok-123456789")
    store.flush()
    real, calls = low_level.hash_secret_raw, []
    monkeypatch.setattr(low_level, "hash_secret_raw", lambda *a, **k: calls.append(1) or real(*a, **k))
    redactor = Redactor()
    again = open_store(tmp_path, "ctx", redactor, passphrase="right-phrase", interactive=False, background=True)
    again.wait_loaded()
    assert again.get("gitea-token") == "tok-123456789" and redactor("tok-123456789") == MASK
    assert len(calls) == 1
    wrong = open_store(tmp_path, "ctx", Redactor(), passphrase="wrong-phrase", interactive=False, background=True)
    with pytest.raises(KeyringLocked, match="does not unlock"):
        wrong.get("gitea-token")  # said at the first read, in the reader's thread
    with pytest.raises(KeyringLocked, match="does not unlock"):
        open_store(tmp_path, "other-ctx", Redactor(), passphrase="wrong-phrase", interactive=False).list_names()


def test_env_secret_is_taken_once_and_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STONKS_GITEA_ADMIN_PASSWORD", "From-Env-Password")
    store = open_store(tmp_path, "ctx", Redactor(), passphrase="pp-123456", interactive=False)
    assert store.get("gitea-admin-password") == "From-Env-Password"
    store.flush()
    monkeypatch.delenv("STONKS_GITEA_ADMIN_PASSWORD")
    again = open_store(tmp_path, "ctx", Redactor(), passphrase="pp-123456", interactive=False)
    assert again.get("gitea-admin-password") == "From-Env-Password"


def test_redactor_masks_plain_and_base64_forms() -> None:
    r = Redactor()
    secret = "s3cr3t-value-xyz"
    r.add(secret)
    b64 = base64.b64encode(secret.encode()).decode()
    text = f"password={secret} data={b64} url={base64.urlsafe_b64encode(secret.encode()).decode().rstrip('=')}"
    masked = r(text)
    assert secret not in masked and b64 not in masked and masked.count(MASK) == 3
    r.add("abc")  # too short to be a secret: never masks ordinary words
    assert r("abc def") == "abc def"


def test_two_processes_writing_the_keyring_keep_each_others_values(tmp_path: Path) -> None:
    """Each process used to rewrite the whole entry from its own copy: the last writer won and the other's new
    secrets (a Gitea token minted by the install while `secrets rotate` ran) were gone."""
    from stonks_tui.redact import Redactor
    from stonks_tui.secrets import SecretStore, encrypted_file_backend

    path = tmp_path / "secrets.cryptfile"

    def store() -> SecretStore:
        s = SecretStore(encrypted_file_backend(path, "a-passphrase"), "homelab", Redactor(),
                        lock_path=tmp_path / "secrets.lock")
        s.preload()
        return s

    first = store()
    first.set("gitea-token", "token-one-1234")
    first.set("kargo-token-signing-key", "signing-key-1234")
    first.flush()
    a, b = store(), store()  # two processes, each with the entry as it was when it started
    a.set("gitea-readonly-token", "readonly-5678")
    b.delete("kargo-token-signing-key")
    b.set("woodpecker-token", "woodpecker-9012")
    a.flush()
    b.flush()
    assert store()._load() == {"gitea-token": "token-one-1234", "gitea-readonly-token": "readonly-5678",
                               "woodpecker-token": "woodpecker-9012"}


def test_a_reader_never_sees_a_half_written_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """keyrings.cryptfile truncated the file and wrote it again: the engine, unlocking while its client stored a
    secret, found it empty ("keyring … is empty") and refused the run. Deterministic: a reader looks at the file
    in the middle of every write (while the new ini is being written out) and must find a whole keyring."""
    import configparser

    from stonks_tui.secrets import _refuse_damaged_keyring, encrypted_file_backend

    path = tmp_path / "secrets.cryptfile"
    writer = encrypted_file_backend(path, "a-passphrase")
    seen: list[int] = []
    original = configparser.RawConfigParser.write

    def write_and_look(self, fp, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, fp, *args, **kwargs)
        _refuse_damaged_keyring(path)  # raises UsageError on an empty or partial file
        seen.append(path.stat().st_size)

    monkeypatch.setattr(configparser.RawConfigParser, "write", write_and_look)
    writer.set_password("stonks-tui", "ctx-1", "v" * 2000)
    writer.delete_password("stonks-tui", "ctx-1")
    assert len(seen) == 2 and writer.get_password("stonks-tui", "ctx-1") is None
    assert not list(tmp_path.glob(".secrets.cryptfile.*")) and path.stat().st_mode & 0o777 == 0o600


def test_each_keyring_file_keeps_the_key_derivation_cost_it_was_made_with(tmp_path: Path) -> None:
    """The demo's passphrase is in the source: its keyring's Argon2 is cheap and the file says so. A new keyring of
    the operator's gets RFC 9106's t=3 at 64 MiB, recorded; one made before the record (keyrings.cryptfile's own
    t=15) keeps that cost and still unlocks."""
    import shutil

    from stonks_tui.demo import DEMO_PASSPHRASE

    demo = open_store(tmp_path / "demo", "d", Redactor(), isolated=True, passphrase=DEMO_PASSPHRASE,
                      interactive=False, public_passphrase=True)
    demo.set("gitea-token", "tok-demo-123456")
    demo.flush()
    assert (demo.backend.time_cost, demo.backend.memory_cost) == (1, 2**13)
    assert "stonks_2dkdf = t=1 m=8192" in (tmp_path / "demo" / "secrets.cryptfile").read_text()
    again = open_store(tmp_path / "demo", "d", Redactor(), isolated=True, passphrase=DEMO_PASSPHRASE,
                       interactive=False)  # the file's record decides, not the caller
    assert again.get("gitea-token") == "tok-demo-123456" and again.backend.time_cost == 1

    own = open_store(tmp_path / "own", "c", Redactor(), passphrase="operators-own-phrase", interactive=False)
    own.set("gitea-token", "tok-own-1234567")
    own.flush()
    assert (own.backend.time_cost, own.backend.memory_cost, own.backend.parallelism) == (3, 2**16, 2)
    assert "stonks_2dkdf = t=3 m=65536" in (tmp_path / "own" / "secrets.cryptfile").read_text()
    mine = open_store(tmp_path / "own", "c", Redactor(), passphrase="operators-own-phrase", interactive=False)
    assert mine.get("gitea-token") == "tok-own-1234567" and mine.backend.time_cost == 3

    # A keyring made before the record existed (keyrings.cryptfile alone: its defaults, t=15) still unlocks, with
    # its own cost, whether opened as the operator's or the demo's.
    from keyrings.cryptfile.cryptfile import CryptFileKeyring

    (tmp_path / "old").mkdir()
    made = CryptFileKeyring()
    made.file_path = str(tmp_path / "old" / "secrets.cryptfile")
    made.keyring_key = "operators-own-phrase"
    made.set_password("stonks-tui", "c", json.dumps({"gitea-token": "tok-own-1234567"}))
    assert "kdf" not in (tmp_path / "old" / "secrets.cryptfile").read_text()
    shutil.copytree(tmp_path / "old", tmp_path / "old-demo")
    for where, public in (("old", False), ("old-demo", True)):
        old = open_store(tmp_path / where, "c", Redactor(), isolated=True, passphrase="operators-own-phrase",
                         interactive=False, public_passphrase=public)
        assert old.get("gitea-token") == "tok-own-1234567" and old.backend.time_cost == 15


def test_a_keyring_whose_creation_stopped_after_its_kdf_record_is_created_again(tmp_path: Path) -> None:
    (tmp_path / "secrets.cryptfile").write_text("[keyring_2Dsetting]\nstonks_2dkdf = t=1 m=8192\n")
    store = open_store(tmp_path, "d", Redactor(), isolated=True, passphrase="stonks-demo-keyring",
                       interactive=False, public_passphrase=True)
    store.set("gitea-token", "tok-demo-123456")
    store.flush()
    assert open_store(tmp_path, "d", Redactor(), isolated=True, passphrase="stonks-demo-keyring",
                      interactive=False).get("gitea-token") == "tok-demo-123456"


@pytest.mark.parametrize("damage", ["truncated", "one-character"])
def test_a_damaged_keyring_entry_is_a_message_and_stays_as_it_was(tmp_path: Path, damage: str) -> None:
    """Issue 25: a truncated keyring file, or one base64 character changed in the entry, was a traceback."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_") and k != "PYTHON_KEYRING_BACKEND"}
    argv = [sys.executable, "-m", "stonks_tui", "--state-dir", str(tmp_path), "--demo", "secrets", "list"]
    assert subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120).returncode == 0
    path = tmp_path / "demo" / "secrets.cryptfile"
    text = path.read_text()
    if damage == "truncated":
        text = text[: len(text) * 3 // 4]
    else:
        at = text.index("stonks_2ddemo = \n\t") + len("stonks_2ddemo = \n\t") + 30
        text = text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1:]
    path.write_text(text)
    r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and "is damaged: it does not decrypt" in r.stderr, r.stderr
    assert "restore the file from a backup" in r.stderr
    assert path.read_text() == text  # nothing written over it


def test_a_new_keyring_needs_a_passphrase_of_eight_characters(tmp_path: Path) -> None:
    with pytest.raises(KeyringLocked, match="at least 8 characters") as err:
        open_store(tmp_path, "ctx", Redactor(), passphrase="x", interactive=False)
    assert "nothing was written" in err.value.hint and not (tmp_path / "secrets.cryptfile").exists()


def test_the_engine_is_handed_a_passphrase_with_any_character_and_the_secrets(tmp_path: Path) -> None:
    """A passphrase with a newline reached the engine cut at it (one line on its stdin): every engine run said
    "does not unlock". The start line is JSON now, and carries the values, so the engine derives no key at start."""
    import json
    import sys

    from stonks_tui.commands.runs import start_line
    from stonks_tui.errors import StonksError
    from stonks_tui.service.client import hand_over, start_engine

    copy = tmp_path / "stdin"
    argv = [sys.executable, "-c", f"import sys; open({str(copy)!r}, 'w').write(sys.stdin.read()); sys.exit(2)"]
    with pytest.raises(StonksError):  # the stand-in never serves: it only keeps what it was handed
        hand_over(tmp_path / "ctx", start_engine(tmp_path / "ctx", argv), "two\nlines, quotes \" and \\\\",
                  {"gitea-token": "tok-123456789"})
    phrase, handed = start_line(copy.read_text())
    assert phrase == "two\nlines, quotes \" and \\\\" and handed == {"gitea-token": "tok-123456789"}
    assert copy.read_text().count("\n") == 1 and json.loads(copy.read_text())["passphrase"] == phrase
    store = open_store(tmp_path, "ctx", Redactor(), passphrase=phrase, interactive=False, handed=handed)
    assert store.get("gitea-token") == "tok-123456789" and store.backend is None  # nothing read, nothing derived
    store.set("gitea-token", "tok-987654321")  # a write opens the keyring then
    store.flush()
    again = open_store(tmp_path, "ctx", Redactor(), passphrase=phrase, interactive=False)
    assert again.get("gitea-token") == "tok-987654321"


def test_looking_for_a_desktop_keyring_on_linux_runs_no_compiler() -> None:
    """keyring's macOS backend, imported anywhere, looks for macOS's libraries with ctypes.util.find_library: it
    ran ldconfig, gcc and ld in every command (0.35 s of each on the real tier)."""
    import subprocess
    import sys

    code = ("import sys; from stonks_tui.secrets import _desktop_backend; _desktop_backend(); "
            "print(sorted(m for m in sys.modules if m.startswith(('keyring.backends.macOS', 'ctypes.util'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr
