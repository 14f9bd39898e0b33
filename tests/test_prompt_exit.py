"""A command that ends while a worker thread is still blocked leaves at once (prompt_exit.finish) — and still runs
its atexit handlers: the kubernetes library removes with one the files it wrote the kubeconfig's certificate and
key data to. Each `plan` on the real tier that ended this way left the cluster's CA in /tmp (278 files in a day);
from a k3s kubeconfig it would leave the admin's private key."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

PEM = base64.b64encode(b"-----BEGIN PRIVATE KEY-----\nnot a real key\n-----END PRIVATE KEY-----\n").decode()

KUBECONFIG = f"""apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {{server: "https://127.0.0.1:9", certificate-authority-data: {PEM}}}
users:
- name: u
  user: {{client-certificate-data: {PEM}, client-key-data: {PEM}}}
contexts:
- name: x
  context: {{cluster: c, user: u}}
current-context: x
"""

CHILD = """
import sys, threading
from kubernetes import client, config
from stonks_tui import prompt_exit
config.load_kube_config(config_file=sys.argv[1], client_configuration=client.Configuration(), persist_config=False)
threading.Thread(target=threading.Event().wait, name="asyncio_0").start()  # a worker blocked for good
prompt_exit.finish(3)
raise SystemExit("finish() returned while a worker was blocked")
"""


def test_leaving_with_a_blocked_worker_removes_the_kubeconfig_key_files(tmp_path: Path) -> None:
    kubeconfig, tmp = tmp_path / "kubeconfig", tmp_path / "tmp"
    kubeconfig.write_text(KUBECONFIG)
    tmp.mkdir()
    done = subprocess.run([sys.executable, "-c", CHILD, str(kubeconfig)], capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp), "HOME": str(tmp_path)})
    assert done.returncode == 3, done.stderr[-2000:]
    assert list(tmp.iterdir()) == []  # the CA, the client certificate and its key: written, then removed


def test_a_finished_command_leaves_without_the_interpreters_teardown(tmp_path: Path) -> None:
    """Freeing the ~900 modules a command imports took 0.10-0.15 s after its last line: a command whose work is
    done leaves at once — what it printed and its atexit handlers' work are not lost (bench: the real tier's)."""
    child = (
        "import atexit, pathlib, sys\n"
        "from stonks_tui import prompt_exit\n"
        f"atexit.register(pathlib.Path({str(tmp_path / 'marker')!r}).write_text, 'ran')\n"
        "sys.stdout.write('said, not yet flushed')\n"
        "prompt_exit.finish(4)\n"
        "raise SystemExit(9)  # the interpreter's own exit: not reached\n")
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (4, "said, not yet flushed"), done.stderr[-2000:]
    assert (tmp_path / "marker").read_text() == "ran"
