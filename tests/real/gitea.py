"""A real Gitea on 127.0.0.1:3000, shaped like the operator's pod (gitea/gitea's rootful image).

The product drives Gitea the way it drives the operator's: the install form posts the container's paths
(`/data/git/repositories`, run user `git`, port 3000) and the admin is created with `su git -c "gitea admin user
create …"` through the pod exec API. So Gitea runs here as the OS user `git`, in a private mount namespace whose
`/data` is this test's directory, listening on 127.0.0.1:3000 — what the container would see. The pod in the
cluster (a kwok pod) execs into the same namespace (see `su_shim`).

Needs root (to make the `git` user and the mount namespace); elsewhere the Gitea tests skip with that reason.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
from pathlib import Path

import httpx

from tests.real.build import COMPONENTS
from tests.real.procs import Proc, wait_until

PORT = 3000  # the container's port: the install form writes HTTP_PORT=3000, so Gitea must already be there


def why_not() -> str | None:
    if os.geteuid() != 0:
        return "the real Gitea runs as user git in a mount namespace (as in its container): needs root"
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", PORT)) == 0:
            return f"127.0.0.1:{PORT} is taken: the real Gitea listens where its container would"
    return None


def ensure_git_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam("git")
    except KeyError:
        subprocess.run(["useradd", "--system", "--create-home", "--home-dir", "/var/lib/stonks-real-git",
                        "--shell", "/bin/sh", "git"], check=True, capture_output=True)
        return pwd.getpwnam("git")


APP_INI = """\
APP_NAME = Gitea
RUN_USER = git
RUN_MODE = prod
WORK_PATH = /data/gitea

[server]
HTTP_ADDR = 127.0.0.1
HTTP_PORT = {port}
ROOT_URL = http://127.0.0.1:{port}/
APP_DATA_PATH = /data/gitea
DISABLE_SSH = true
OFFLINE_MODE = true

[database]
DB_TYPE = sqlite3
PATH = /data/gitea/gitea.db

[repository]
ROOT = /data/git/repositories

[log]
MODE = console
LEVEL = warn
ROOT_PATH = /data/gitea/log

[security]
INSTALL_LOCK = {lock}

[webhook]
ALLOWED_HOST_LIST = {webhook_hosts}
"""


class Gitea:
    """`installed`: False → the install wizard answers (INSTALL_LOCK=false); True → installed, no admin yet."""

    def __init__(self, root: Path, *, installed: bool, webhook_hosts: str = "") -> None:
        self.root = root
        self.installed = installed
        self.webhook_hosts = webhook_hosts
        self.data = root / "data"
        self.bin = root / "bin"
        self.proc: Proc | None = None
        self.url = f"http://127.0.0.1:{PORT}"

    def prepare(self) -> None:
        git = ensure_git_user()
        src = COMPONENTS["gitea"].dir / "src"
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        self.bin.mkdir(parents=True, exist_ok=True)
        shutil.copy2(COMPONENTS["gitea"].binary("gitea"), self.bin / "gitea")  # the cache lives under /root
        conf = self.data / "gitea" / "conf"
        conf.mkdir(parents=True, exist_ok=True)
        for d in ("templates", "options"):  # a build without bindata reads these from its work path
            if not (self.data / "gitea" / d).exists():
                shutil.copytree(src / d, self.data / "gitea" / d)
        (self.data / "git").mkdir(exist_ok=True)
        (conf / "app.ini").write_text(APP_INI.format(port=PORT, lock="true" if self.installed else "false",
                                                     webhook_hosts=self.webhook_hosts))
        if self.installed:
            # An installed Gitea without an admin: the database exists (migrated), no user yet.
            self._as_git(["gitea", "migrate"], check=True)
        subprocess.run(["chown", "-R", f"{git.pw_uid}:{git.pw_gid}", str(self.data)], check=True)
        Path("/data").mkdir(exist_ok=True)  # an empty mount point: the real /data is never written

    def _ns_script(self, command: str) -> list[str]:
        env = (f"HOME=/data/git USER=git GITEA_WORK_DIR=/data/gitea GITEA_CUSTOM=/data/gitea "
               f"PATH={self.bin}:/usr/bin:/bin")
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                f"mount --bind {self.data} /data && exec setpriv --reuid=git --regid=git --init-groups "
                f"env -i {env} {command}"]

    def _as_git(self, argv: list[str], check: bool = False) -> subprocess.CompletedProcess:
        ensure_git_user()
        subprocess.run(["chown", "-R", "git:git", str(self.data)], check=True)
        Path("/data").mkdir(exist_ok=True)
        return subprocess.run(self._ns_script(" ".join(argv)), capture_output=True, text=True, check=check,
                              timeout=120)

    def start(self) -> Gitea:
        self.prepare()
        self.proc = Proc("gitea", self._ns_script("gitea web"), self.root)
        wait_until("Gitea", lambda: httpx.get(f"{self.url}/api/healthz", timeout=2).status_code == 200, 90,
                   [self.proc])
        return self

    def restart(self) -> None:
        """Stop and start Gitea on the same data and app.ini (as a pod restart after a config change)."""
        self.stop()
        subprocess.run(["chown", "-R", "git:git", str(self.data)], check=True)
        self.proc = Proc("gitea", self._ns_script("gitea web"), self.root)
        wait_until("Gitea", lambda: httpx.get(f"{self.url}/api/healthz", timeout=2).status_code == 200, 90,
                   [self.proc])

    @property
    def app_ini(self) -> Path:
        return self.data / "gitea" / "conf" / "app.ini"

    def stop(self) -> None:
        if self.proc:
            self.proc.stop()
            self.proc = None

    @property
    def pid(self) -> int:
        """The pid inside the mount namespace (gitea itself, after unshare → sh → setpriv → env exec)."""
        assert self.proc is not None
        return self.proc.popen.pid

    def su_shim(self, directory: Path) -> Path:
        """`su` as the gitea pod's image has it, for kwok's exec: `su git -c SCRIPT` runs SCRIPT as git in
        Gitea's mount namespace with the container's environment (GITEA_WORK_DIR=/data/gitea)."""
        directory.mkdir(parents=True, exist_ok=True)
        shim = directory / "su"
        env = (f"HOME=/data/git USER=git GITEA_WORK_DIR=/data/gitea GITEA_CUSTOM=/data/gitea "
               f"PATH={self.bin}:/usr/bin:/bin")
        shim.write_text(
            "#!/bin/sh\n# su USER -c SCRIPT inside the Gitea 'container' (its mount namespace)\n"
            '[ "$2" = "-c" ] || { echo "su shim: only su USER -c SCRIPT" >&2; exit 1; }\n'
            f'exec nsenter --mount=/proc/{self.pid}/ns/mnt -- setpriv --reuid="$1" --regid="$1" --init-groups '
            f'env -i {env} sh -c "$3"\n')
        shim.chmod(0o755)
        return shim
