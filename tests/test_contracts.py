"""Contract tests: our Gitea traffic against Gitea's swagger spec, our pipeline against Woodpecker's schema.

Both specs come from ../shared/contracts; without it these tests skip and say why.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.conftest import PYTHON, shared_file

# Statuses every Gitea API route can answer that the spec leaves to middleware (auth, routing, reqToken).
MIDDLEWARE = {401, 403, 404, 422}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], Path]:
    shared_file("contracts/gitea-swagger.v1.json")
    tmp = tmp_path_factory.mktemp("contract")
    record = tmp / "gitea-traffic.jsonl"  # outside the state dir: it holds minted tokens
    env = {k: v for k, v in os.environ.items() if not k.startswith("STONKS_")}
    env.update({"STONKS_SIM_SPEED": "0", "STONKS_SIM_RECORD": str(record)})
    r = subprocess.run([PYTHON, "-m", "stonks_tui", "--state-dir", str(tmp / "state"), "--demo", "install", "--yes",
                        "--quiet"], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:]
    return [json.loads(line) for line in record.read_text().splitlines()], tmp / "state"


def _template(spec: dict, path: str) -> str | None:
    """The spec's path template for a concrete path: literal segments equal, `{param}` segments anything."""
    parts = path.removeprefix(spec.get("basePath", "")).strip("/").split("/")
    matches = []
    for template in spec["paths"]:
        tparts = template.strip("/").split("/")
        if len(tparts) == len(parts) and all(t == p or (t.startswith("{") and t.endswith("}"))
                                             for t, p in zip(tparts, parts, strict=True)):
            matches.append(template)
    return min(matches, key=lambda t: t.count("{"), default=None)  # the most literal template wins


def _schema(spec: dict, ref_or_schema: dict) -> dict:
    return {**ref_or_schema, "definitions": spec["definitions"]}


def test_gitea_traffic_matches_swagger(recorded: tuple[list[dict], Path]) -> None:
    spec = json.loads(shared_file("contracts/gitea-swagger.v1.json").read_text())
    exchanges, _ = recorded
    assert len(exchanges) >= 10
    seen = set()
    for ex in exchanges:
        template = _template(spec, ex["path"])
        assert template, f"{ex['method']} {ex['path']} is not a Gitea API path"
        op = spec["paths"][template].get(ex["method"].lower())
        assert op, f"{ex['method']} is not allowed on {template}"
        seen.add(f"{ex['method']} {template}")
        body_param = next((p for p in op.get("parameters", []) if p.get("in") == "body"), None)
        if ex["request"] is not None and ex["method"] in ("POST", "PATCH", "PUT"):
            assert body_param, f"{ex['method']} {template} takes no body"
            jsonschema.validate(ex["request"], _schema(spec, body_param["schema"]))
        status = str(ex["status"])
        responses = op["responses"]
        assert status in responses or ex["status"] in MIDDLEWARE, f"{ex['method']} {template} → {status} undocumented"
        if status in responses and ex["response"] is not None:
            response = responses[status]
            if "$ref" in response:
                response = spec["responses"][response["$ref"].split("/")[-1]]
            if "schema" in response:
                jsonschema.validate(ex["response"], _schema(spec, response["schema"]))
    for needed in ("POST /users/{username}/tokens", "POST /user/applications/oauth2", "POST /user/repos",
                   "GET /user", "GET /repos/{owner}/{repo}", "GET /version"):
        assert needed in seen, f"the install never exercised {needed}"


def test_token_requests_use_current_scope_names(recorded: tuple[list[dict], Path]) -> None:
    exchanges, _ = recorded
    scopes = [s for ex in exchanges if ex["path"].endswith("/tokens") and ex["method"] == "POST"
              for s in ex["request"]["scopes"]]
    assert set(scopes) == {"write:admin", "write:repository", "write:user", "read:repository"}


def test_oauth_app_is_confidential_and_never_duplicated(recorded: tuple[list[dict], Path]) -> None:
    exchanges, _ = recorded
    creates = [ex for ex in exchanges if ex["method"] == "POST" and ex["path"].endswith("/applications/oauth2")]
    assert len(creates) == 1 and creates[0]["request"]["confidential_client"] is True
    assert creates[0]["request"]["redirect_uris"] == ["https://stonks-ci.celestium.life/authorize"]


def test_generated_pipeline_matches_woodpecker_schema(recorded: tuple[list[dict], Path]) -> None:
    schema = json.loads(shared_file("contracts/woodpecker-pipeline-schema.json").read_text())
    _, state = recorded
    pipeline = yaml.safe_load((state / "demo" / "stonks-oracle" / ".woodpecker.yml").read_text())
    jsonschema.validate(pipeline, schema)
    names = [s["name"] for s in pipeline["steps"]]
    assert names[:3] == ["lint-python", "test-python", "test-frontend"]
    assert names[-2:] == ["integration-test", "mirror-github"]
    assert len([n for n in names if n.startswith("build-")]) == 14  # 12 services + dashboard + superset
    assert all("ghcr.io" not in json.dumps(s) for s in pipeline["steps"])


def test_migrated_values_keep_comments_and_drop_ghcr(recorded: tuple[list[dict], Path]) -> None:
    _, state = recorded
    text = (state / "demo" / "stonks-oracle" / "infra/helm/stonks-oracle/values.yaml").read_text()
    assert "registry: registry.celestium.life/stonks-oracle" in text
    assert "ghcrAuth" not in text and "ghcr-credentials" not in text
    assert "# Where every service image comes from." in text and "# overridden per stage by Kargo" in text
    keys = [line.split(":")[0] for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    assert keys == ["image", "replicaCount", "resources"]  # original order, removed keys gone
