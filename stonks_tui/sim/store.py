"""The simulated cluster's object store: the semantics of the Kubernetes API server, minus the network.

Thread-safe (the HTTP server is threaded). Every mutation bumps a global resourceVersion and appends a
watch event; watchers wait on a condition, never poll. Controllers (namespace termination, PV/PVC
binding, workload readiness, cert-manager) run on a scheduler thread after simulated delays.
"""

from __future__ import annotations

import copy
import heapq
import itertools
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from stonks_tui.sim.kinds import BUILTIN_KINDS, Kind, kind_from_crd

Obj = dict[str, Any]
_IGNORED_FOR_FIELDS = {("apiVersion",), ("kind",), ("metadata", "name"), ("metadata", "namespace"),
                       ("metadata", "managedFields"), ("metadata", "resourceVersion"), ("metadata", "uid"),
                       ("metadata", "creationTimestamp"), ("metadata", "generation")}


PV_SOURCES = ("nfs", "hostPath", "csi", "local", "iscsi", "cephfs", "rbd", "fc", "flexVolume")


def _immutable_volume_source(current: Obj, new: Obj) -> None:
    """kube-apiserver (ValidatePersistentVolumeUpdate): a PV's volume source never changes after creation."""
    old_src = {k: v for k, v in (current.get("spec") or {}).items() if k in PV_SOURCES}
    new_src = {k: v for k, v in (new.get("spec") or {}).items() if k in PV_SOURCES}
    if old_src and old_src != new_src:
        name = current["metadata"]["name"]
        raise ApiError(422, "Invalid", f'PersistentVolume "{name}" is invalid: spec.persistentvolumesource: '
                                       "Forbidden: spec.persistentvolumesource is immutable after creation",
                       {"name": name, "kind": "PersistentVolume",
                        "causes": [{"reason": "FieldValueForbidden", "field": "spec.persistentvolumesource",
                                    "message": "Forbidden: spec.persistentvolumesource is immutable after "
                                               "creation"}]})


STS_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
               "persistentVolumeClaimRetentionPolicy", "minReadySeconds")


def _immutable_statefulset_spec(current: Obj, new: Obj) -> None:
    """kube-apiserver (ValidateStatefulSetUpdate): only a few fields of a StatefulSet's spec may change — never its
    volumeClaimTemplates (a chart's changed volume size makes `helm upgrade` fail with this)."""
    def fixed(obj: Obj) -> dict:
        return {k: v for k, v in (obj.get("spec") or {}).items() if k not in STS_MUTABLE}

    if fixed(current) != fixed(new):
        name = current["metadata"]["name"]
        message = ("spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                   "'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' "
                   "and 'minReadySeconds' are forbidden")  # kube-apiserver v1.36.3's words, on the real tier
        raise ApiError(422, "Invalid", f'StatefulSet.apps "{name}" is invalid: {message}',
                       {"name": name, "group": "apps", "kind": "StatefulSet",
                        "causes": [{"reason": "FieldValueForbidden", "field": "spec", "message": message}]})


class ApiError(Exception):
    """Becomes a `Status` object with this HTTP code and reason."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}

    def status(self) -> Obj:
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "details": self.details, "code": self.code}


def now_rfc3339() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# --------------------------------------------------------------------------------------------------------
# Field sets for server-side apply (a leaf-path view of managedFields' FieldsV1)


def leaf_paths(obj: Any, prefix: tuple = ()) -> dict[tuple, Any]:
    """Leaves of a JSON object: scalars and lists (lists are atomic here) keyed by their key path."""
    out: dict[tuple, Any] = {}
    if isinstance(obj, dict) and obj:
        for key, value in obj.items():
            out.update(leaf_paths(value, (*prefix, key)))
    else:
        out[prefix] = obj
    return {p: v for p, v in out.items() if p and p not in _IGNORED_FOR_FIELDS and p[:1] != ("status",)}


def fields_v1(paths: Iterable[tuple]) -> dict:
    tree: dict = {}
    for path in paths:
        node = tree
        for key in path:
            node = node.setdefault(f"f:{key}", {})
    return tree


def paths_from_fields_v1(tree: dict, prefix: tuple = ()) -> set[tuple]:
    out: set[tuple] = set()
    for key, sub in tree.items():
        path = (*prefix, key[2:])
        if sub:
            out |= paths_from_fields_v1(sub, path)
        else:
            out.add(path)
    return out


def _get_path(obj: Obj, path: tuple) -> Any:
    node: Any = obj
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return _MISSING
        node = node[key]
    return node


def _del_path(obj: Obj, path: tuple) -> None:
    node: Any = obj
    parents = []
    for key in path[:-1]:
        if not isinstance(node, dict) or key not in node:
            return
        parents.append((node, key))
        node = node[key]
    if isinstance(node, dict):
        node.pop(path[-1], None)
    for parent, key in reversed(parents):  # drop maps the deletion left empty
        if parent[key] == {}:
            del parent[key]


def deep_merge(base: Obj, patch: Obj) -> Obj:
    """JSON merge patch (RFC 7386): maps merge, null deletes, everything else replaces."""
    out = dict(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


_MISSING = object()


def _content(obj: Obj) -> str:
    """The object minus bookkeeping, to tell a real change from a no-op."""
    o = copy.deepcopy(obj)
    meta = o.get("metadata", {})
    for key in ("resourceVersion", "managedFields", "generation"):
        meta.pop(key, None)
    return json.dumps(o, sort_keys=True)


def _spec_content(obj: Obj) -> str:
    return json.dumps({k: v for k, v in obj.items() if k not in ("metadata", "status")}, sort_keys=True)


# --------------------------------------------------------------------------------------------------------


class Scheduler:
    """One thread that runs callbacks at their due time: the simulated controllers' clock."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="sim-scheduler", daemon=True)
        self._thread.start()

    def after(self, seconds: float, fn: Callable[[], None], *, at_least: float = 0.0) -> None:
        """Run `fn` on the scheduler thread `seconds` (scaled by the speed, but never under `at_least`) from now."""
        due = time.monotonic() + max(seconds * self.speed, at_least)
        with self._cond:
            heapq.heappush(self._heap, (due, next(self._seq), fn))
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                if self._stopped:
                    return
                _, _, fn = heapq.heappop(self._heap)
            try:
                fn()
            except Exception:  # a controller bug must not kill the clock
                import traceback

                traceback.print_exc()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()


class Store:
    WATCH_LOG = 20000

    def __init__(self, speed: float = 1.0) -> None:
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.kinds: dict[tuple[str, str, str], Kind] = {}  # (group, version, plural) -> Kind
        self.objects: dict[tuple[str, str], dict[tuple[str, str], Obj]] = {}
        self.rv = 1
        self.log: deque[tuple[int, str, tuple[str, str], Obj]] = deque(maxlen=self.WATCH_LOG)
        self.scheduler = Scheduler(speed)
        self.on_change: list[Callable[[str, Kind, Obj], None]] = []
        self.denied: set[tuple[str, str]] = set()  # (verb, plural) a SelfSubjectAccessReview refuses
        self.persist: Callable[[], None] | None = None
        for kind in BUILTIN_KINDS:
            self.register(kind)

    # -- kinds --------------------------------------------------------------------------------------------
    def register(self, kind: Kind) -> None:
        self.kinds[(kind.group, kind.version, kind.plural)] = kind
        self.objects.setdefault(kind.key, {})

    def kind_for(self, group: str, version: str, plural: str) -> Kind:
        kind = self.kinds.get((group, version, plural))
        if kind is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return kind

    def kind_by_name(self, api_version: str, kind_name: str) -> Kind:
        group, _, version = api_version.rpartition("/")
        for k in self.kinds.values():
            if k.group == group and k.version == version and k.kind == kind_name:
                return k
        raise ApiError(404, "NotFound", f"no kind {kind_name!r} is registered for version {api_version!r}")

    # -- reads --------------------------------------------------------------------------------------------
    def get(self, kind: Kind, ns: str, name: str) -> Obj:
        with self.lock:
            obj = self.objects[kind.key].get((ns if kind.namespaced else "", name))
            if obj is None:
                raise ApiError(404, "NotFound", f'{kind.plural}{"." + kind.group if kind.group else ""} '
                                                f'"{name}" not found',
                               {"name": name, "group": kind.group, "kind": kind.plural})
            return self._present(kind, obj)

    def find(self, kind: Kind, ns: str, name: str) -> Obj | None:
        with self.lock:
            obj = self.objects[kind.key].get((ns if kind.namespaced else "", name))
            return copy.deepcopy(obj) if obj else None

    def list(self, kind: Kind, ns: str | None, label_selector: str = "", field_selector: str = "") -> Obj:
        with self.lock:
            items = [self._present(kind, o) for (ons, _), o in sorted(self.objects[kind.key].items())
                     if (ns is None or not kind.namespaced or ons == ns)
                     and match_labels(o, label_selector) and match_fields(o, field_selector)]
            return {"kind": f"{kind.kind}List", "apiVersion": kind.group_version,
                    "metadata": {"resourceVersion": str(self.rv)}, "items": items}

    def _present(self, kind: Kind, obj: Obj) -> Obj:
        out = copy.deepcopy(obj)
        out["apiVersion"] = kind.group_version
        out["kind"] = kind.kind
        return out

    # -- writes -------------------------------------------------------------------------------------------
    def _emit(self, etype: str, kind: Kind, obj: Obj) -> None:
        self.log.append((self.rv, etype, kind.key, copy.deepcopy(obj)))
        self.cond.notify_all()
        for hook in list(self.on_change):
            hook(etype, kind, obj)
        if self.persist:
            self.persist()

    def _bump(self, obj: Obj) -> None:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)

    def _check_namespace(self, kind: Kind, ns: str) -> None:
        if not kind.namespaced:
            return
        ns_obj = self.objects[("", "namespaces")].get(("", ns))
        if ns_obj is None:
            raise ApiError(404, "NotFound", f'namespaces "{ns}" not found',
                           {"name": ns, "kind": "namespaces"})
        if ns_obj["metadata"].get("deletionTimestamp"):
            raise ApiError(403, "Forbidden", f"{kind.plural} \"...\" is forbidden: unable to create new content "
                                             f"in namespace {ns} because it is being terminated")

    def create(self, kind: Kind, ns: str, body: Obj, manager: str = "unknown", dry_run: bool = False,
               operation: str = "Update") -> Obj:
        with self.lock:
            body = copy.deepcopy(body)
            meta = body.setdefault("metadata", {})
            name = meta.get("name")
            if not name and meta.get("generateName"):
                name = meta["generateName"] + uuid.uuid4().hex[:5]
                meta["name"] = name
            if not name:
                raise ApiError(422, "Invalid", f"{kind.kind} is invalid: metadata.name: Required value: name "
                                               "or generateName is required",
                               {"kind": kind.kind, "causes": [{"field": "metadata.name",
                                                               "reason": "FieldValueRequired"}]})
            if kind.namespaced:
                if meta.get("namespace") and meta["namespace"] != ns:
                    raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the "
                                                      "namespace sent on the request")
                meta["namespace"] = ns
                self._check_namespace(kind, ns)
            else:
                meta.pop("namespace", None)
            store = self.objects[kind.key]
            key = (ns if kind.namespaced else "", name)
            if key in store:
                raise ApiError(409, "AlreadyExists",
                               f'{kind.plural}{"." + kind.group if kind.group else ""} "{name}" already exists',
                               {"name": name, "group": kind.group, "kind": kind.plural})
            validate_object(kind, body)
            body.pop("apiVersion", None)
            body.pop("kind", None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            meta["generation"] = 1
            meta["managedFields"] = [{"manager": manager, "operation": operation,
                                      "apiVersion": kind.group_version, "time": now_rfc3339(),
                                      "fieldsType": "FieldsV1", "fieldsV1": fields_v1(leaf_paths(body))}]
            if kind.kind == "Namespace":
                body.setdefault("spec", {"finalizers": ["kubernetes"]})
                body["status"] = {"phase": "Active"}
            elif kind.kind in ("PersistentVolumeClaim", "PersistentVolume") and not body.get("status"):
                body["status"] = {"phase": "Pending"}  # as the API server sets it; the binder moves it on
            elif kind.kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
                body["status"] = {}  # the API server answers a new workload with an empty status, never none
            if dry_run:
                return self._present(kind, body)
            self._bump(body)
            store[key] = body
            if kind.kind == "CustomResourceDefinition":
                for k in kind_from_crd(body):
                    self.register(k)
                body["status"] = {"conditions": [{"type": "Established", "status": "True"}],
                                  "acceptedNames": body.get("spec", {}).get("names", {})}
            self._emit("ADDED", kind, body)
            return self._present(kind, body)

    def replace(self, kind: Kind, ns: str, name: str, body: Obj, manager: str = "unknown",
                subresource: str = "", dry_run: bool = False) -> Obj:
        with self.lock:
            current = self._current(kind, ns, name)
            sent_rv = (body.get("metadata") or {}).get("resourceVersion")
            if sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {kind.plural} "{name}": the '
                                                "object has been modified; please apply your changes to the "
                                                "latest version and try again",
                               {"name": name, "kind": kind.plural})
            new = copy.deepcopy(body)
            new.pop("apiVersion", None)
            new.pop("kind", None)
            meta = new.setdefault("metadata", {})
            for key in ("uid", "creationTimestamp", "namespace", "name", "deletionTimestamp", "managedFields"):
                if key in current["metadata"]:
                    meta[key] = current["metadata"][key]
            if subresource == "status":
                merged = copy.deepcopy(current)
                merged["status"] = new.get("status", {})
                new = merged
            elif "status" in current:
                new["status"] = current["status"]
            return self._commit(kind, current, new, manager, "Update", dry_run)

    def merge_patch(self, kind: Kind, ns: str, name: str, patch: Obj, manager: str = "unknown",
                    subresource: str = "", dry_run: bool = False) -> Obj:
        with self.lock:
            current = self._current(kind, ns, name)
            if not isinstance(patch, dict):
                raise ApiError(400, "BadRequest", "a merge patch must be a JSON object")
            if subresource != "status":
                patch = {k: v for k, v in patch.items() if k != "status"}
            else:
                patch = {"status": patch.get("status", {})}
            sent_rv = (patch.get("metadata") or {}).get("resourceVersion")
            if sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {kind.plural} "{name}": the '
                                                "object has been modified; please apply your changes to the "
                                                "latest version and try again")
            new = deep_merge(current, patch)
            return self._commit(kind, current, new, manager, "Update", dry_run)

    def json_patch(self, kind: Kind, ns: str, name: str, ops: list, manager: str = "unknown",
                   dry_run: bool = False) -> Obj:
        with self.lock:
            current = self._current(kind, ns, name)
            new = copy.deepcopy(current)
            for op in ops:
                path = tuple(p.replace("~1", "/").replace("~0", "~") for p in op["path"].lstrip("/").split("/"))
                if op["op"] in ("add", "replace"):
                    node = new
                    for key in path[:-1]:
                        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
                    if isinstance(node, list):
                        idx = len(node) if path[-1] == "-" else int(path[-1])
                        if op["op"] == "add":
                            node.insert(idx, op["value"])
                        else:
                            node[idx] = op["value"]
                    else:
                        node[path[-1]] = op["value"]
                elif op["op"] == "remove":
                    node = new
                    for key in path[:-1]:
                        node = node[int(key)] if isinstance(node, list) else node[key]
                    if isinstance(node, list):
                        node.pop(int(path[-1]))
                    else:
                        node.pop(path[-1], None)
                else:
                    raise ApiError(422, "Invalid", f"json patch op {op['op']!r} is not supported")
            return self._commit(kind, current, new, manager, "Update", dry_run)

    def apply(self, kind: Kind, ns: str, name: str, applied: Obj, manager: str, force: bool,
              dry_run: bool = False) -> tuple[Obj, bool]:
        """Server-side apply. Returns (object, created)."""
        with self.lock:
            if not manager:
                raise ApiError(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required "
                                               "value: is required for apply patch")
            applied = copy.deepcopy(applied)
            meta = applied.setdefault("metadata", {})
            if meta.get("name") and meta["name"] != name:
                raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
            existing = self.objects[kind.key].get((ns if kind.namespaced else "", name))
            if existing is None:
                meta["name"] = name
                return self.create(kind, ns, applied, manager, dry_run, operation="Apply"), True
            current = copy.deepcopy(existing)
            new_leaves = leaf_paths(applied)
            managed = current["metadata"].get("managedFields") or []
            owners: dict[tuple, list[str]] = {}
            mine_before: set[tuple] = set()
            for entry in managed:
                paths = paths_from_fields_v1(entry.get("fieldsV1") or {})
                if entry["manager"] == manager and entry.get("operation") == "Apply":
                    mine_before = paths
                else:
                    for p in paths:
                        owners.setdefault(p, []).append(entry["manager"])
            conflicts = [(p, owners[p]) for p, v in new_leaves.items()
                         if p in owners and _get_path(current, p) not in (_MISSING, v)]
            if conflicts and not force:
                causes = [{"reason": "FieldManagerConflict", "message": f'conflict with "{m[0]}"',
                           "field": "." + ".".join(p)} for p, m in conflicts]
                raise ApiError(409, "Conflict", f"Apply failed with {len(conflicts)} conflict(s): " + "; ".join(
                    f'conflict with "{m[0]}": .{".".join(p)}' for p, m in conflicts), {"causes": causes})
            new = copy.deepcopy(current)
            for p in mine_before - set(new_leaves):
                if p not in owners:
                    _del_path(new, p)
            new = deep_merge(new, {k: v for k, v in applied.items() if k not in ("apiVersion", "kind", "status")})
            # Hand over forced fields and record this manager's set.
            forced = {p for p, _ in conflicts}
            entries = []
            for entry in managed:
                if entry["manager"] == manager and entry.get("operation") == "Apply":
                    continue
                paths = paths_from_fields_v1(entry.get("fieldsV1") or {}) - forced
                if paths:
                    entries.append({**entry, "fieldsV1": fields_v1(paths)})
            entries.append({"manager": manager, "operation": "Apply", "apiVersion": kind.group_version,
                            "time": now_rfc3339(), "fieldsType": "FieldsV1", "fieldsV1": fields_v1(new_leaves)})
            new["metadata"]["managedFields"] = entries
            return self._commit(kind, current, new, manager, None, dry_run), False

    def _current(self, kind: Kind, ns: str, name: str) -> Obj:
        obj = self.objects[kind.key].get((ns if kind.namespaced else "", name))
        if obj is None:
            raise ApiError(404, "NotFound", f'{kind.plural}{"." + kind.group if kind.group else ""} "{name}" '
                                            "not found", {"name": name, "group": kind.group, "kind": kind.plural})
        return copy.deepcopy(obj)

    def _commit(self, kind: Kind, current: Obj, new: Obj, manager: str, operation: str | None,
                dry_run: bool) -> Obj:
        if _content(new) == _content(current) and operation is not None:
            return self._present(kind, current)  # a no-op write does not bump resourceVersion
        if kind.plural == "persistentvolumes":
            _immutable_volume_source(current, new)
        if kind.plural == "statefulsets" and kind.group == "apps":
            _immutable_statefulset_spec(current, new)
        if operation == "Update":
            changed = {p for p, v in leaf_paths(new).items() if _get_path(current, p) != v}
            entries = [e for e in (new["metadata"].get("managedFields") or [])]
            mine = next((e for e in entries if e["manager"] == manager and e.get("operation") == "Update"), None)
            for e in entries:
                if e is not mine:
                    e["fieldsV1"] = fields_v1(paths_from_fields_v1(e.get("fieldsV1") or {}) - changed)
            if changed:
                if mine is None:
                    mine = {"manager": manager, "operation": "Update", "apiVersion": kind.group_version,
                            "fieldsType": "FieldsV1", "fieldsV1": {}}
                    entries.append(mine)
                mine["fieldsV1"] = fields_v1(paths_from_fields_v1(mine["fieldsV1"]) | changed)
                mine["time"] = now_rfc3339()
            new["metadata"]["managedFields"] = [e for e in entries if e["fieldsV1"]]
        if _content(new) == _content(current):
            return self._present(kind, current)
        validate_object(kind, new)
        if _spec_content(new) != _spec_content(current):
            new["metadata"]["generation"] = int(current["metadata"].get("generation", 1)) + 1
        if dry_run:
            return self._present(kind, new)
        ns = new["metadata"].get("namespace", "")
        # An object being deleted goes away once its last finalizer is removed.
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            self._remove(kind, ns, new["metadata"]["name"])
            return self._present(kind, new)
        self._bump(new)
        self.objects[kind.key][(ns if kind.namespaced else "", new["metadata"]["name"])] = new
        self._emit("MODIFIED", kind, new)
        return self._present(kind, new)

    def update_status(self, kind: Kind, ns: str, name: str, status: Obj) -> None:
        """Controllers' writes (they bypass field management, like a controller's status update)."""
        with self.lock:
            obj = self.objects[kind.key].get((ns if kind.namespaced else "", name))
            if obj is None or obj.get("status") == status:
                return
            obj["status"] = status
            self._bump(obj)
            self._emit("MODIFIED", kind, obj)

    def mutate(self, kind: Kind, ns: str, name: str, fn: Callable[[Obj], None]) -> None:
        """Controllers' spec writes (e.g. the PV binder setting claimRef)."""
        with self.lock:
            obj = self.objects[kind.key].get((ns if kind.namespaced else "", name))
            if obj is None:
                return
            before = _content(obj)
            fn(obj)
            if _content(obj) != before:
                self._bump(obj)
                self._emit("MODIFIED", kind, obj)

    def delete(self, kind: Kind, ns: str, name: str, propagation: str = "Background",
               dry_run: bool = False) -> Obj:
        with self.lock:
            current = self._current(kind, ns, name)
            if dry_run:
                return self._present(kind, current)
            meta = current["metadata"]
            if kind.kind == "Namespace":
                if not meta.get("deletionTimestamp"):
                    meta["deletionTimestamp"] = now_rfc3339()
                    current["status"] = {"phase": "Terminating"}
                    self._bump(current)
                    self.objects[kind.key][("", name)] = current
                    self._emit("MODIFIED", kind, current)
                    self.scheduler.after(0.2, lambda: self.terminate_namespace(name))
                return self._present(kind, current)
            if meta.get("finalizers"):
                if not meta.get("deletionTimestamp"):
                    meta["deletionTimestamp"] = now_rfc3339()
                    meta["deletionGracePeriodSeconds"] = 0
                    self._bump(current)
                    self.objects[kind.key][(ns if kind.namespaced else "", name)] = current
                    self._emit("MODIFIED", kind, current)
                return self._present(kind, current)
            self._remove(kind, ns, name)
            return self._present(kind, current)  # the API server answers a delete with the deleted object

    def _remove(self, kind: Kind, ns: str, name: str) -> None:
        key = (ns if kind.namespaced else "", name)
        obj = self.objects[kind.key].pop(key, None)
        if obj is None:
            return
        self._bump(obj)
        self._emit("DELETED", kind, obj)
        if kind.kind == "CustomResourceDefinition":
            for k in kind_from_crd(obj):
                for (ons, oname) in list(self.objects.get(k.key, {})):
                    self._remove(k, ons, oname)
                self.kinds.pop((k.group, k.version, k.plural), None)
        # Garbage collection: dependants whose owner is gone.
        uid = obj["metadata"]["uid"]
        for other_kind in list(self.kinds.values()):
            for (ons, oname), other in list(self.objects.get(other_kind.key, {}).items()):
                if any(ref.get("uid") == uid for ref in other["metadata"].get("ownerReferences") or []):
                    self.delete(other_kind, ons, oname)
        ns_name = obj["metadata"].get("namespace")
        if ns_name:
            ns_obj = self.objects[("", "namespaces")].get(("", ns_name))
            if ns_obj and ns_obj["metadata"].get("deletionTimestamp"):
                self.scheduler.after(0.05, lambda: self.terminate_namespace(ns_name))

    def terminate_namespace(self, name: str) -> None:
        """The namespace controller: delete everything inside; go when nothing is left."""
        with self.lock:
            ns_kind = self.kinds[("", "v1", "namespaces")]
            ns_obj = self.objects[ns_kind.key].get(("", name))
            if ns_obj is None or not ns_obj["metadata"].get("deletionTimestamp"):
                return
            remaining: dict[str, int] = {}
            seen: set[tuple[str, str]] = set()
            for kind in list(self.kinds.values()):
                if not kind.namespaced or kind.key in seen:
                    continue
                seen.add(kind.key)
                for (ons, oname) in list(self.objects.get(kind.key, {})):
                    if ons != name:
                        continue
                    self.delete(kind, ons, oname)
                    left = self.objects[kind.key].get((ons, oname))
                    if left is not None:
                        for fin in left["metadata"].get("finalizers") or []:
                            remaining[fin] = remaining.get(fin, 0) + 1
            if remaining:
                msg = "Some content in the namespace has finalizers remaining: " + ", ".join(
                    f"{f} in {n} resource instances" for f, n in sorted(remaining.items()))
                status = {"phase": "Terminating", "conditions": [
                    {"type": "NamespaceFinalizersRemaining", "status": "True", "reason": "SomeFinalizersRemain",
                     "message": msg, "lastTransitionTime": now_rfc3339()}]}
                if ns_obj.get("status") != status:
                    self.update_status(ns_kind, "", name, status)
                return
            self._remove(ns_kind, "", name)

    # -- watch --------------------------------------------------------------------------------------------
    def events_since(self, kind: Kind, ns: str | None, rv: int, label_selector: str, field_selector: str,
                     timeout: float) -> list[tuple[str, Obj]]:
        """Block until events newer than `rv` exist for this collection (or timeout); return them."""
        deadline = time.monotonic() + timeout
        with self.cond:
            if self.log and rv < self.log[0][0] - 1:
                raise ApiError(410, "Expired", f"too old resource version: {rv} ({self.log[0][0]})")
            while True:
                out = []
                for erv, etype, key, obj in self.log:
                    if erv <= rv or key != kind.key:
                        continue
                    if ns is not None and kind.namespaced and obj["metadata"].get("namespace") != ns:
                        continue
                    if match_labels(obj, label_selector) and match_fields(obj, field_selector):
                        out.append((etype, {**copy.deepcopy(obj), "apiVersion": kind.group_version,
                                            "kind": kind.kind}))
                if out:
                    return out
                if self.log:
                    rv = max(rv, self.log[-1][0])
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self.cond.wait(left)

    # -- persistence --------------------------------------------------------------------------------------
    def snapshot(self) -> Obj:
        with self.lock:
            objs = []
            seen: set[tuple[str, str]] = set()
            crd_first = sorted(self.kinds.values(), key=lambda k: k.kind != "CustomResourceDefinition")
            for kind in crd_first:
                if kind.key in seen:
                    continue
                seen.add(kind.key)
                for obj in self.objects.get(kind.key, {}).values():
                    objs.append({"group": kind.group, "version": kind.version, "plural": kind.plural,
                                 "object": obj})
            # Serialised while the lock is held: the saver writes it after releasing the lock.
            return json.loads(json.dumps({"resourceVersion": self.rv, "objects": objs}))

    def restore(self, snap: Obj) -> None:
        with self.lock:
            self.rv = int(snap.get("resourceVersion", 1))
            for entry in snap.get("objects", []):
                obj = entry["object"]
                if entry["plural"] == "customresourcedefinitions":
                    for k in kind_from_crd(obj):
                        self.register(k)
                kind = self.kinds.get((entry["group"], entry["version"], entry["plural"]))
                if kind is None:
                    continue
                ns = obj["metadata"].get("namespace", "") if kind.namespaced else ""
                self.objects[kind.key][(ns, obj["metadata"]["name"])] = obj


# --------------------------------------------------------------------------------------------------------
# Selectors


def _labels(obj: Obj) -> dict[str, str]:
    return obj.get("metadata", {}).get("labels") or {}


def match_labels(obj: Obj, selector: str) -> bool:
    if not selector:
        return True
    labels = _labels(obj)
    for term in _split_terms(selector):
        term = term.strip()
        if " notin " in term or " in " in term:
            neg = " notin " in term
            key, values = term.split(" notin " if neg else " in ", 1)
            allowed = {v.strip() for v in values.strip().strip("()").split(",")}
            present = labels.get(key.strip())
            if neg and present in allowed:
                return False
            if not neg and present not in allowed:
                return False
        elif "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.split("==", 1) if "==" in term else term.split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term and term not in labels:
            return False
    return True


def _split_terms(selector: str) -> list[str]:
    terms, depth, cur = [], 0, ""
    for ch in selector:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            terms.append(cur)
            cur = ""
        else:
            cur += ch
    terms.append(cur)
    return [t for t in terms if t.strip()]


def match_fields(obj: Obj, selector: str) -> bool:
    if not selector:
        return True
    for term in selector.split(","):
        neg = "!=" in term
        key, value = term.split("!=" if neg else ("==" if "==" in term else "="), 1)
        actual = _get_path(obj, tuple(key.strip().split(".")))
        actual_s = "" if actual is _MISSING or actual is None else str(actual)
        if (actual_s == value.strip()) == neg:
            return False
    return True


# --------------------------------------------------------------------------------------------------------
# Validation the real API server does that our tests rely on (422 Invalid)


def _invalid(kind: Kind, name: str, field: str, message: str) -> ApiError:
    return ApiError(422, "Invalid", f'{kind.kind} "{name}" is invalid: {field}: {message}',
                    {"name": name, "kind": kind.kind, "causes": [{"field": field, "message": message}]})


def normalize(kind: Kind, obj: Obj) -> None:
    """What the API server does on write: Secret.stringData is folded into data (base64) and dropped."""
    if kind.kind == "Secret" and obj.get("stringData"):
        import base64

        data = obj.setdefault("data", {})
        for key, value in obj.pop("stringData").items():
            data[key] = base64.b64encode(str(value).encode()).decode()
    elif kind.kind == "Secret":
        obj.pop("stringData", None)


def validate_object(kind: Kind, obj: Obj) -> None:
    import re

    normalize(kind, obj)

    name = obj.get("metadata", {}).get("name", "")
    if kind.kind in ("Namespace", "Service") and not re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", name):
        raise _invalid(kind, name, "metadata.name", "a lowercase RFC 1123 label must consist of lower case "
                                                    "alphanumeric characters or '-'")
    if not re.match(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", name) and kind.kind not in ("ClusterRole", "Role",
                                                                                     "ClusterRoleBinding",
                                                                                     "RoleBinding"):
        raise _invalid(kind, name, "metadata.name", "a lowercase RFC 1123 subdomain must consist of lower case "
                                                    "alphanumeric characters, '-' or '.'")
    spec = obj.get("spec") or {}
    if kind.kind == "PersistentVolume":
        if not spec.get("capacity", {}).get("storage"):
            raise _invalid(kind, name, "spec.capacity", "Required value")
        if not spec.get("accessModes"):
            raise _invalid(kind, name, "spec.accessModes", "Required value")
        if "nfs" in spec and not str(spec["nfs"].get("path", "")).startswith("/"):
            raise _invalid(kind, name, "spec.nfs.path", "must be an absolute path")
    if kind.kind == "Secret":
        for key, value in (obj.get("data") or {}).items():
            import base64
            import binascii

            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError, TypeError):
                raise _invalid(kind, name, f"data[{key}]", "illegal base64 data") from None
    if kind.kind in ("ClusterRoleBinding", "RoleBinding") and not obj.get("roleRef"):
        raise _invalid(kind, name, "roleRef", "Required value")
