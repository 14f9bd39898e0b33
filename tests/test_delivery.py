"""A commit reaches beta (issue 22): Stages that change the image, a gate at promotion time, and the proof.

The Stages' step configs validate against Kargo v1.11.0's own JSON Schemas (../shared/upstream); the gate's
expression means what market_hours.py says, which is New York time as the tz database has it; the simulated Kargo
checks step configs as those schemas do; and end to end, `verify --delivery` proves the chain in the demo, names a
failing pipeline step, and a promotion into paper in market hours is refused until a break-glass opens it."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from stonks_tui.market_hours import gate_closed, market_open, new_york, with_break_glass
from stonks_tui.render import render
from stonks_tui.settings import Settings
from stonks_tui.sim.expr import Evaluator, evaluate_template
from stonks_tui.sim.kargo import CHECKS
from tests.conftest import shared_file

SCHEMAS = "upstream/schemas/kargo-v1.11.0-promotion-steps"


def stages() -> dict[str, dict]:
    r = render(Settings())
    return {o["metadata"]["name"]: o for _, o in r.all_objects() if o["kind"] == "Stage"}


def validator(step: str):  # type: ignore[no-untyped-def]
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    folder = shared_file(f"{SCHEMAS}/{step}-config.json").parent
    registry = Registry().with_resources(
        (p.name, Resource.from_contents(json.loads(p.read_text()))) for p in folder.glob("*.json"))
    return Draft202012Validator(json.loads((folder / f"{step}-config.json").read_text()), registry=registry)


def test_every_step_config_the_install_writes_validates_against_kargos_schemas() -> None:
    seen = set()
    for name, stage in stages().items():
        for step in stage["spec"]["promotionTemplate"]["spec"]["steps"]:
            errors = list(validator(step["uses"]).iter_errors(step.get("config") or {}))
            assert not errors, f"{name}/{step['uses']}: {[e.message for e in errors]}"
            seen.add((name, step["uses"]))
    assert seen == {("beta", "argocd-update"), ("paper", "fail"), ("paper", "argocd-update"), ("live", "fail"),
                    ("live", "argocd-update")}


def test_each_stage_sets_image_tag_on_its_applications_own_source() -> None:
    """argocd-update with only apps[].name re-syncs the same revision: the image changes only through a source
    whose repoURL is the Application's own, with helm.images (FACTS)."""
    r = render(Settings())
    apps = {o["metadata"]["name"]: o for _, o in r.all_objects() if o["kind"] == "Application"}
    for name, stage in stages().items():
        update = next(s for s in stage["spec"]["promotionTemplate"]["spec"]["steps"] if s["uses"] == "argocd-update")
        (app,) = update["config"]["apps"]
        assert app["name"] == f"stonks-{name}" and app["name"] in apps
        (source,) = app["sources"]
        assert source["repoURL"] == apps[app["name"]]["spec"]["source"]["repoURL"]
        assert source["helm"]["images"] == [{"key": "image.tag", "value": '${{ quote(imageFrom("registry.celestium.'
                                             'life/stonks-oracle/query-api").Tag) }}'}]
    assert "verification" not in json.dumps(stages())  # Kargo verifies after promoting: it would gate nothing


def test_us_eastern_time_from_utc_matches_the_tz_database() -> None:
    zone = ZoneInfo("America/New_York")
    t = datetime(2024, 1, 1, tzinfo=UTC)
    while t < datetime(2032, 1, 1, tzinfo=UTC):
        assert new_york(t).replace(tzinfo=None) == t.astimezone(zone).replace(tzinfo=None), t
        t += timedelta(minutes=30)
    assert market_open(datetime(2026, 12, 2, 16, 0, tzinfo=UTC))  # Wed 11:00 EST
    assert not market_open(datetime(2026, 12, 2, 21, 0, tzinfo=UTC))  # 16:00: closed
    assert market_open(datetime(2026, 7, 1, 13, 30, tzinfo=UTC))  # 09:30 EDT opens
    assert not market_open(datetime(2026, 12, 5, 16, 0, tzinfo=UTC))  # Saturday


@pytest.mark.parametrize("stage", ["paper", "live"])
def test_the_gate_expression_means_what_market_hours_says(stage: str) -> None:
    """The expression in the Stage, evaluated as Kargo would (sim/expr.py; tests/real holds that to expr-lang),
    against the product's rule at random instants over three years, with and without a break-glass."""
    step = stages()[stage]["spec"]["promotionTemplate"]["spec"]["steps"][0]
    assert step["uses"] == "fail" and step["as"] == "market-hours"
    glass = with_break_glass({}, stage, by="op@host", reason="hotfix", minutes=30,
                             now=datetime(2026, 3, 9, 15, 0, tzinfo=UTC))
    rnd = random.Random(22)
    instants = [datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=rnd.randrange(3 * 366 * 24 * 60))
                for _ in range(1500)]
    instants += [datetime(2026, 3, 9, 14, 50, tzinfo=UTC) + timedelta(minutes=m) for m in range(0, 45)]
    for t in instants:
        for data in ({}, glass):
            ev = Evaluator(lambda t=t: t, {"configMap": lambda name, data=data: data})
            assert evaluate_template(step["if"], ev) is gate_closed(t, data, stage), (t, bool(data))


CONFIGS = [
    {"apps": [{"name": "a", "sources": [{"repoURL": "u", "helm": {"images": [{"key": "image.tag", "value": "x"}]}}]}]},
    {"apps": [{"name": "a", "namespace": "argocd"}]},
    {"apps": []},
    {"apps": [{"name": "a", "selector": {"matchLabels": {"x": "y"}}}]},
    {"apps": [{"namespace": "argocd"}]},
    {"apps": [{"name": "a", "sources": [{"helm": {"images": [{"key": "k", "value": "v"}]}}]}]},
    {"apps": [{"name": "a", "sources": [{"repoURL": "u", "helm": {"images": []}}]}]},
    {"apps": [{"name": "a", "sources": [{"repoURL": "u", "helm": {"images": [{"key": "k"}]}}]}]},
    {"apps": [{"name": "a", "sources": [{"repoURL": "u", "helm": {"images": [{"key": "k", "value": 1.5}]}}]}]},
    {"apps": [{"name": "a", "sources": [{"repoURL": "u", "helm": {"images": [{"key": "k", "value": "v",
                                                                               "extra": 1}]}}]}]},
    {"apps": [{"name": "a", "sources": [{"repoURL": "u", "updateTargetRevision": True}]}]},
    {"apps": [{"name": "a", "sources": []}]},
    {"apps": [{"name": "a"}], "other": 1},
    {"apps": [{"name": ""}]},
]


@pytest.mark.parametrize("index", range(len(CONFIGS)))
def test_the_simulated_kargo_refuses_exactly_what_the_schema_refuses(index: int) -> None:
    config = CONFIGS[index]
    refused_by_schema = bool(list(validator("argocd-update").iter_errors(config)))
    assert bool(CHECKS["argocd-update"](config)) is refused_by_schema, config


def _cli(state: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_") and k != "PYTHON_KEYRING_BACKEND"}
    base.update({"STONKS_SIM_SPEED": "0.05", "PYTHONUNBUFFERED": "1", **env})
    return subprocess.run([sys.executable, "-m", "stonks_tui", "--state-dir", str(state), "--demo", *args],
                          env=base, capture_output=True, text=True, timeout=400)


def test_a_commit_reaches_beta_in_the_demo_and_the_gate_holds_paper(tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert _cli(state, "install", "--yes", "--quiet").returncode == 0
    proof = _cli(state, "verify", "--delivery")
    assert proof.returncode == 0, proof.stdout[-3000:]
    out = proof.stdout
    sha = out.split("PASS pipeline: #")[1].split(" succeeded for ")[1].split()[0]
    assert len(sha) == 40
    for link in ("PASS image: registry.celestium.life/stonks-oracle/query-api:" + sha, "PASS freight: ",
                 "PASS beta: Promotion beta.", f"PASS beta-app: stonks-beta Synced and Healthy, image.tag={sha}",
                 "delivery: proven"):
        assert link in out, out[-2000:]
    assert "mirror-github" not in out  # a manual pipeline: the mirror runs only on a push to main

    failing = _cli(state, "verify", "--delivery", "-o", "json", STONKS_SIM_FAULTS="pipeline:build-query-api=exit1")
    assert failing.returncode == 1
    doc = json.loads(failing.stdout)  # the progress lines went to stderr
    assert (doc["kind"], doc["proven"], doc["failedAt"]) == ("DeliveryReport", False, "pipeline")
    broken = next(link for link in doc["links"] if link["status"] == "fail")
    assert "step build-query-api (exit 1)" in broken["detail"] and "its log ends:" in broken["detail"]
    assert "exit status 1" in broken["detail"] and "FAIL pipeline: " in failing.stderr

    market = {"STONKS_SIM_NOW": "2026-12-02T16:00:00Z"}  # a Wednesday, 11:00 in New York
    refused = _cli(state, "verify", "--delivery", "--promote", "paper", **market)
    assert refused.returncode == 1
    assert 'FAIL paper: Promotion paper.' in refused.stdout and "US market hours" in refused.stdout
    assert "break-glass --stage paper" in refused.stdout
    glass = _cli(state, "break-glass", "--stage", "paper", "--reason", "hotfix for risk", "--for", "30m")
    assert glass.returncode == 0, glass.stderr
    allowed = _cli(state, "verify", "--delivery", "--promote", "paper", **market)
    assert allowed.returncode == 0, allowed.stdout[-2000:]
    assert "PASS paper: Promotion paper." in allowed.stdout
    status = _cli(state, "status").stdout
    assert "market-hours gate" in status and "paper: break-glass active until" in status
    assert "hotfix for risk" in status
    # both the refusal and the promotion the break-glass let through, in order
    refused_at = status.index("paper: promotion refused")
    assert refused_at < status.index("paper: break-glass active") < status.index("paper: promotion promoted")
    assert "US market hours" in status
    assert _cli(state, "break-glass", "--stage", "paper", "--reason", "x", "--for", "3d").returncode == 2
    plan = _cli(state, "plan")
    assert "nothing to change" in plan.stdout.splitlines()[-1]  # Kargo's image.tag is not drift of ours
    world = json.loads((state / "demo" / "world.json").read_text())
    assert all(r.get("has_actions") is False for r in world["gitea"]["repos"].values())  # Actions turned off
