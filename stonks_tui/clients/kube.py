"""Kubernetes client: the official `kubernetes` library, its blocking calls run off the event loop.

Apply is server-side apply with our field manager (create-or-update, idempotent; reports created / updated /
unchanged from the resourceVersion). Waits use watches, never sleep loops, and a timeout names what is not
ready and why (pod phase, container waiting reason, warning events).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stonks_tui.errors import StepFailed

FIELD_MANAGER = "stonks-tui"
Obj = dict[str, Any]
# Every request is bounded: an API server that accepts and never answers (seen on the real tier: SIGSTOPped)
# otherwise blocks a worker thread in recv() forever. Watches ask the server to end each stream well within the
# read timeout and are then resumed from their resourceVersion.
REQUEST_TIMEOUT = (10.0, 30.0)  # (connect, read) seconds
WATCH_CHUNK = 20


def _exec_status(raw: str) -> int | str:
    """The exec's status channel: an exit code, or why the command could not run at all."""
    import json

    try:
        status = json.loads(raw) if raw else None
    except ValueError:
        status = None
    if not isinstance(status, dict):
        return "the exec ended without a status"
    if status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message", ""))
            except ValueError:
                break
    return str(status.get("message") or status.get("reason") or "the exec failed")


def _bound_requests(api_client: Any) -> None:
    """Give every call of this ApiClient a (connect, read) timeout unless the caller set its own."""
    rest = api_client.rest_client
    unbounded = rest.request

    def request(*args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("_request_timeout"):
            kwargs["_request_timeout"] = REQUEST_TIMEOUT
        return unbounded(*args, **kwargs)

    rest.request = request


def webhook_hint(message: str) -> str:
    """The hint for an admission webhook the API server could not call ('' when the message is not that): the
    API server itself is fine — the webhook's server or its certificate is not there yet."""
    import re

    m = re.search(r'failed calling webhook "([^"]+)"', message)
    if not m:
        return ""
    name = m.group(1)
    if name.endswith(".kargo.akuity.io"):
        return ("Kargo's admission webhook does not answer yet: its server (Deployment kargo-webhooks-server in "
                "Kargo's namespace) must be running and cert-manager must have injected its CA into the webhook "
                "configurations (cert-manager.io/inject-ca-from) — a minute or two after the chart at most; if it "
                "lasts: kubectl -n kargo get pods, and kubectl get validatingwebhookconfiguration kargo -o yaml "
                "(is caBundle set?)")
    return (f"the admission webhook {name} does not answer: its server must be running and its CA injected into "
            "its webhook configuration; the API server itself is fine")


def describe_ref(obj_or_kind: Obj | str, name: str = "", ns: str | None = None) -> str:
    if isinstance(obj_or_kind, dict):
        meta = obj_or_kind.get("metadata", {})
        kind, name, ns = obj_or_kind.get("kind", "?"), meta.get("name", "?"), meta.get("namespace")
    else:
        kind = obj_or_kind
    return f"{kind} {ns + '/' if ns else ''}{name}"


def kube_retries() -> Any:
    """The API calls' retry policy (see KubeClient.__init__)."""
    from urllib3.util.retry import Retry

    return _read_timeout_is_final()(total=3, connect=2, read=1, other=0, redirect=False,
                                    allowed_methods=Retry.DEFAULT_ALLOWED_METHODS | {"PATCH"})


def _read_timeout_is_final() -> type:
    from urllib3.exceptions import MaxRetryError, ReadTimeoutError
    from urllib3.util.retry import Retry

    class Retry_(Retry):
        def increment(self, method: Any = None, url: Any = None, response: Any = None, error: Any = None,
                      _pool: Any = None, _stacktrace: Any = None) -> Retry:
            if isinstance(error, ReadTimeoutError):  # an unanswered request: never asked again (see __init__)
                raise MaxRetryError(_pool, url, reason=error) from error  # as when its retries are used up
            return super().increment(method, url, response, error, _pool, _stacktrace)

    return Retry_


def _exec_socket(configuration: Any, namespace: str, pod: str, command: list[str], *, stdin: bool) -> Any:
    """The exec API's websocket, opened as the library's stream() opens it but without the typed CoreV1Api: that
    module builds a pydantic schema for each of its hundreds of methods when imported (~0.35 s of CPU), which every
    engine paid at its start for this one call. The URL and headers are those CoreV1Api serialises (v37)."""
    from urllib.parse import quote, urlencode

    from kubernetes.client.exceptions import ApiException
    from kubernetes.stream.ws_client import WSClient, get_websocket_url

    query = [("command", part) for part in command]
    query += [("stderr", "true"), ("stdin", "true" if stdin else "false"), ("stdout", "true"), ("tty", "false")]
    url = (f"{configuration.host}/api/v1/namespaces/{quote(namespace, safe='')}/pods/{quote(pod, safe='')}/exec?"
           + urlencode(query, quote_via=quote))
    headers = {}
    token = configuration.get_api_key_with_prefix("BearerToken", alias="authorization")
    if token:
        headers["authorization"] = token
    try:
        return WSClient(configuration, get_websocket_url(url), headers, capture_all=True)
    except Exception as exc:  # as the library's websocket_call reports a websocket that cannot open
        raise ApiException(status=0, reason=str(exc)) from exc


class KubeClient:
    def __init__(self, kubeconfig: str | None = None, context: str | None = None,
                 cache_dir: Path | None = None) -> None:
        from kubernetes import client, config, dynamic
        try:
            configuration = client.Configuration()
            config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration,
                                    persist_config=False)
            # urllib3 retried a read timeout three times by default: a silent API server held each call 4 × 30 s
            # (preflight sat ~8 minutes). An unanswered request is not tried again; a refused connection is, and
            # so is the API server's 429 with Retry-After (its priority and fairness: the real tier sends them
            # while a chart's CRDs are being established). A connection the server closed without answering (a
            # pooled keep-alive one it had dropped: "Remote end closed connection without response") is tried once
            # more for a request safe to repeat — every PATCH here is an apply or sets a value; a POST is not.
            configuration.retries = kube_retries()
            self.api_client = client.ApiClient(configuration=configuration)
        except Exception as exc:  # the library raises ConfigException and plain errors alike
            raise StepFailed(f"cannot load kubeconfig for context {context!r}: {exc}",
                             hint="check KUBECONFIG and --context (kubectl config get-contexts)") from None
        _bound_requests(self.api_client)
        cache = str(cache_dir / "discovery.json") if cache_dir else None
        if cache_dir:
            cache_dir.mkdir(parents=True, exist_ok=True)
        self._dynamic_factory: Callable[[], Any] = lambda: dynamic.DynamicClient(self.api_client, cache_file=cache)
        self._dyn: Any = None
        self._lock = threading.Lock()
        # The dynamic client's lazy discovery cache is not thread-safe: an unknown kind invalidates and rebuilds
        # it while other threads read it (KeyError 'apis'). Steps and checks run concurrently, so serialise it.
        self._discovery = threading.RLock()
        self._unserved: set[str] | None = None  # share(): group/versions found not served, while one picture

    @property
    def dyn(self) -> Any:
        with self._lock:
            if self._dyn is None:
                try:
                    self._dyn = self._dynamic_factory()
                except Exception as exc:
                    raise self._error(exc, "discover the cluster's API") from None
            return self._dyn

    # -- errors -------------------------------------------------------------------------------------------
    def _error(self, exc: BaseException, what: str) -> StepFailed:
        from kubernetes.client.exceptions import ApiException
        from kubernetes.dynamic.exceptions import DynamicApiError, ResourceNotFoundError

        if isinstance(exc, ResourceNotFoundError):
            return StepFailed(f"cannot {what}: the cluster does not serve this kind ({exc})",
                              hint="its CustomResourceDefinition is missing: the chart that provides it is not "
                                   "installed yet")
        status = getattr(exc, "status", None)
        if isinstance(exc, (ApiException, DynamicApiError)) and status:
            import json

            message = ""
            try:
                message = json.loads(exc.body).get("message", "") if getattr(exc, "body", None) else ""
            except (ValueError, TypeError, AttributeError):
                message = str(getattr(exc, "reason", ""))
            hints = {401: "your kubeconfig credentials were refused: refresh them",
                     403: "your kubeconfig user lacks this permission: run as cluster-admin or grant it",
                     404: "it does not exist",
                     409: "someone else changed it at the same time: run the step again",
                     422: "the object was refused as invalid: check the settings that feed it",
                     500: "the API server failed: check its health (kubectl get --raw /readyz) and retry",
                     503: "the API server is unavailable: check the cluster and retry"}
            hint = webhook_hint(message) or hints.get(status, "see the step log")
            return StepFailed(f"cannot {what}: HTTP {status} {message}".rstrip(), hint=hint)
        return StepFailed(f"cannot {what}: the cluster is unreachable ({type(exc).__name__}: {exc})",
                          hint="check the API server address in your kubeconfig and that the node is up")

    async def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return await asyncio.to_thread(fn)
        except StepFailed:
            raise
        except Exception as exc:
            raise self._error(exc, what) from None

    def resource(self, api_version: str, kind: str) -> Any:
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        dyn = self.dyn
        with self._discovery:
            # The library answers a kind it has not cached by throwing its whole discovery away and fetching it
            # again (every group, then every group's resources as they are asked for), and it does so for each
            # such kind: a plan asking for legacy ARC's five kinds on a cluster without them rediscovered five
            # times (a third of a no-op plan on the real tier). A group/version the cache does not list is first
            # asked of the API server itself, one small GET: not served means the kind is not there either.
            if not self._listed(dyn, api_version):
                unserved = self._unserved
                if (unserved is not None and api_version in unserved) or not self._served(dyn, api_version):
                    if unserved is not None:
                        unserved.add(api_version)  # one picture: legacy ARC's five kinds, one GET (five before)
                    raise ResourceNotFoundError(f"{api_version} is not served by the cluster (kind {kind})")
            return dyn.resources.get(api_version=api_version, kind=kind)

    def share(self, on: bool) -> None:
        """While readers share one picture of the cluster (Runtime.one_picture), a group/version found not served
        is not asked again; off, every answer is the server's own again (a chart may install CRDs)."""
        self._unserved = set() if on else None

    @staticmethod
    def _listed(dyn: Any, api_version: str) -> bool:
        group, _, version = api_version.rpartition("/")
        try:
            cached = dyn.resources._cache["resources"]["apis" if group else "api"]
            return version in cached.get(group, {})
        except (AttributeError, KeyError, TypeError):  # another library version's layout: ask the server
            return False

    @staticmethod
    def _served(dyn: Any, api_version: str) -> bool:
        from kubernetes.dynamic.exceptions import NotFoundError

        path = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
        try:
            dyn.request("get", path)  # bounded like every call (_bound_requests)
        except NotFoundError:
            return False
        return True

    # -- reads --------------------------------------------------------------------------------------------
    async def version(self) -> str:
        from kubernetes import client

        def call() -> str:
            return client.VersionApi(self.api_client).get_code(_request_timeout=10).git_version

        return await self._call("read the cluster version", call)

    async def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError

        def call() -> Obj | None:
            try:
                res = self.resource(api_version, kind)
            except ResourceNotFoundError:
                return None  # the kind itself does not exist yet: neither does the object
            try:
                return res.get(name=name, namespace=namespace).to_dict()
            except NotFoundError:
                return None

        return await self._call(f"read {describe_ref(kind, name, namespace)}", call)

    async def list(self, api_version: str, kind: str, namespace: str | None = None,
                   label_selector: str | None = None) -> list[Obj]:
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        def call() -> list[Obj]:
            try:
                res = self.resource(api_version, kind)
            except ResourceNotFoundError:
                return []
            return res.get(namespace=namespace, label_selector=label_selector).to_dict().get("items", [])

        return await self._call(f"list {kind}", call)

    # -- writes -------------------------------------------------------------------------------------------
    async def apply(self, obj: Obj, *, force: bool = True) -> tuple[str, Obj]:
        """Server-side apply; returns (created | updated | unchanged, the object as the server has it)."""
        meta = obj["metadata"]
        ref = describe_ref(obj)

        def call() -> tuple[str, Obj]:
            res = self.resource(obj["apiVersion"], obj["kind"])
            before_rv = None
            from kubernetes.dynamic.exceptions import NotFoundError

            with contextlib.suppress(NotFoundError):
                before_rv = res.get(name=meta["name"], namespace=meta.get("namespace")).metadata.resourceVersion
            result = self.dyn.server_side_apply(res, body=obj, namespace=meta.get("namespace"),
                                                field_manager=FIELD_MANAGER, force_conflicts=force).to_dict()
            if before_rv is None:
                return "created", result
            return ("unchanged" if result["metadata"]["resourceVersion"] == before_rv else "updated"), result

        return await self._call(f"apply {ref}", call)

    async def would_be(self, obj: Obj, *, force: bool = True) -> Obj:
        """The object as a server-side apply would leave it (a dry run: nothing is stored). Without apply()'s
        read of the object first: its caller has read it already (one GET per object of every plan and check)."""
        meta = obj["metadata"]

        def call() -> Obj:
            res = self.resource(obj["apiVersion"], obj["kind"])
            return self.dyn.server_side_apply(res, body=obj, namespace=meta.get("namespace"),
                                              field_manager=FIELD_MANAGER, force_conflicts=force,
                                              dry_run="All").to_dict()

        return await self._call(f"apply {describe_ref(obj)} (dry run)", call)

    async def create(self, obj: Obj) -> Obj:
        """POST an object (used for reviews such as SelfSubjectAccessReview, which are never stored)."""

        def call() -> Obj:
            res = self.resource(obj["apiVersion"], obj["kind"])
            return res.create(body=obj, namespace=obj.get("metadata", {}).get("namespace")).to_dict()

        return await self._call(f"create {describe_ref(obj)}", call)

    async def patch(self, api_version: str, kind: str, name: str, namespace: str | None, body: Any,
                    content_type: str = "application/merge-patch+json") -> Obj:
        def call() -> Obj:
            res = self.resource(api_version, kind)
            return res.patch(name=name, namespace=namespace, body=body, content_type=content_type,
                             field_manager=FIELD_MANAGER).to_dict()

        return await self._call(f"patch {describe_ref(kind, name, namespace)}", call)

    async def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None,
                     propagation: str = "Background") -> bool:
        """Request deletion; False when it was already gone."""
        from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError

        def call() -> bool:
            try:
                res = self.resource(api_version, kind)
            except ResourceNotFoundError:
                return False
            try:
                res.delete(name=name, namespace=namespace, body={"propagationPolicy": propagation})
                return True
            except NotFoundError:
                return False

        return await self._call(f"delete {describe_ref(kind, name, namespace)}", call)

    # -- waits (watch-driven) -----------------------------------------------------------------------------
    async def wait_for(self, api_version: str, kind: str, name: str, namespace: str | None,
                       done: Callable[[Obj | None], bool], timeout: float, what: str,
                       explain: Callable[[Obj | None], Any] | None = None) -> Obj | None:
        """Watch one object until `done(obj)` (obj None = deleted). Raises StepFailed naming why on timeout."""
        stop = threading.Event()

        def call() -> tuple[bool, Obj | None]:
            from kubernetes import watch
            from kubernetes.client.exceptions import ApiException
            from kubernetes.dynamic.exceptions import ResourceNotFoundError

            deadline = time.monotonic() + timeout
            try:
                res = self.resource(api_version, kind)
            except ResourceNotFoundError:
                return done(None), None
            current: Obj | None
            selector = f"metadata.name={name}"
            while True:
                # List, then watch from the list's resourceVersion: the standard pattern, and the only one that
                # survives a 410 (an object's own resourceVersion may be older than the server's history).
                listing = res.get(namespace=namespace, field_selector=selector)
                items = listing.to_dict().get("items") or []
                current = items[0] if items else None
                rv = listing.metadata.resourceVersion
                if done(current):
                    return True, current
                left = deadline - time.monotonic()
                if left <= 0 or stop.is_set():
                    return False, current
                w = watch.Watch()
                try:
                    for event in self.dyn.watch(res, namespace=namespace, field_selector=selector,
                                                resource_version=rv, timeout=max(1, int(min(left, WATCH_CHUNK))),
                                                watcher=w):
                        obj = event["raw_object"]
                        current = None if event["type"] == "DELETED" else obj
                        if done(current) or stop.is_set():
                            w.stop()
                            return done(current), current
                        if time.monotonic() > deadline:
                            w.stop()
                            break
                except ApiException as exc:
                    if exc.status != 410:
                        raise
                    # 410 Gone: the server no longer has history that old (e.g. it restarted): read afresh.

        try:
            ok, current = await asyncio.to_thread(call)
        except asyncio.CancelledError:
            stop.set()
            raise
        except Exception as exc:
            raise self._error(exc, f"watch {describe_ref(kind, name, namespace)}") from None
        if not ok:
            why = ""
            if explain is not None:
                why = await explain(current)
            raise StepFailed(f"{describe_ref(kind, name, namespace)} is not {what} after {timeout:.0f}s"
                             + (f": {why}" if why else ""),
                             hint="see why above; fix it and run again — finished steps are not redone")
        return current

    async def why_not_ready(self, namespace: str, selector: dict[str, str]) -> str:
        """A one-line reason from the workload's pods and warning events."""
        label = ",".join(f"{k}={v}" for k, v in selector.items())
        pods = await self.list("v1", "Pod", namespace, label_selector=label or None)
        reasons = []
        for pod in pods:
            status = pod.get("status") or {}
            name = pod["metadata"]["name"]
            for cs in status.get("containerStatuses") or []:
                waiting = (cs.get("state") or {}).get("waiting")
                if waiting:
                    reasons.append(f"pod {name}: {waiting.get('reason')} ({waiting.get('message', '')})")
            for cond in status.get("conditions") or []:
                if cond.get("status") == "False" and cond.get("message"):
                    reasons.append(f"pod {name}: {cond.get('reason', '')} {cond['message']}".strip())
            if not reasons and status.get("phase") not in ("Running", "Succeeded"):
                reasons.append(f"pod {name} is {status.get('phase', 'unknown')}")
        if not pods:
            reasons.append("no pods were created")
        events = [e for e in await self.list("v1", "Event", namespace) if e.get("type") == "Warning"]
        reasons += [f"event {e.get('reason')}: {e.get('message')}" for e in events[-3:]]
        return "; ".join(reasons[:4])

    async def wait_workload_ready(self, kind: str, name: str, namespace: str, timeout: float,
                                  report: Callable[[int, int], None] | None = None) -> Obj | None:
        """Watch a Deployment/StatefulSet until its ready replicas reach the wanted count; `report(ready, want)`
        is called on the event loop each time the watch sees the numbers change (the wizard's workloads pane)."""
        loop = asyncio.get_running_loop()
        seen: list[tuple[int, int]] = []

        def ready(obj: Obj | None) -> bool:
            if not obj:
                return False
            want = int((obj.get("spec") or {}).get("replicas", 1))
            have = int((obj.get("status") or {}).get("readyReplicas") or 0)
            if report is not None and (not seen or seen[-1] != (have, want)):
                seen.append((have, want))
                loop.call_soon_threadsafe(report, have, want)  # this predicate runs on the watch's thread
            return have >= want

        async def explain(obj: Obj | None) -> str:
            if obj is None:
                return "it does not exist"
            labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            return await self.why_not_ready(namespace, labels)

        return await self.wait_for("apps/v1", kind, name, namespace, ready, timeout, "ready", explain)

    async def wait_gone(self, api_version: str, kind: str, name: str, namespace: str | None, timeout: float,
                        explain: Callable[[Obj | None], Any] | None = None) -> None:
        async def default_explain(obj: Obj | None) -> str:
            if obj is None:
                return ""
            meta = obj.get("metadata") or {}
            conds = [c.get("message", "") for c in (obj.get("status") or {}).get("conditions") or []
                     if c.get("message")]
            if conds:
                return "; ".join(conds)
            fins = meta.get("finalizers") or []
            return f"finalizers remain: {', '.join(fins)}" if fins else "still present"

        await self.wait_for(api_version, kind, name, namespace, lambda o: o is None, timeout, "gone",
                            explain or default_explain)

    async def exec(self, namespace: str, pod: str, command: list[str], stdin: str | None = None,
                   timeout: float = 60.0) -> tuple[int, str]:
        """Run a command in a pod (the exec API over a websocket). Secrets go on stdin, never in `command`:
        the command is part of the request URL, which API servers log."""

        def call() -> tuple[int, str]:
            resp = _exec_socket(self.api_client.configuration, namespace, pod, command, stdin=stdin is not None)
            try:
                if stdin is not None:
                    resp.write_stdin(stdin)
                resp.run_forever(timeout=timeout)
                if resp.is_open():
                    return 124, resp.read_all()  # still running after the timeout
                # The status channel, read here: the library's returncode assumes an exit-code cause and raises
                # (KeyError/TypeError) on any other Failure — a missing executable, an exec the runtime refused.
                status = _exec_status(resp.read_channel(3))
                output = resp.read_all()
            finally:
                resp.close()
            if isinstance(status, str):
                raise StepFailed(f"cannot run {command[0]!r} in pod {namespace}/{pod}: {status}",
                                 hint="the pod's image may not have it (Gitea's rootful image has su and gitea)")
            return status, output

        return await self._call(f"run a command in pod {namespace}/{pod}", call)

    def close(self) -> None:
        self.api_client.close()
