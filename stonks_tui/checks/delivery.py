"""`verify --delivery`: prove on the operator's cluster that a commit becomes an image, Freight and a beta deployment.

Each link is reached in order and reported as it is reached (pass / fail / info), in the upstream's own words and
with the next thing to check; every wait is bounded and the whole is cancellable (an interrupt cancels the task):
1. a pipeline on the default branch, started through Woodpecker's API (the `manual` event), followed step by step;
   a failing step's log tail is shown;
2. the image `<registry_host>/<registry_project>/query-api:<sha>` in the registry (the `/v2/` manifest API);
3. the Freight Kargo's Warehouse made for it;
4. beta's Promotion of that Freight (auto-promoted per the ProjectConfig) and its phase;
5. the beta Application Synced and Healthy with `image.tag` = the SHA;
6. paper: whether a promotion may run now (the market-hours gate, a break-glass); with `promote`, the Promotion is
   made as Kargo's API makes one (the stage's steps) and followed: the gate refuses it in market hours.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from stonks_tui.engine.step import StepContext
from stonks_tui.errors import StepFailed
from stonks_tui.market_hours import BREAK_GLASS_CONFIGMAP, describe
from stonks_tui.runtime import runtime

KARGO = "kargo.akuity.io/v1alpha1"
IMAGE = "query-api"
PIPELINE_WAIT = 1800.0  # a real build of 14 images can take many minutes
LINK_WAIT = 300.0  # Warehouse discovery (Kargo polls), a promotion, an Argo CD sync
# Polls start quick and back off (x1.5 up to 2 s): a fast world is followed closely, a real cluster's API
# server and Woodpecker are asked at most every 2 s while a build runs for minutes (bench.delivery measures it).
POLL_FIRST, POLL_MAX = 0.1, 2.0


@dataclass(frozen=True)
class Link:
    name: str
    status: str  # pass | fail | info | run
    detail: str
    hint: str = ""

    def line(self) -> str:
        word = {"pass": "PASS", "fail": "FAIL", "info": "INFO", "run": " .. "}[self.status]
        return f"{word} {self.name}: {self.detail}" + (f"\n     hint: {self.hint}" if self.hint else "")


class Broken(Exception):
    def __init__(self, link: Link) -> None:
        super().__init__(link.detail)
        self.link = link


async def _until(what: str, probe: Callable[[], Any], timeout: float, hint: str, name: str) -> Any:
    """Poll `probe` until it returns something truthy; a bounded wait that fails naming what it waited for."""
    deadline = time.monotonic() + timeout
    pause = POLL_FIRST
    while True:
        found = await probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise Broken(Link(name, "fail", f"no {what} after {timeout:.0f} s", hint))
        await asyncio.sleep(pause)
        pause = min(pause * 1.5, POLL_MAX)


async def prove(ctx: StepContext, report: Callable[[Link], None], *, promote: str | None = None,
                pipeline_wait: float = PIPELINE_WAIT, link_wait: float = LINK_WAIT) -> list[Link]:
    links: list[Link] = []

    def say(link: Link) -> None:
        if link.status != "run":
            links.append(link)
        report(link)

    try:
        sha = await _pipeline(ctx, say, pipeline_wait)
        digest = await _image(ctx, say, sha, link_wait)
        freight = await _freight(ctx, say, sha, digest, link_wait)
        await _beta(ctx, say, freight, sha, link_wait)
        await _paper(ctx, say, freight, promote, link_wait)
    except Broken as exc:
        say(exc.link)
    return links


# -- 1. the pipeline ----------------------------------------------------------------------------------------
async def _pipeline(ctx: StepContext, say: Callable[[Link], None], wait: float) -> str:
    s = ctx.settings
    token = ctx.secrets.get("woodpecker-token")
    if not token:
        raise Broken(Link("pipeline", "fail", "no Woodpecker token in the keyring",
                          f"run {runtime(ctx).cmd('install')} first (its woodpecker-activate step)"))
    wp = runtime(ctx).woodpecker(s, token)
    try:
        full = f"{s.effective_repo_owner}/{s.repo_name}".lower()
        repo = next((r for r in await wp.forge_repos() if str(r.get("full_name", "")).lower() == full), None)
        if not repo or not repo.get("active") or not repo.get("id"):
            raise Broken(Link("pipeline", "fail", f"{full} is not active in Woodpecker",
                              f"run {runtime(ctx).cmd('install')}: woodpecker-activate activates it"))
        rid = int(repo["id"])
        resp = await wp.call("POST", f"/api/repos/{rid}/pipelines", body={"branch": "main"}, ok=(200, 204),
                             what="start a pipeline")
        if resp.status_code == 204:
            raise Broken(Link("pipeline", "fail", "Woodpecker started nothing: every step of .woodpecker.yml is "
                                                  "filtered out for a pipeline started by hand (event manual)",
                              "the migrated .woodpecker.yml lets build and integration steps run on manual: run "
                              f"{runtime(ctx).cmd('install')} to migrate it again"))
        pipeline = resp.json()
        number, sha = int(pipeline["number"]), str(pipeline.get("commit", ""))
        say(Link("pipeline", "run", f"#{number} started on main at {sha[:12]} ({s.effective_woodpecker_url})"))
        seen: dict[str, str] = {}
        deadline = time.monotonic() + wait
        pause = POLL_FIRST
        while True:
            pipeline = (await wp.call("GET", f"/api/repos/{rid}/pipelines/{number}", what="follow the pipeline")).json()
            steps = [c for w in pipeline.get("workflows") or [] for c in w.get("children") or []]
            for step in steps:
                if seen.get(step["name"]) != step.get("state"):
                    seen[step["name"]] = step.get("state", "")
                    if step.get("state") not in ("pending",):
                        say(Link(f"  {step['name']}", "run", str(step.get("state"))))
            status = pipeline.get("status")
            if status == "success":
                say(Link("pipeline", "pass", f"#{number} succeeded for {sha} ({len(steps)} steps)"))
                return sha
            if status in ("failure", "error", "killed", "declined", "blocked"):
                bad = next((st for st in steps if st.get("state") in ("failure", "killed", "error")), None)
                tail = await _log_tail(wp, rid, number, bad) if bad else ""
                name = bad["name"] if bad else "?"
                raise Broken(Link("pipeline", "fail", f"#{number} ended {status}: step {name} "
                                                      f"(exit {bad.get('exit_code') if bad else '?'})" + tail,
                                  f"open {s.effective_woodpecker_url}/repos/{rid}/pipeline/{number} for the whole log"))
            if time.monotonic() > deadline:
                raise Broken(Link("pipeline", "fail", f"#{number} still {status} after {wait:.0f} s",
                                  "is an agent running? kubectl -n "
                                  f"{s.woodpecker_namespace} get pods -l app.kubernetes.io/name=agent"))
            await asyncio.sleep(pause)
            pause = min(pause * 1.5, POLL_MAX)
    finally:
        await wp.aclose()


async def _log_tail(wp: Any, rid: int, number: int, step: dict, lines: int = 10) -> str:
    try:
        entries = (await wp.call("GET", f"/api/repos/{rid}/logs/{number}/{step['id']}", what="read the step log")
                   ).json() or []
    except StepFailed:
        return ""
    text = [base64.b64decode(e.get("data") or "").decode("utf-8", "replace").rstrip() for e in entries[-lines:]]
    return "; its log ends:\n" + "\n".join(f"       {t}" for t in text) if text else ""


# -- 2. the image -------------------------------------------------------------------------------------------
async def _image(ctx: StepContext, say: Callable[[Link], None], sha: str, wait: float) -> str:
    s = ctx.settings
    ref = f"{s.registry_host}/{s.registry_project}/{IMAGE}:{sha}"
    url = f"{s.registry_url.rstrip('/')}/v2/{s.registry_project}/{IMAGE}/manifests/{sha}"
    accept = ", ".join(("application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
                        "application/vnd.docker.distribution.manifest.v2+json",
                        "application/vnd.docker.distribution.manifest.list.v2+json"))

    async def probe() -> str | None:
        try:
            async with httpx.AsyncClient(timeout=10, verify=not s.registry_skip_tls_verify) as client:
                resp = await client.head(url, headers={"Accept": accept})
        except httpx.TransportError as exc:
            raise Broken(Link("image", "fail", f"{s.registry_url} is unreachable ({type(exc).__name__})",
                              "check registry_url and the registry's Service")) from None
        if resp.status_code == 401:
            raise Broken(Link("image", "fail", f"{s.registry_url} wants credentials to read {ref}",
                              "give the registry's read credentials to Kargo and to this check"))
        return resp.headers.get("Docker-Content-Digest", "") or "present" if resp.status_code == 200 else None

    digest = await _until(f"manifest for {ref}", probe, 60.0, "the build step pushed elsewhere? compare its repo "
                          "setting with registry_host/registry_project", "image")
    say(Link("image", "pass", f"{ref} ({digest})"))
    return digest


# -- 3. Freight ---------------------------------------------------------------------------------------------
async def _freight(ctx: StepContext, say: Callable[[Link], None], sha: str, digest: str, wait: float) -> dict:
    s = ctx.settings
    kube = runtime(ctx).kube()

    async def probe() -> dict | None:
        # The Freight of this very image: its tag and the digest the registry gave (a rebuilt tag is new Freight).
        for f in await kube.list(KARGO, "Freight", s.kargo_project):
            if any(i.get("tag") == sha and (i.get("digest") == digest or not digest.startswith("sha256:"))
                   for i in f.get("images") or []):
                return f
        return None

    freight = await _until(f"Freight with tag {sha[:12]}", probe, wait,
                           f"kubectl -n {s.kargo_project} get warehouse stonks-images -o yaml: its status says what "
                           "discovery found (Kargo polls the registry every few minutes)", "freight")
    alias = freight.get("alias") or (freight["metadata"].get("labels") or {}).get("kargo.akuity.io/alias", "")
    say(Link("freight", "pass", f"{freight['metadata']['name'][:12]}" + (f" ({alias})" if alias else "") +
             " from Warehouse stonks-images"))
    return freight


# -- 4, 5. beta -----------------------------------------------------------------------------------------------
async def _promotion_of(kube: Any, project: str, stage: str, freight: str) -> dict | None:
    found = [p for p in await kube.list(KARGO, "Promotion", project)
             if (p.get("spec") or {}).get("stage") == stage and p["spec"].get("freight") == freight]
    return max(found, key=lambda p: p["metadata"].get("creationTimestamp", "")) if found else None


async def _follow(kube: Any, project: str, name: str, stage: str, wait: float) -> dict:
    async def probe() -> dict | None:
        p = await kube.get(KARGO, "Promotion", name, project)
        return p if ((p or {}).get("status") or {}).get("phase") in ("Succeeded", "Failed", "Errored",
                                                                       "Aborted") else None

    return await _until(f"end of Promotion {name}", probe, wait,
                        f"kubectl -n {project} get promotion {name} -o yaml", stage)


async def _beta(ctx: StepContext, say: Callable[[Link], None], freight: dict, sha: str, wait: float) -> None:
    s = ctx.settings
    kube = runtime(ctx).kube()
    fname = freight["metadata"]["name"]

    async def made() -> dict | None:
        return await _promotion_of(kube, s.kargo_project, "beta", fname)

    promo = await _until("Promotion into beta", made, wait, f"kubectl -n {s.kargo_project} get projectconfig "
                         f"{s.kargo_project} -o yaml: beta's autoPromotionEnabled", "beta")
    promo = await _follow(kube, s.kargo_project, promo["metadata"]["name"], "beta", wait)
    phase, message = promo["status"]["phase"], promo["status"].get("message", "")
    if phase != "Succeeded":
        raise Broken(Link("beta", "fail", f"Promotion {promo['metadata']['name']} {phase}: {message}",
                          f"kubectl -n {s.kargo_project} get promotion {promo['metadata']['name']} -o yaml"))
    say(Link("beta", "pass", f"Promotion {promo['metadata']['name']} Succeeded"))
    app_name = "stonks-beta"

    async def synced() -> dict | None:
        app = await kube.get("argoproj.io/v1alpha1", "Application", app_name, s.argocd_namespace)
        st = (app or {}).get("status") or {}
        params = ((((st.get("sync") or {}).get("comparedTo") or {}).get("source") or {}).get("helm") or {}).get(
            "parameters") or []
        tag = next((p.get("value") for p in params if p.get("name") == "image.tag"), None)
        ok = (st.get("sync") or {}).get("status") == "Synced" and (st.get("health") or {}).get("status") == "Healthy"
        return app if ok and tag == sha else None

    await _until(f"{app_name} Synced and Healthy with image.tag={sha[:12]}", synced, wait,
                 f"kubectl -n {s.argocd_namespace} get application {app_name} -o yaml: status.sync, status.health",
                 "beta-app")
    say(Link("beta-app", "pass", f"{app_name} Synced and Healthy, image.tag={sha}"))


# -- 6. paper -------------------------------------------------------------------------------------------------
async def _paper(ctx: StepContext, say: Callable[[Link], None], freight: dict, promote: str | None,
                 wait: float) -> None:
    s = ctx.settings
    kube = runtime(ctx).kube()
    stage = promote or "paper"
    glass = await kube.get("v1", "ConfigMap", BREAK_GLASS_CONFIGMAP, s.kargo_project)
    data = (glass or {}).get("data") or {}
    now = datetime.now(UTC)
    say(Link(f"{stage}-gate", "info", describe(now, data, stage)))
    if not promote:
        say(Link(stage, "info", f"not promoted (ask with --promote {stage}); Kargo never promotes it by itself"))
        return
    target = await kube.get(KARGO, "Stage", stage, s.kargo_project)
    if target is None:
        raise Broken(Link(stage, "fail", f"Stage {stage} not found in {s.kargo_project}",
                          f"run {runtime(ctx).cmd('install')}"))
    upstream = [src for req in (target.get("spec") or {}).get("requestedFreight") or []
                for src in ((req.get("sources") or {}).get("stages") or [])]
    verified = (freight.get("status") or {}).get("verifiedIn") or {}
    live_freight = await kube.get(KARGO, "Freight", freight["metadata"]["name"], s.kargo_project)
    verified = ((live_freight or freight).get("status") or {}).get("verifiedIn") or verified
    if upstream and not any(u in verified for u in upstream):
        raise Broken(Link(stage, "fail", f"the Freight is not verified in {', '.join(upstream)} yet, so {stage} "
                                         "may not take it", f"promote it into {', '.join(upstream)} first"))
    steps = (((target.get("spec") or {}).get("promotionTemplate") or {}).get("spec") or {}).get("steps") or []
    name = f"{stage}.{int(time.time() * 1000):x}.{freight['metadata']['name'][:7]}"
    await kube.create({"apiVersion": KARGO, "kind": "Promotion",
                       "metadata": {"name": name, "namespace": s.kargo_project,
                                    "annotations": {"kargo.akuity.io/create-actor": "stonks-tui"}},
                       "spec": {"stage": stage, "freight": freight["metadata"]["name"], "steps": steps}})
    say(Link(stage, "run", f"Promotion {name} created"))
    promo = await _follow(kube, s.kargo_project, name, stage, wait)
    phase, message = promo["status"]["phase"], promo["status"].get("message", "")
    if phase == "Succeeded":
        say(Link(stage, "pass", f"Promotion {name} Succeeded"))
        return
    gated = any(m.get("alias") == "market-hours" and m.get("status") == "Failed"
                for m in promo["status"].get("stepExecutionMetadata") or [])
    raise Broken(Link(stage, "fail", f"Promotion {name} {phase}: {message}",
                      f"{runtime(ctx).cmd(f'break-glass --stage {stage} --reason TEXT --for 30m')} opens the gate, "
                      "recorded in status" if gated else f"kubectl -n {s.kargo_project} get promotion {name} -o yaml"))
