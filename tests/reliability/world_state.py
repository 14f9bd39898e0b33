"""What the simulated world holds after a run, in a form two runs can be compared by.

Read from the world's persisted state (`world.json`). Ignored, because two correct runs legitimately differ in
them: uids, resourceVersions, timestamps and managedFields; generated names and things controllers make (pods,
events, replica sets); the values of secrets and tokens (a run killed after creating one and before keeping it
makes a new one); helm's revision numbers (a killed `helm upgrade` is retried as a new revision); the loopback
ports (every simulated world listens on its own). Everything else
— which objects exist, their specs, labels, data keys, the Gitea users, tokens' names and scopes, OAuth apps,
repositories, Woodpecker's repos and secret names, registry images — must be equal.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

SKIP_PLURALS = {"pods", "events", "replicasets", "controllerrevisions", "endpoints", "endpointslices", "leases",
                "ephemeralrunners"}
VOLATILE = {"uid", "resourceVersion", "creationTimestamp", "managedFields", "generation", "observedGeneration",
            "time", "lastTransitionTime", "lastUpdateTime", "lastHeartbeatTime", "lastProbeTime", "startTime",
            "startedAt", "finishedAt", "deletionTimestamp", "created", "updated", "created_at", "updated_at", "id",
            "next_id", "next_ids", "install_pending_until", "last_login", "modified"}
HIDDEN = re.compile(r"(passw|secret|token|hash|salt|digest|private|client_id)", re.IGNORECASE)
LOOPBACK_PORT = re.compile(r"127\.0\.0\.1:\d+")  # each simulated world listens on its own ports
ACCESS_TOKEN = re.compile(r"access_token=[^&\s]+")  # Woodpecker signs each webhook URL anew
PROVISIONED = re.compile(r"^pvc-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
HELM_RELEASE = re.compile(r"^(sh\.helm\.release\.v1\.[^.]+(?:\.[^.v][^.]*)*)\.v\d+$")


def scrub(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: ("<set>" if HIDDEN.search(k) and not isinstance(v, dict | list) else scrub(v, k))
                for k, v in sorted(value.items()) if k not in VOLATILE}
    if isinstance(value, list):
        items = [scrub(v, key) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, str):
        return ACCESS_TOKEN.sub("access_token=<set>", LOOPBACK_PORT.sub("127.0.0.1:<port>", value))
    return value


def kube_objects(objects: list[dict]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    latest_helm: dict[str, int] = {}
    for entry in objects:
        if entry["plural"] in SKIP_PLURALS:
            continue
        obj = json.loads(json.dumps(entry["object"]))
        meta = obj.setdefault("metadata", {})
        name, ns = meta.get("name", ""), meta.get("namespace", "")
        if entry["plural"] == "secrets":
            if obj.get("type") == "helm.sh/release.v1":
                m = HELM_RELEASE.match(name)
                revision = int(name.rsplit(".v", 1)[1])
                key = f"{ns}/{m.group(1) if m else name}"
                if latest_helm.get(key, -1) > revision:
                    continue
                latest_helm[key] = revision
                obj = {"labels": {k: v for k, v in (meta.get("labels") or {}).items()
                                  if k in ("name", "owner", "status")}}
                out[f"helm-release {key}"] = obj
                continue
            for field in ("data", "stringData"):
                if field in obj:
                    obj[field] = sorted(obj[field])  # which keys, not their (rotating) values
        status = obj.pop("status", None)  # what controllers report; only a few phases say something durable
        if entry["plural"] in ("persistentvolumes", "persistentvolumeclaims", "namespaces") and status:
            obj["status"] = {"phase": status.get("phase")}
        claim = (obj.get("spec") or {}).get("claimRef")
        if isinstance(claim, dict):
            claim.pop("uid", None)
            claim.pop("resourceVersion", None)
        # A dynamically provisioned volume is named after its claim's uid (pvc-<uuid>): keyed by the claim it
        # serves (the agents' per-replica claims get one each run), and a claim's volumeName said as such.
        if entry["plural"] == "persistentvolumes" and PROVISIONED.match(name) and isinstance(claim, dict):
            meta["name"] = name = f"provisioned-for-{claim.get('namespace')}-{claim.get('name')}"
            csi = obj["spec"].get("csi")
            if isinstance(csi, dict) and PROVISIONED.match(str(csi.get("volumeHandle", ""))):
                csi["volumeHandle"] = "<provisioned>"
        volume = (obj.get("spec") or {}).get("volumeName")
        if entry["plural"] == "persistentvolumeclaims" and isinstance(volume, str) and PROVISIONED.match(volume):
            obj["spec"]["volumeName"] = "<provisioned>"
        out[f"{entry['group']}/{entry['plural']} {ns}/{name}"] = scrub(obj)
    return out


def world_state(world_dir: Path) -> dict[str, Any]:
    data = json.loads((world_dir / "world.json").read_text())
    gitea, woodpecker = data["gitea"], data["woodpecker"]
    return {
        "kube": kube_objects(data["kube"]["objects"]),
        "gitea": scrub({k: v for k, v in gitea.items() if k != "tokens"}),
        "gitea-tokens": sorted(f"{t.get('user', t.get('owner', ''))}:{t.get('name')}:{sorted(t.get('scopes', []))}"
                               for t in gitea.get("tokens", [])),
        # Keyed by what they are, not by ids: a kill can make Gitea hand out one id more before the repository
        # (a token renewed), which shifts the forge id Woodpecker keys its repos and secrets by.
        "woodpecker": scrub({"repos": {r["full_name"]: r for r in (woodpecker.get("repos") or {}).values()},
                             "secrets": sorted(json.dumps(scrub(v), sort_keys=True)
                                               for v in (woodpecker.get("secrets") or {}).values()),
                             **{k: v for k, v in woodpecker.items() if k not in ("tokens", "repos", "secrets")}}),
        # Who holds Woodpecker tokens, not how many: the demo mints the operator's personal token (by hand in
        # real life) when its keyring has none, and a kill between the two makes it mint another.
        "woodpecker-token-owners": sorted(set(woodpecker.get("tokens", {}).values())),
        "registry": scrub(data.get("registry", {})),
    }


def leaf_differences(x: Any, y: Any, path: str) -> list[str]:
    if isinstance(x, dict) and isinstance(y, dict):
        return [d for k in sorted(set(x) | set(y)) for d in leaf_differences(x.get(k), y.get(k), f"{path}.{k}")]
    if x != y:
        return [f"{path}: {json.dumps(x)[:200]} != {json.dumps(y)[:200]}"]
    return []


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The paths where two world states differ, with both values (empty when equal)."""
    out: list[str] = []
    for part in sorted(set(a) | set(b)):
        x, y = a.get(part), b.get(part)
        if part == "kube":
            for key in sorted(set(x) | set(y)):
                out += leaf_differences(x.get(key), y.get(key), f"kube {key}")
        else:
            out += leaf_differences(x, y, part)
    return out
