"""What the real charts accept. Shared by the offline checks and (as a consumer) the simulated helm."""

from __future__ import annotations

from typing import Any

# Values keys the woodpecker chart (woodpecker-ci/helm 3.6.x) reads (FACTS). The chart has no values schema, so
# helm never refuses other keys: they are silently ignored, which is why `check` warns about them.
WOODPECKER_KEYS: dict[str, Any] = {
    "server": {"enabled": None, "env": None, "extraSecretNamesForEnvFrom": None, "createAgentSecret": None,
               "image": None, "resources": None, "nodeSelector": None, "tolerations": None, "affinity": None,
               "podAnnotations": None, "securityContext": None, "podSecurityContext": None, "service": None,
               "statefulSet": None, "serviceAccount": None, "extraVolumes": None, "extraVolumeMounts": None,
               "metrics": None,
               "persistentVolume": {"enabled": None, "size": None, "mountPath": None, "storageClass": None},
               "ingress": {"enabled": None, "ingressClassName": None, "annotations": None,
                           "hosts": [{"host": None, "paths": [{"path": None}]}], "tls": None, "grpc": None},
               "networkPolicy": None, "secrets": None, "updateStrategy": None, "probes": None,
               "initContainers": None, "imagePullSecrets": None, "nameOverride": None},
    "agent": {"enabled": None, "replicaCount": None, "env": None, "image": None, "resources": None,
              "persistence": None, "serviceAccount": None, "mapAgentSecret": None, "extraSecretNamesForEnvFrom": None,
              "nodeSelector": None, "tolerations": None, "affinity": None, "podAnnotations": None,
              "securityContext": None, "podSecurityContext": None, "secrets": None, "extraVolumes": None,
              "extraVolumeMounts": None, "networkPolicy": None, "initContainers": None},
}


def unknown_keys(values: Any, allowed: Any, path: str = "") -> list[str]:
    """Paths in `values` that the chart does not know (None in `allowed` = anything below is free-form)."""
    if allowed is None or not isinstance(values, (dict, list)):
        return []
    problems: list[str] = []
    if isinstance(values, list) and isinstance(allowed, list):
        for i, item in enumerate(values):
            problems += unknown_keys(item, allowed[0], f"{path}[{i}]")
    elif isinstance(values, dict) and isinstance(allowed, dict):
        for key, value in values.items():
            where = f"{path}.{key}" if path else key
            if key not in allowed:
                problems.append(where)
            else:
                problems += unknown_keys(value, allowed[key], where)
    return problems
