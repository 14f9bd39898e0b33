"""Pipelines of the simulated Woodpecker server: run from the pushed `.woodpecker.yml`, as 3.16 runs them.

A pipeline starts by hand (`POST /api/repos/{id}/pipelines`, event `manual`, the branch's head commit) or from a
push delivered to `/api/hook`. The server reads `.woodpecker.yml` at that commit from the simulated Gitea, keeps
the steps whose `when` matches (event, branch; a list of conditions is any-of; `status: [failure]` runs only after
a failure), answers 204 when the pipeline-level `when` or every step filters it out, and runs the steps one after
another: pending → running → success or failure (exit code and log lines kept). A step matched by a
`pipeline:<regex>=exitN` fault exits N; `failure: ignore` keeps the pipeline green. A build step
(woodpeckerci/plugin-docker-buildx) pushes its image's tags, `${CI_COMMIT_SHA}` substituted, to the simulated
registry. Answers and field names follow server/model (Pipeline, Workflow, Step, LogEntry).
"""

from __future__ import annotations

import base64
import fnmatch
import json
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from stonks_tui.sim.faults import Faults

BUILDX = "woodpeckerci/plugin-docker-buildx"


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def when_matches(when: Any, event: str, branch: str, failed: bool = False) -> bool:
    """Woodpecker's `when`: a mapping or a list of them (any of); absent = always (on success)."""
    conditions = when if isinstance(when, list) else [when] if isinstance(when, dict) else [{}]
    for cond in conditions:
        cond = cond or {}
        events = _as_list(cond.get("event"))
        branches = _as_list(cond.get("branch"))
        status = _as_list(cond.get("status")) or ["success"]
        if events and event not in events:
            continue
        if branches and not any(fnmatch.fnmatchcase(branch, b) for b in branches):
            continue
        if ("failure" if failed else "success") not in status:
            continue
        return True
    return False


def read_commit(repo_path: Path, branch: str) -> tuple[str, str] | None:
    """(head commit, .woodpecker.yml text) of a branch in a bare repository, or None."""
    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "--git-dir", str(repo_path), *args], capture_output=True, text=True,
                              timeout=15)
    head = git("rev-parse", "--verify", "-q", f"refs/heads/{branch}")
    if head.returncode != 0:
        return None
    sha = head.stdout.strip()
    config = git("show", f"{sha}:.woodpecker.yml")
    return sha, (config.stdout if config.returncode == 0 else "")


class Pipelines:
    def __init__(self, push_image: Callable[[str, str], None], faults: Faults | None, speed: float,
                 changed: Callable[[], None]) -> None:
        self.push_image = push_image  # (repository path, tag)
        self.faults = faults
        self.speed = speed
        self.changed = changed
        self.lock = threading.RLock()
        self.state: dict[str, Any] = {"pipelines": {}, "logs": {}, "next_id": 1}

    def _id(self) -> int:
        self.state["next_id"] = self.state.get("next_id", 1) + 1
        return self.state["next_id"] - 1

    def create(self, repo_id: int, author: str, event: str, branch: str, sha: str, config_text: str,
               message: str = "") -> dict | None:
        """A pipeline record, queued to run; None when `when` filters everything out (the API's 204)."""
        try:
            config = yaml.safe_load(config_text) or {}
        except yaml.YAMLError:
            config = {}
        steps = config.get("steps") if isinstance(config, dict) else None
        if not isinstance(steps, list) or not when_matches(config.get("when"), event, branch):
            return None
        chosen = [s for s in steps if isinstance(s, dict) and (
            when_matches(s.get("when"), event, branch) or when_matches(s.get("when"), event, branch, failed=True))]
        if not chosen:
            return None
        with self.lock:
            runs = self.state["pipelines"].setdefault(str(repo_id), [])
            number = len(runs) + 1
            now = int(time.time())
            pid = 2  # the workflow is pid 1; its steps follow, the clone first (as 3.16.0 numbers them)
            children = []
            clone = {"id": self._id(), "pid": pid, "ppid": 1, "name": "clone", "state": "pending", "exit_code": 0,
                     "type": "clone", "uuid": f"sim-{number}-clone"}
            children.append(clone)
            for s in chosen:
                pid += 1
                children.append({"id": self._id(), "pid": pid, "ppid": 1, "name": str(s.get("name", f"step{pid}")),
                                 "state": "pending", "exit_code": 0, "type": "plugin" if "settings" in s
                                 else "commands", "uuid": f"sim-{number}-{pid}"})
            pipeline = {"id": self._id(), "number": number, "author": author, "parent": 0, "event": event,
                        "event_reason": [], "status": "pending", "errors": None, "created": now, "updated": now,
                        "started": 0, "finished": 0, "deploy_to": "", "deploy_task": "", "commit": sha,
                        "branch": branch, "ref": f"refs/heads/{branch}", "refspec": "", "title": "",
                        "message": message, "timestamp": now, "sender": author, "author_avatar": "",
                        "author_email": "", "forge_url": "", "reviewed_by": "", "reviewed": 0, "rerun_count": 0,
                        "version": "3.16.0",
                        "workflows": [{"id": self._id(), "pipeline_id": 0, "pid": 1, "name": "woodpecker",
                                       "state": "pending", "children": children}]}
            pipeline["workflows"][0]["pipeline_id"] = pipeline["id"]
            for child in children:
                child["pipeline_id"] = pipeline["id"]
            runs.append(pipeline)
            answer = json.loads(json.dumps(pipeline))  # the answer as created: the run changes the record at once
        self.changed()
        threading.Thread(target=self._run, args=(repo_id, number, [{}, *chosen]), name=f"sim-pipeline-{number}",
                         daemon=True).start()
        return answer

    def interrupted(self) -> None:
        """After a restart: what was running when the world stopped was killed (its agent went with it)."""
        for runs in self.state["pipelines"].values():
            for pipeline in runs:
                if pipeline["status"] in ("pending", "running"):
                    pipeline["status"] = "killed"
                    for child in pipeline["workflows"][0]["children"]:
                        if child["state"] in ("pending", "running"):
                            child["state"] = "killed"

    def get(self, repo_id: int, number: int) -> dict | None:
        runs = self.state["pipelines"].get(str(repo_id)) or []
        return runs[number - 1] if 1 <= number <= len(runs) else None

    def logs(self, step_id: int) -> list[dict] | None:
        return self.state["logs"].get(str(step_id))

    def _log(self, step: dict, text: str) -> None:
        entries = self.state["logs"].setdefault(str(step["id"]), [])
        entries.append({"id": len(entries) + 1, "step_id": step["id"], "time": len(entries), "line": len(entries),
                        "data": base64.b64encode(text.encode()).decode(), "type": 0})

    def _run(self, repo_id: int, number: int, steps: list[dict]) -> None:
        pipeline = self.get(repo_id, number)
        assert pipeline is not None
        children = pipeline["workflows"][0]["children"]
        with self.lock:
            pipeline["status"] = pipeline["workflows"][0]["state"] = "running"
            pipeline["started"] = int(time.time())
        failed = False
        for child, spec in zip(children, steps, strict=True):
            is_clone = child["name"] == "clone"
            if not is_clone and not when_matches(spec.get("when"), pipeline["event"], pipeline["branch"], failed):
                with self.lock:
                    child["state"] = "skipped"
                self.changed()
                continue
            with self.lock:
                child["state"], child["started"] = "running", int(time.time())
            self.changed()
            time.sleep(0.3 * self.speed)
            action = None if is_clone or self.faults is None else self.faults.check("pipeline", child["name"])
            code = int(action[4:]) if action and action.startswith("exit") else 0
            with self.lock:
                self._output(child, spec, pipeline, code)
                child["exit_code"], child["finished"] = code, int(time.time())
                child["state"] = "success" if code == 0 else "failure"
                if code and spec.get("failure") != "ignore":
                    failed = True
            self.changed()
        with self.lock:
            pipeline["status"] = pipeline["workflows"][0]["state"] = "failure" if failed else "success"
            pipeline["finished"] = int(time.time())
        self.changed()

    def _output(self, child: dict, spec: dict, pipeline: dict, code: int) -> None:
        sha = pipeline["commit"]
        if child["name"] == "clone":
            self._log(child, f"+ git fetch --depth=1 origin +{sha}:")
            return
        for command in spec.get("commands") or []:
            self._log(child, f"+ {command}".replace("${CI_COMMIT_SHA}", sha))
        settings = spec.get("settings") or {}
        if spec.get("image") == BUILDX:
            self._log(child, f"building {settings.get('repo')} from {settings.get('dockerfile')} "
                             f"(context {settings.get('context')})")
        if spec.get("image") == BUILDX and code == 0:
            repo = str(settings.get("repo", ""))
            path = repo.split("/", 1)[1] if "/" in repo else repo
            for tag in _as_list(settings.get("tags")):
                tag = tag.replace("${CI_COMMIT_SHA}", sha)
                self.push_image(path, tag)
                self._log(child, f"pushed {repo}:{tag}")
        if code:
            self._log(child, f"exit status {code}")
