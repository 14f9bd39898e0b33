"""The clone's migration as files: values.yaml pointed at the local registry (ghcrAuth and the GHCR pull secret
gone) and the generated .woodpecker.yml — what the repo-migrate step commits and the offline check inspects.

values.yaml is edited with ruamel.yaml's round-trip mode so the operator's comments and key order survive.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from stonks_tui.errors import StepFailed
from stonks_tui.pipeline import dump, generate, structural_problems
from stonks_tui.settings import Settings

VALUES = "infra/helm/stonks-oracle/values.yaml"
PIPELINE = ".woodpecker.yml"


def _yaml() -> Any:
    from ruamel.yaml import YAML

    y = YAML()  # round-trip: comments, order and quotes survive
    y.preserve_quotes = True
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def migrated_files(settings: Settings, clone: Path) -> dict[str, str]:
    """The migrated values.yaml and the generated .woodpecker.yml, as they would be committed."""
    out: dict[str, str] = {}
    values_path = clone / VALUES
    if values_path.exists():
        y = _yaml()
        doc = y.load(values_path.read_text())
        registry = f"{settings.registry_host}/{settings.registry_project}"
        if isinstance(doc, dict):
            image = doc.get("image")
            if isinstance(image, dict):
                image["registry"] = registry
            doc.pop("ghcrAuth", None)
            pulls = doc.get("imagePullSecrets")
            if isinstance(pulls, list):
                kept = [p for p in pulls if not (isinstance(p, dict) and p.get("name") == "ghcr-credentials")]
                if kept:
                    doc["imagePullSecrets"] = kept
                else:
                    del doc["imagePullSecrets"]
        buf = io.StringIO()
        y.dump(doc, buf)
        out[VALUES] = buf.getvalue()
    pipeline = generate(settings, clone)
    problems = structural_problems(pipeline)
    if problems:
        raise StepFailed(f"the generated {PIPELINE} is not valid: {'; '.join(problems)}",
                         hint="this is a bug in stonks-tui")
    out[PIPELINE] = dump(pipeline)
    return out
