"""The Gitea pod as the exec API reaches it: which pod, and its app.ini (what the server really runs with)."""

from __future__ import annotations

import shlex
from typing import Any

from stonks_tui.errors import StepFailed

# gitea/gitea's rootful image: GITEA_APP_INI may move it; the image's default is under /data.
APP_INI = "${GITEA_APP_INI:-/data/gitea/conf/app.ini}"


async def gitea_pod(kube: Any, namespace: str) -> str:
    pods = [p for p in await kube.list("v1", "Pod", namespace, label_selector="app=gitea")
            if (p.get("status") or {}).get("phase") == "Running"]
    if not pods:
        raise StepFailed(f"no running Gitea pod (label app=gitea) in namespace {namespace}",
                         hint=f"kubectl -n {namespace} get pods; set gitea_namespace if Gitea lives elsewhere")
    return pods[0]["metadata"]["name"]


async def su_git(kube: Any, namespace: str, script: str, stdin: str | None = None) -> tuple[int, str]:
    """Run `script` as user git in the Gitea pod (its CLI refuses root), through the exec API."""
    pod = await gitea_pod(kube, namespace)
    return await kube.exec(namespace, pod, ["su", "git", "-c", script], stdin=stdin)


async def read_app_ini(kube: Any, namespace: str) -> str:
    """Gitea's app.ini as the server reads it (the image's entrypoint has already folded GITEA__* variables in)."""
    code, output = await su_git(kube, namespace, f'cat "{APP_INI}"')
    if code != 0:
        raise StepFailed(f"cannot read Gitea's app.ini in the pod (exit {code}): {output.strip()[-160:]}",
                         hint="the check reads " + shlex.quote(APP_INI) + " as user git")
    return output
