"""git client: the git executable. Credentials reach git only through GIT_ASKPASS reading environment
variables of that one git process: never in argv, the remote URL or .git/config. Credential helpers are
switched off for our pushes so no helper can store the token either, and so are the clone's hooks (a pre-push
hook would inherit the token). Every git process starts from an allowlisted environment (child_env.py).
"""

from __future__ import annotations

import asyncio
import re
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
        if path.is_symlink() or not path.is_file() or path.read_text() != ASKPASS:
            from stonks_tui.fsutil import atomic_write_text

            # Holds no secret (it echoes variables of the git process it serves); written whole and renamed, so a
            # link planted in its place is replaced, never followed.
            atomic_write_text(path, ASKPASS, mode=0o700)
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
            tail, hint = diagnose(text)
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

    async def git_dir(self) -> Path:
        return (self.repo / (await self.run("rev-parse", "--git-dir")).strip()).resolve()

    async def dirty(self, *paths: str) -> list[str]:
        out = await self.run("status", "--porcelain", "--", *paths)
        return [line[3:] for line in out.splitlines() if line.strip()]


_REJECTED = re.compile(r"^\s*! \[(remote rejected|rejected)\]\s+(\S+)\s+->\s+(\S+)\s+\((.*)\)\s*$", re.MULTILINE)


def diagnose(output: str) -> tuple[str, str]:
    """(what happened, what to do) from git's own words: a server hook or a protected branch refusing a push is not
    a diverged history, and the advice for one (pull, decide which history wins) is wrong for the other."""
    remote = [line[len("remote:"):].strip() for line in output.splitlines() if line.startswith("remote:")]
    said = "; ".join(x for x in remote if x)[:240]
    m = _REJECTED.search(output)
    if m and m.group(1) == "remote rejected":
        ref, why = m.group(3), m.group(4)
        if "protected" in why.lower() or any("protected" in x.lower() for x in remote):
            return (f"Gitea refused {ref}: the branch is protected ({why})" + (f": {said}" if said else ""),
                    f"allow the admin user to push to {ref} in the repository's branch protection (Settings → "
                    "Branches), or remove the rule, then resume")
        return (f"Gitea refused {ref}: {why}" + (f" — the server said: {said}" if said else ""),
                "a server-side hook on Gitea declined the push: its message is above (the remote: lines); fix "
                "what it says or ask Gitea's admin, then resume")
    if m or "non-fast-forward" in output or "fetch first" in output:
        return ("rejected: the branch on Gitea has commits the local clone lacks (not a fast-forward)",
                "Gitea has commits your clone lacks: pull them (git pull gitea) or decide which history wins, then "
                "resume")
    if "Authentication failed" in output or "The requested URL returned error: 401" in output:
        return ("Gitea refused the credentials", "Gitea refused the token: re-run so the gitea-token step renews it")
    fatal = next((line for line in output.splitlines() if line.startswith(("fatal:", "error:"))), None)
    if fatal and "index.lock" in fatal:
        return fatal, ("another git process is working in the clone, or one crashed there: when none runs, "
                       "remove the .git/index.lock it names, then resume")
    if fatal:  # git's own reason; what follows it is advice
        return fatal, "see the step log"
    return " | ".join(output.strip().splitlines()[-4:]), "see the step log"
