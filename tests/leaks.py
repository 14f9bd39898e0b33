"""The end-to-end secret search: every secret the demo keyring holds, in plain and base64 form, must appear on no
helm command line, in no captured output and in no file under the state dir (the encrypted keyring excepted; the
simulated cluster's etcd may hold Kubernetes Secrets' base64 values, not plain ones)."""

from __future__ import annotations

import base64
import time
from pathlib import Path


def engine_pids(state: Path) -> list[int]:
    """The engine processes of this state dir, by their command line (`engine-serve` and the state dir, as the
    client resolves it) — not by their record: there is none while one starts, nor once it has let go."""
    state_arg = str(Path(state).resolve()).encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"engine-serve" in argv and state_arg in argv:
            pids.append(int(proc.name))
    return pids


def engines_gone(state: Path, timeout: float = 15.0) -> None:
    """Wait until no engine process of this state dir runs. An engine lingers a moment after its clients heard the
    run's end, removing its socket and record (engine.json): a client that has exited does not mean its files are
    still. Read before that, a listed file could be gone when read."""
    deadline = time.monotonic() + timeout
    while engine_pids(state) and time.monotonic() < deadline:
        time.sleep(0.05)


def stored_secrets(state: Path) -> dict[str, str]:
    from stonks_tui.demo import DEMO_PASSPHRASE
    from stonks_tui.redact import Redactor
    from stonks_tui.secrets import open_store

    store = open_store(state / "demo", "stonks-demo", Redactor(), isolated=True, passphrase=DEMO_PASSPHRASE,
                       interactive=False)
    return {name: store.get(name) or "" for name in store.list_names()}


def assert_no_secret_leaked(state: Path, captured: str) -> dict[str, str]:
    """Search everything; returns the secrets searched for (callers may check which exist)."""
    # The OAuth client id is kept beside its secret but is a public identifier (Gitea shows it in its UI).
    secrets = {k: v for k, v in stored_secrets(state).items() if len(v) >= 6 and not k.endswith("client-id")}
    argv_file = state / "demo" / "helm-argv.jsonl"
    argv = argv_file.read_text() if argv_file.exists() else ""
    engines_gone(state)
    files = [p for p in state.rglob("*") if p.is_file() and p.name != "secrets.cryptfile"]
    contents = {p: p.read_bytes() for p in files}
    for name, value in secrets.items():
        forms = {value, base64.b64encode(value.encode()).decode()}
        for form in forms:
            assert form not in argv, f"{name} on a helm command line"
            assert form not in captured, f"{name} on the terminal"
        for path, data in contents.items():
            etcd = path.name == "world.json" or path.name.startswith(".world.json.")  # the sim's cluster state
            check = {value} if etcd else forms
            for form in check:
                assert form.encode() not in data, f"{name} found in {path}"
    return secrets
