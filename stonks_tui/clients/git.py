"""git client: the git executable. Credentials reach git only through GIT_ASKPASS reading environment
variables of that one git process: never in argv, the remote URL or .git/config. Credential helpers are
switched off for our pushes so no helper can store the token either, and so are the clone's hooks (a pre-push
hook would inherit the token). Every git process starts from an allowlisted environment (child_env.py).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path

from stonks_tui.child_env import child_env
from stonks_tui.errors import StepFailed

ASKPASS = """#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "$STONKS_GIT_USERNAME" ;;
  *) printf '%s\\n' "$STONKS_GIT_PASSWORD" ;;
esac
"""


class Git:
    def __init__(self, repo: Path, env: dict[str, str] | None = None, askpass_dir: Path | None = None) -> None:
        self.repo = Path(repo)
        self.env = child_env("git", env)
        self.askpass_dir = askpass_dir

    def _askpass(self) -> str:
        directory = self.askpass_dir or Path(self.repo).parent
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "stonks-git-askpass.sh"
        if not path.exists() or path.read_text() != ASKPASS:
            path.write_text(ASKPASS)  # holds no secret: it echoes variables of the git process it serves
        path.chmod(0o700)
        return str(path)

    async def run(self, *args: str, user: str = "", password: str = "", log: Callable[[str], None] | None = None,
                  check: bool = True) -> str:
        if shutil.which("git", path=self.env.get("PATH")) is None:
            raise StepFailed("git is not installed", hint="install git (apt-get install git)")
        env = {**self.env, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
        argv = ["git", "-C", str(self.repo)]
        if password:
            env.update({"GIT_ASKPASS": self._askpass(), "STONKS_GIT_USERNAME": user, "STONKS_GIT_PASSWORD": password})
            argv += ["-c", "credential.helper=", "-c", "core.hooksPath=/dev/null"]
        proc = await asyncio.create_subprocess_exec(*argv, *args, env=env, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.STDOUT)
        out, _ = await proc.communicate()
        text = out.decode(errors="replace")
        if log:
            for line in text.splitlines():
                log(line)
        if check and proc.returncode != 0:
            tail = " | ".join(text.strip().splitlines()[-4:])
            hint = "see the step log"
            if "rejected" in text or "non-fast-forward" in text:
                # git's own advice lines would fill the message: say what happened, the log has the rest
                tail = "rejected: the branch on Gitea has commits the local clone lacks (not a fast-forward)"
                hint = ("Gitea has commits your clone lacks: pull them (git pull gitea) or decide which history "
                        "wins, then resume")
            elif "Authentication failed" in text or "401" in text:
                hint = "Gitea refused the token: re-run so the gitea-token step renews it"
            raise StepFailed(f"git {args[0]} failed (exit {proc.returncode}): {tail}", hint=hint)
        return text

    async def is_repo(self) -> bool:
        if not self.repo.is_dir():
            return False
        out = await self.run("rev-parse", "--is-inside-work-tree", check=False)
        return out.strip() == "true"

    async def refs(self) -> dict[str, str]:
        out = await self.run("for-each-ref", "--format=%(objectname) %(refname)", "refs/heads", "refs/tags")
        return {ref: sha for sha, ref in (line.split(" ", 1) for line in out.splitlines() if line)}

    async def remote_url(self, name: str) -> str | None:
        out = await self.run("remote", "get-url", name, check=False)
        return out.strip() if out and "error" not in out.lower() and "No such remote" not in out else None

    async def remote_refs(self, name: str, user: str, password: str) -> dict[str, str]:
        out = await self.run("ls-remote", "--heads", "--tags", name, user=user, password=password)
        return {ref: sha for sha, ref in (line.split("\t", 1) for line in out.splitlines() if "\t" in line)
                if not ref.endswith("^{}")}

    async def dirty(self, *paths: str) -> list[str]:
        out = await self.run("status", "--porcelain", "--", *paths)
        return [line[3:] for line in out.splitlines() if line.strip()]
