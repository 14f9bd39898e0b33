"""helm client: the `helm` executable as a subprocess.

Values always go on stdin (`--values -`): secrets never reach argv and no values file is left on disk.
Output is streamed line by line to the step's log; on failure the last lines and a hint are raised.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections import deque
from collections.abc import Callable
from typing import Any

import yaml

from stonks_tui.child_env import child_env
from stonks_tui.errors import StepFailed

MIN_HELM = (3, 13, 1)  # Kargo's OCI chart needs it
LIST_EVERY_STATE = ("--deployed", "--failed", "--pending", "--superseded", "--uninstalled", "--uninstalling")


class HelmClient:
    def __init__(self, kube_context: str | None = None, env: dict[str, str] | None = None,
                 executable: str = "helm") -> None:
        self.kube_context = kube_context
        self.env = child_env("helm", env)  # never the operator's secrets (child_env.py)
        self.executable = executable
        self.warnings: deque[str] = deque(maxlen=50)  # what helm printed on stderr lately (never parsed)
        self.share_listings = False  # releases(): see there
        self._listing: asyncio.Future[list[dict[str, Any]]] | None = None

    def _argv(self, *args: str) -> list[str]:
        argv = [self.executable, *args]
        if self.kube_context:
            argv += ["--kube-context", self.kube_context]
        return argv

    async def run(self, *args: str, stdin: str | None = None, log: Callable[[str], None] | None = None,
                  what: str = "", context: bool = True, deadline: float = 180.0) -> str:
        exe = shutil.which(self.executable, path=self.env.get("PATH"))
        if exe is None:
            raise StepFailed("helm is not installed or not on PATH",
                             hint="install helm ≥ 3.13.1 (https://helm.sh/docs/intro/install/)")
        argv = self._argv(*args) if context else [self.executable, *args]
        proc = await asyncio.create_subprocess_exec(
            exe, *argv[1:], stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=self.env)
        tail: deque[str] = deque(maxlen=12)
        out: list[str] = []

        async def feed() -> None:
            if stdin is not None and proc.stdin is not None:
                proc.stdin.write(stdin.encode())
                await proc.stdin.drain()
                proc.stdin.close()

        def take(data: bytes, *, is_stderr: bool) -> None:
            lines = data.decode(errors="replace").split("\n")
            tail.extend(lines)
            if is_stderr:
                # Never output: helm 3.13–3.16 warn here on every call about a group/world-readable kubeconfig,
                # and errors come here too. Shown in the step log, kept apart from what is parsed.
                self.warnings.extend(line for line in lines if line.strip())
                if log is not None:
                    log("\n".join(lines))
            elif log is None:
                out.extend(lines)  # returned for parsing; streamed output is not kept (memory stays flat)
            else:
                log("\n".join(lines))  # one call per chunk: one redaction, one log-file write

        async def read(stream: asyncio.StreamReader | None, *, is_stderr: bool) -> None:
            # Chunks, not lines: helm can print 100k+ lines (a flood of warnings) and per-line handling costs
            # more than the rest of the step. Only complete lines are passed on; the loop yields between chunks
            # so the wizard keeps answering keys while a flood streams in.
            assert stream is not None
            pending = b""
            while chunk := await stream.read(1 << 14):
                *complete, pending = (pending + chunk).split(b"\n")
                if complete:
                    take(b"\n".join(complete), is_stderr=is_stderr)
                await asyncio.sleep(0)
            if pending:
                take(pending, is_stderr=is_stderr)

        async def stop() -> None:
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 5)
                except TimeoutError:
                    proc.kill()

        try:
            # helm's own Kubernetes client has no request timeout: against an API server that stops answering
            # it waits forever, so every run has a deadline (helm's --timeout plus a margin for the rest).
            await asyncio.wait_for(asyncio.gather(feed(), read(proc.stdout, is_stderr=False),
                                                  read(proc.stderr, is_stderr=True)), deadline)
            code = await proc.wait()
        except TimeoutError:
            await stop()
            raise StepFailed(f"helm {what or args[0]} did not finish within {deadline:.0f}s and was stopped",
                             hint="the API server may not be answering: check `kubectl get --raw /readyz`, then "
                                  "run again (an interrupted release is recovered)") from None
        except asyncio.CancelledError:
            await stop()
            raise
        if code != 0:
            last = " | ".join(line for line in tail if line.strip())[-600:]
            raise StepFailed(f"helm {what or args[0]} failed (exit {code}): {last}", hint=self._hint(last))
        return "\n".join(out)

    @staticmethod
    def _hint(text: str) -> str:
        if "context deadline exceeded" in text or "timed out waiting" in text:
            return "workloads did not become ready in time: check `kubectl get pods -n <namespace>` and retry"
        if "cluster unreachable" in text:
            return "helm cannot reach the cluster: check KUBECONFIG / --context"
        if "Additional property" in text or "values don't meet" in text:
            return "the values have keys this chart version does not know: check the chart version setting"
        if "repo " in text and "not found" in text:
            return "the chart repository is not added: the step adds it; check network access to it"
        return "see the step log for helm's full output"

    async def version(self) -> tuple[int, int, int]:
        text = await self.run("version", "--short", what="version", context=False)
        m = re.search(r"v?(\d+)\.(\d+)\.(\d+)", text)
        if not m:
            raise StepFailed(f"cannot read helm's version from {text!r}")
        return int(m.group(1)), int(m.group(2)), int(m.group(3))

    async def require_version(self) -> str:
        v = await self.version()
        if v < MIN_HELM:
            raise StepFailed(f"helm {'.'.join(map(str, v))} is too old: Kargo's OCI chart needs ≥ 3.13.1",
                             hint="upgrade helm (https://helm.sh/docs/intro/install/)")
        return ".".join(map(str, v))

    async def repo_add(self, name: str, url: str, log: Callable[[str], None] | None = None) -> None:
        await self.run("repo", "add", name, url, "--force-update", log=log, what="repo add", context=False)

    async def repo_update(self, log: Callable[[str], None] | None = None) -> None:
        await self.run("repo", "update", log=log, what="repo update", context=False)

    async def upgrade_install(self, release: str, chart: str, namespace: str, version: str, values: dict[str, Any],
                              *, timeout: str = "10m", log: Callable[[str], None] | None = None) -> None:
        await self.run("upgrade", "--install", release, chart, "--namespace", namespace, "--create-namespace",
                       "--version", version, "--values", "-", "--wait", "--timeout", timeout,
                       stdin=yaml.safe_dump(values, sort_keys=False), log=log, what=f"upgrade --install {release}",
                       deadline=duration_seconds(timeout) + 120)

    async def uninstall(self, release: str, namespace: str, log: Callable[[str], None] | None = None,
                        *, wait: bool = True, timeout: str = "5m") -> None:
        """`--wait` waits until every deleted object is gone, for the whole --timeout and then exits non-zero
        when finalizers hold them: callers that know nothing will clear them (ARC's controller is gone) don't
        wait, and wait for what matters themselves."""
        flags = ["--wait", "--timeout", timeout] if wait else []
        await self.run("uninstall", release, "--namespace", namespace, *flags, log=log, what=f"uninstall {release}",
                       deadline=duration_seconds(timeout) + 60)

    async def rollback(self, release: str, namespace: str, log: Callable[[str], None] | None = None,
                       *, timeout: str = "5m") -> None:
        """Back to the previous revision: how helm leaves a release an interrupted upgrade left pending."""
        await self.run("rollback", release, "--namespace", namespace, "--wait", "--timeout", timeout, log=log,
                       what=f"rollback {release}", deadline=duration_seconds(timeout) + 60)

    async def releases(self) -> list[dict[str, Any]]:
        """Every release in every state: `helm list` alone hides pending-install/-upgrade/-rollback and
        uninstalling (pkg/action/list.go), which is exactly what an interrupted run leaves behind.
        With `share_listings` (a plan, or a run's checks asked ahead of it: read-only, one picture of the cluster)
        every caller shares one listing — one helm process instead of one per step. Never once a run applies
        anything: a step that has just changed a release must not read a listing begun before its change."""
        if not self.share_listings:
            return await self._list()
        listing = self._listing
        if listing is None or (listing.done() and (listing.cancelled() or listing.exception() is not None)):
            self._listing = asyncio.ensure_future(self._list())
        return list(await asyncio.shield(self._listing))

    def share(self, on: bool) -> None:
        """Every caller of releases() shares one listing from now (read-only readers of one picture of the cluster:
        a plan, a run's checks asked ahead), or no more: the next caller lists afresh."""
        self.share_listings = on
        if not on:
            self._listing = None

    async def _list(self) -> list[dict[str, Any]]:
        # Every state, asked by name: helm 3 lists deployed and failed releases unless told `--all`, and helm 4
        # has no `--all` (its list shows every state by default); both take these six filters, whose union is all.
        text = await self.run("list", "-A", *LIST_EVERY_STATE, "-o", "json", what="list")
        try:
            data = json.loads(text or "[]")
        except ValueError:
            raise StepFailed(f"helm list printed something that is not JSON: {text[:200]!r}") from None
        return data if isinstance(data, list) else []

    async def find(self, release: str, namespace: str) -> dict[str, Any] | None:
        return next((r for r in await self.releases() if r["name"] == release and r["namespace"] == namespace),
                    None)


def duration_seconds(text: str) -> float:
    """helm's --timeout ('10m', '90s', '1h', '1m30s') in seconds."""
    total, number = 0.0, ""
    for ch in text:
        if ch.isdigit() or ch == ".":
            number += ch
        else:
            total += float(number or 0) * {"s": 1, "m": 60, "h": 3600}.get(ch, 1)
            number = ""
    return total + float(number or 0)


PENDING = ("pending-install", "pending-upgrade", "pending-rollback")


def chart_name(release_row: dict[str, Any]) -> str:
    """'woodpecker-3.6.5' → 'woodpecker'."""
    return release_row.get("chart", "").rsplit("-", 1)[0]


def chart_version(release_row: dict[str, Any]) -> str:
    return release_row.get("chart", "").rsplit("-", 1)[-1]
