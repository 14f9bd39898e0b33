"""The project's own .woodpecker.yml is valid Woodpecker 3.x, checked against the shared schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

from tests.conftest import REPO, shared_file


def test_own_pipeline_matches_woodpecker_schema() -> None:
    schema = json.loads(shared_file("contracts/woodpecker-pipeline-schema.json").read_text())
    pipeline = yaml.safe_load((REPO / ".woodpecker.yml").read_text())
    jsonschema.validate(pipeline, schema)
    names = [s["name"] for s in pipeline["steps"]]
    assert names == ["lint", "test"]


def test_schema_rejects_removed_top_level_secrets() -> None:
    schema = json.loads(shared_file("contracts/woodpecker-pipeline-schema.json").read_text())
    bad = {"steps": [{"name": "x", "image": "alpine", "commands": ["true"]}], "secrets": ["a"]}
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(bad))
    assert errors, "the schema must refuse 3.x-removed keys, otherwise this contract test proves nothing"


def test_integration_step_runs_as_the_account_the_rbac_binds(tmp_path: Path) -> None:
    """Woodpecker's kubernetes backend runs step pods as the namespace's `default` ServiceAccount unless the step
    names one and the agent allows it: the integration test must name the account the RBAC binds."""
    from stonks_tui.pipeline import generate
    from stonks_tui.render import render
    from stonks_tui.settings import Settings
    from stonks_tui.sim.clone import make_clone

    settings = Settings(gitea_public_url="http://127.0.0.1:30300")
    step = next(s for s in generate(settings, make_clone(tmp_path / "clone"))["steps"]
                if s["name"] == "integration-test")
    account = step["backend_options"]["kubernetes"]["serviceAccountName"]
    rendered = render(settings)
    for rbac in ("woodpecker/agent-rbac.yaml", "woodpecker/agent-rbac-namespaced.yaml"):
        subjects = [s for obj in rendered.objects[rbac] for s in obj.get("subjects") or []]
        assert subjects and {s["name"] for s in subjects} == {account}, rbac
    env = rendered.values["woodpecker/values.yaml"]["agent"]["env"]
    assert env["WOODPECKER_BACKEND_K8S_SERVICE_ACCOUNT_NAME_ALLOW_FROM_STEP"] == "true"
    # With it, any step of any activated repository may name that account (Woodpecker 3.16, pod.go; trust
    # settings do not gate it): only the admin signs in and only the owner's repositories can be activated, and
    # the plan says who can run as the account.
    server = rendered.values["woodpecker/values.yaml"]["server"]["env"]
    assert server["WOODPECKER_OPEN"] == "false" and server["WOODPECKER_REPO_OWNERS"] == settings.effective_repo_owner
    from stonks_tui.steps.cluster import rbac_grants

    for mode in ("cluster-admin", "namespaced"):
        assert "any pipeline step of the owner's repositories" in rbac_grants(mode) and \
            "not only integration-test" in rbac_grants(mode)
