"""The project's own .woodpecker.yml is valid Woodpecker 3.x, checked against the shared schema."""

from __future__ import annotations

import json

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
