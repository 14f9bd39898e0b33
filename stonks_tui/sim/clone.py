"""A generated local clone shaped like the operator's stonks-oracle repository (for --demo and tests)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SERVICES = ("query-api", "ingest-worker", "market-data", "signal-engine", "portfolio", "risk", "broker-gateway",
            "scheduler", "notifier", "backtester", "feature-store", "auth")

VALUES_YAML = """\
# Base values for stonks-oracle. Stage files (values-beta.yaml, values-paper.yaml) override image.tag only.
image:
  # Where every service image comes from.
  registry: ghcr.io/celesrenata/stonks-oracle
  pullPolicy: Always
  tag: latest  # overridden per stage by Kargo

# Pull secret for GHCR (private packages)
imagePullSecrets:
  - name: ghcr-credentials

ghcrAuth:
  enabled: true
  username: celesrenata  # the token lives in a sealed secret

replicaCount: 1
resources:
  requests:
    cpu: 100m
    memory: 128Mi
"""

WORKFLOW = """\
name: ci
on:
  push:
    branches: [main]
jobs:
  lint:
    runs-on: arc-runner-set
    steps:
      - uses: actions/checkout@v4
      - run: pip install ruff && ruff check services/
  test:
    runs-on: arc-runner-set
    steps:
      - uses: actions/checkout@v4
      - run: pip install -r requirements.txt && pytest tests/
  build:
    needs: [lint, test]
    runs-on: arc-runner-set
    strategy:
      matrix:
        service: [{services}]
    steps:
      - uses: actions/checkout@v4
      - uses: docker/build-push-action@v6
        with:
          context: services/${{{{ matrix.service }}}}
          push: true
          tags: ghcr.io/celesrenata/stonks-oracle/${{{{ matrix.service }}}}:${{{{ github.sha }}}}
"""


def git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "Operator", "GIT_AUTHOR_EMAIL": "operator@example.invalid",
           "GIT_COMMITTER_NAME": "Operator", "GIT_COMMITTER_EMAIL": "operator@example.invalid"}
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env)


def make_clone(path: Path) -> Path:
    """Create the clone if it is not there yet; an existing one is left exactly as it is."""
    path = Path(path)
    if (path / ".git").exists():
        return path
    path.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {
        "README.md": "# stonks-oracle\n\nMarket signals, paper trading and live execution.\n",
        "requirements.txt": "fastapi\npytest\n",
        "tests/test_smoke.py": "def test_smoke():\n    assert True\n",
        "frontend/Dockerfile": "FROM node:22-alpine\nWORKDIR /app\nCOPY . .\nRUN npm ci && npm run build\n",
        "frontend/package.json": '{"name": "dashboard", "scripts": {"build": "vite build", "test": "vitest"}}\n',
        "docker/Dockerfile.superset": "FROM apache/superset:4.1.1\n",
        "infra/helm/stonks-oracle/Chart.yaml": "apiVersion: v2\nname: stonks-oracle\nversion: 0.1.0\n",
        "infra/helm/stonks-oracle/values.yaml": VALUES_YAML,
        "infra/helm/stonks-oracle/values-beta.yaml": "image:\n  tag: beta\n",
        "infra/helm/stonks-oracle/values-paper.yaml": "image:\n  tag: paper\n",
        "scripts/run_pipeline.sh": "#!/bin/sh\necho integration tests for $1\n",
        ".github/workflows/ci.yml": WORKFLOW.format(services=", ".join(SERVICES)),
    }
    for svc in SERVICES:
        files[f"services/{svc}/Dockerfile"] = (f"FROM python:3.12-slim\nCOPY . /app\n"
                                               f"CMD [\"python\", \"-m\", \"{svc}\"]\n")
        files[f"services/{svc}/__init__.py"] = ""
    for rel, text in files.items():
        target = path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "stonks-oracle: initial import")
    git(path, "tag", "v0.1.0")
    git(path, "branch", "develop")
    git(path, "remote", "add", "origin", "git@github.com:celesrenata/stonks-oracle.git")
    return path
