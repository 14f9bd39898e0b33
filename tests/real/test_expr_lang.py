"""The market-hours gate and the image step as Kargo evaluates them: the Stages' own expressions, run by the real
expr-lang (v1.17.8, the version Kargo v1.11.0 pins; tests/real/exprlang, built from the Go module proxy into the
tier's cache), against stonks-tui's reading of the rule (market_hours.py) and the simulator's evaluator
(sim/expr.py) at a spread of instants over years, with and without a break-glass."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from stonks_tui.market_hours import gate_closed, with_break_glass
from stonks_tui.render import render
from stonks_tui.settings import Settings
from stonks_tui.sim.expr import Evaluator, evaluate_template
from tests.real import build

SOURCE = Path(__file__).with_name("exprlang")


@pytest.fixture(scope="module")
def exprlang(built: None) -> Path:
    digest = hashlib.sha256(b"".join((SOURCE / n).read_bytes() for n in ("go.mod", "go.sum", "main.go")))
    out = build.cache_root() / f"exprlang-{digest.hexdigest()[:12]}" / "exprlang"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["go", "build", "-o", str(out), "."], cwd=SOURCE, env=build.go_env(),
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
    return out


def steps() -> dict[str, list[dict]]:
    return {o["metadata"]["name"]: o["spec"]["promotionTemplate"]["spec"]["steps"]
            for _, o in render(Settings()).all_objects() if o["kind"] == "Stage"}


def run(binary: Path, requests: list[dict]) -> list[dict]:
    out = subprocess.run([str(binary)], input="\n".join(json.dumps(r) for r in requests) + "\n",
                         capture_output=True, text=True, timeout=300, check=True).stdout.splitlines()
    return [json.loads(line) for line in out]


@pytest.mark.parametrize("stage", ["paper", "live"])
def test_the_gate_is_what_real_expr_lang_makes_of_it(exprlang: Path, stage: str) -> None:
    gate = steps()[stage][0]["if"]
    glass = with_break_glass({}, stage, by="op@host", reason="hotfix", minutes=45,
                             now=datetime(2026, 3, 9, 14, 45, tzinfo=UTC))
    rnd = random.Random(24)
    instants = [datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=rnd.randrange(8 * 366 * 24 * 60))
                for _ in range(3000)]
    # Around both daylight-time switches and a break-glass window, minute by minute.
    for start in (datetime(2026, 3, 8, 6, 0, tzinfo=UTC), datetime(2026, 11, 1, 5, 0, tzinfo=UTC),
                  datetime(2026, 3, 9, 14, 30, tzinfo=UTC)):
        instants += [start + timedelta(minutes=m) for m in range(0, 150, 3)]
    cases = [(t, data) for t in instants for data in ({}, glass)]
    answers = run(exprlang, [{"expr": gate, "now": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "configmap": data}
                             for t, data in cases])
    for (t, data), got in zip(cases, answers, strict=True):
        assert "error" not in got, got
        sim = evaluate_template(gate, Evaluator(lambda t=t: t, {"configMap": lambda _n, d=data: d}))
        assert got["value"] is gate_closed(t, data, stage) is sim, (t, bool(data))


def test_the_image_step_gives_the_freights_tag_as_text(exprlang: Path) -> None:
    """`${{ quote(imageFrom(...).Tag) }}`: a SHA made only of digits, or looking like a number, stays text."""
    value = steps()["beta"][-1]["config"]["apps"][0]["sources"][0]["helm"]["images"][0]["value"]
    for tag in ("c37718593d32b0861452550f1b923c983ed075c4", "1234567", "1e50000"):
        (got,) = run(exprlang, [{"expr": value, "now": "2026-12-02T16:00:00Z", "image_tag": tag}])
        assert got == {"value": json.dumps(tag)}  # Go's %q; Kargo then strips the quotes: the tag, as text
