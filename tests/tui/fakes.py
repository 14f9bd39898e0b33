"""A scripted stand-in for the Runner: the wizard's screens driven by known events, for pilot and snapshot tests.

It keeps the real parts that cost nothing (Settings, the Runner's install/teardown plans and Journal on disk) and
scripts the rest: preflight and verify results, the plan's changes, and the events of a run — each step starts,
logs, reports workloads and finishes in plan order, a chosen step fails (its dependants are blocked), and
woodpecker-activate needs the operator until a token is in the secret store. Deterministic: no clocks, no
network, so screenshots are stable.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stonks_tui.checks.result import CheckResult
from stonks_tui.engine.engine import RunSummary
from stonks_tui.engine.events import LogLine, PlanFinished, PlanStarted, StepFinished, StepStarted, WorkloadStatus
from stonks_tui.engine.plan import Plan
from stonks_tui.engine.step import Change, MemorySecretStore
from stonks_tui.journal import DONE, FAILED, NEEDS_OPERATOR, RUNNING
from stonks_tui.runner import Runner
from stonks_tui.settings import Settings

SETTINGS = Settings(gitea_public_url="http://127.0.0.1:3000", nfs_server="127.0.0.1",
                    registry_url="http://127.0.0.1:5000", registry_host="127.0.0.1:5000")
PREFLIGHT_OK = [
    CheckResult("cluster", "pass", "reachable, Kubernetes v1.31.4+k3s1"),
    CheckResult("permissions", "pass", "all 13 verbs the plan uses are allowed"),
    CheckResult("helm", "pass", "helm 3.16.2 (≥ 3.13.1)"),
    CheckResult("git", "pass", "git is installed"),
    CheckResult("gitea", "pass", "http://127.0.0.1:3000 answers; not initialised yet"),
    CheckResult("registry", "warn", "http://127.0.0.1:5000/v2/ answers 401 (Harbor?)",
                "give the registry's robot account to the keyring"),
    CheckResult("nfs", "pass", "127.0.0.1:2049 accepts connections"),
]
NFS_FAIL = CheckResult("nfs", "fail", "127.0.0.1:2049 refuses connections",
                       "check nfs_server and that the NFS server runs")
VERIFY_OK = [  # what verify answers in the demo: 13 checks (at 80×24 the table has to show more than two)
    CheckResult("gitea", "pass", "Gitea 1.22, repository gitea_admin/stonks-oracle"),
    CheckResult("webhook", "pass", "Gitea may deliver to http://127.0.0.1:44111/api/hook ([webhook] "
                                   "ALLOWED_HOST_LIST: 'private, loopback')"),
    CheckResult("woodpecker", "pass", "2 workloads ready in woodpecker"),
    CheckResult("woodpecker-http", "pass", "http://127.0.0.1:44111/healthz answers 204"),
    CheckResult("argocd", "pass", "1 workload ready in argocd"),
    CheckResult("argocd-http", "pass", "http://127.0.0.1:42161/healthz answers 200"),
    CheckResult("argocd-apps", "pass", "all point at Gitea; stonks-beta Synced"),
    CheckResult("kargo", "pass", "1 workload ready in kargo"),
    CheckResult("kargo-warehouse", "pass", "watches 127.0.0.1:5000/stonks-oracle/query-api; 1 Freight"),
    CheckResult("registry", "pass", "http://127.0.0.1:5000/v2/_catalog answers 200"),
    CheckResult("tls", "pass", "ingress certificates issued by ca-issuer"),
    CheckResult("volumes", "pass", "pipeline-argocd-pv ← argocd/argocd-data (/exports/argocd); pipeline-kargo-pv ← "
                                   "kargo/kargo-data (/exports/kargo)"),
    CheckResult("arc-removed", "pass", "no ARC namespaces or runner sets"),
]
DEPLOY_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB3vPq0l9oKQm8x3YhJq7sZt2cWn5rL1dF4gH6jK8mN0 stonks-oracle-mirror"
PVS = [("pipeline-argocd-pv", "pipeline-argocd-pv: 127.0.0.1:/exports/argocd, 5Gi, Retain, Bound"),
       ("pipeline-kargo-pv", "pipeline-kargo-pv: 127.0.0.1:/exports/kargo, 2Gi, Retain, Bound"),
       ("pipeline-woodpecker-pv", "pipeline-woodpecker-pv: 127.0.0.1:/exports/woodpecker, 5Gi, Retain, Bound")]


@dataclass
class Script:
    fail: dict[str, tuple[str, str]] = field(default_factory=dict)  # step -> (error, hint), on the first run only
    lines_per_step: int = 3
    gate: asyncio.Event | None = None  # when set: every step waits for it (a run in progress)
    preflight: list[list[CheckResult]] = field(default_factory=lambda: [PREFLIGHT_OK])  # one list per call
    refused_tokens: tuple[str, ...] = ()  # Woodpecker tokens Woodpecker answers 401 to
    vanish_at: str | None = None  # this step starts, then the engine process is gone (SIGKILL): no end is told


SHA = "c37718593d32b0861452550f1b923c983ed075c4"


class FakeRunner(Runner):
    """The Runner's own plans, journal and log paths; the rest scripted."""

    def __init__(self, state: Path, script: Script | None = None, *, settings: Settings = SETTINGS) -> None:
        super().__init__(settings, "fake-context", state, lambda: None)  # type: ignore[arg-type,return-value]
        self.answers_path = state / "answers.yaml"
        self.script = script or Script()
        self.store = MemorySecretStore()
        self.runs: list[str] = []
        self.preflight_calls = 0
        self.cancelled = False

    # -- what the screens call ----------------------------------------------------------------------------
    torn_down_before = False

    def torn_down(self) -> bool:
        return self.torn_down_before

    def secret_store(self) -> MemorySecretStore:
        return self.store

    async def gitea_mode(self) -> str:
        return "installer"

    async def preflight(self) -> list[CheckResult]:
        results = self.script.preflight[min(self.preflight_calls, len(self.script.preflight) - 1)]
        self.preflight_calls += 1
        return list(results)

    async def verify(self) -> list[CheckResult]:
        return list(VERIFY_OK)

    async def kept_pvs(self) -> list[tuple[str, str]]:
        return list(PVS)

    async def teardown_namespaces(self) -> tuple[list[str], list[tuple[str, str]]]:
        return (["woodpecker", "argocd", "kargo", "stonks-beta", "stonks-paper"],
                [("git-server", "Gitea runs there"), ("stonks-live", "the live deployment runs there")])

    delivery_calls: list[str | None]
    break_glasses: list[tuple[str, str, int]]

    async def delivery(self, promote: str | None, report: Any) -> list[Any]:
        """The links of a proof, reported one by one as the real one reports them (scripted)."""
        import asyncio

        from stonks_tui.checks.delivery import Link

        self.__dict__.setdefault("delivery_calls", []).append(promote)
        links = [Link("pipeline", "run", f"#7 started on main at {SHA[:12]} (http://127.0.0.1:38000)"),
                 Link("  build-query-api", "run", "success"),
                 Link("pipeline", "pass", f"#7 succeeded for {SHA} (19 steps)"),
                 Link("image", "pass", f"registry.celestium.life/stonks-oracle/query-api:{SHA} (sha256:5f1c…)"),
                 Link("freight", "pass", "3328fba7a5dd (sim-3328fb) from Warehouse stonks-images"),
                 Link("beta", "pass", "Promotion beta.1a23b4d88a2.3328fba Succeeded"),
                 Link("beta-app", "pass", f"stonks-beta Synced and Healthy, image.tag={SHA}"),
                 Link("paper-gate", "info", "the market is open (Wed 11:00 New York by this machine's clock; "
                                            "Kargo's controller decides by its own): a promotion into paper is "
                                            "refused until 16:00 New York"),
                 Link("paper", "info", "not promoted (ask with --promote paper); Kargo never promotes it by itself")]
        done = []
        for link in links:
            await asyncio.sleep(0)
            report(link)
            if link.status != "run":
                done.append(link)
        return done

    async def break_glass(self, stage: str, *, by: str, reason: str, minutes: int, now: Any) -> dict:
        self.__dict__.setdefault("break_glasses", []).append((stage, reason, minutes))
        return {"stage": stage, "by": by, "reason": reason, "until": "2026-12-02T16:30:00Z"}

    async def describe(self, plan: Plan) -> list[tuple[str, list[Change] | str]]:
        special: dict[str, list[Change]] = {
            "repo-migrate": [Change("update", "File", "infra/helm/stonks-oracle/values.yaml", "2 lines",
                                    ("--- a/values.yaml", "+++ b/values.yaml", "@@ -1,2 +1,2 @@",
                                     "-registry: ghcr.io/celesrenata", "+registry: 127.0.0.1:5000"))],
            "verify": [Change("unchanged", "Check", "live checks", "read-only: run after the install")],
            "pvs": [Change("unchanged", "PersistentVolume", "pipeline-argocd-pv"),
                    Change("create", "PersistentVolume", "pipeline-kargo-pv", "NFS 127.0.0.1:/volume1/Kubernetes/"
                           "pipelines/kargo, 2Gi, Retain, bound to kargo/kargo-data by claimRef")],
        }
        return [(sid, special.get(sid) or [Change("create", "Step", sid, plan.by_id[sid].title)])
                for sid in plan.order]

    def cancel(self) -> None:
        self.cancelled = True
        if self.script.gate is not None:
            self.script.gate.set()

    async def run(self, plan: Plan, listeners: list[Any], install_signals: bool = False) -> RunSummary:
        def emit(event: Any) -> None:
            for listener in listeners:
                listener(event)

        self.runs.append(plan.name)
        self.cancelled = False
        journal = self.journal(plan.name)
        journal.start_run(list(plan.order))
        emit(PlanStarted(plan=plan.name, step_ids=tuple(plan.order)))
        summary = RunSummary(ok=False, interrupted=False)
        bad: set[str] = set()
        for sid in plan.order:
            step = plan.by_id[sid]
            if journal.steps[sid].state == DONE:
                summary.outcomes[sid] = "unchanged"
                emit(StepFinished(step_id=sid, outcome="unchanged", duration=0.1))
                continue
            if any(need in bad for need in step.needs):
                bad.add(sid)
                summary.outcomes[sid] = "blocked"
                emit(StepFinished(step_id=sid, outcome="blocked", error="a step it needs did not finish"))
                continue
            journal.mark(sid, RUNNING)
            emit(StepStarted(step_id=sid, title=step.title, attempt=journal.steps[sid].attempts))
            if sid == self.script.vanish_at:
                self.script.vanish_at = None  # the next run (a resume) goes on
                return RunSummary(ok=False, interrupted=False, vanished=True)
            if self.script.gate is not None:
                await self.script.gate.wait()
            if self.cancelled:
                journal.mark(sid, "interrupted", error="interrupted before it finished")
                summary.outcomes[sid] = "interrupted"
                emit(StepFinished(step_id=sid, outcome="interrupted"))
                break
            for n in range(self.script.lines_per_step):
                emit(LogLine(step_id=sid, line=f"{sid}: line {n + 1}"))
            for workload in getattr(step, "workloads", ()):
                emit(WorkloadStatus(step_id=sid, kind=workload[0], name=workload[1], ready=1, wanted=1))
            await asyncio.sleep(0)
            outcome, error, hint = "ok", "", ""
            if sid in self.script.fail:
                error, hint = self.script.fail.pop(sid)
                outcome = "failed"
            elif sid == "woodpecker-activate" and self.store.get("woodpecker-token") in self.script.refused_tokens:
                self.store.delete("woodpecker-token")  # as the step does with a token Woodpecker refuses
                outcome, error, hint = ("needs-operator", "Woodpecker refused the stored personal token (HTTP 401); "
                                        "it was removed from the keyring", "create a new token")
            elif sid == "woodpecker-activate" and not self.store.get("woodpecker-token"):
                outcome, error, hint = "needs-operator", "Woodpecker needs a personal API token", "log in once"
            if outcome == "ok":
                outputs = {"github_deploy_public_key": DEPLOY_KEY} if sid == "woodpecker-activate" else None
                journal.mark(sid, DONE, duration=1.0, outputs=outputs)
            else:
                bad.add(sid)
                journal.mark(sid, FAILED if outcome == "failed" else NEEDS_OPERATOR, error=error, hint=hint,
                             duration=1.0)
            summary.outcomes[sid] = outcome  # type: ignore[assignment]
            emit(StepFinished(step_id=sid, outcome=outcome, duration=1.0, error=error, hint=hint))  # type: ignore[arg-type]
        summary.interrupted = self.cancelled
        summary.ok = not summary.interrupted and all(o in ("ok", "unchanged") for o in summary.outcomes.values()) \
            and len(summary.outcomes) == len(plan.order)
        journal.finish_run("interrupted" if summary.interrupted else ("done" if summary.ok else "failed"))
        counts: dict[str, int] = {}
        for outcome in summary.outcomes.values():
            counts[outcome] = counts.get(outcome, 0) + 1
        emit(PlanFinished(plan=plan.name, ok=summary.ok, interrupted=summary.interrupted, counts=counts,
                          duration=float(len(summary.outcomes))))
        return summary
