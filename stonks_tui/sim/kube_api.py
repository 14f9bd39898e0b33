"""The simulated Kubernetes API server: discovery, CRUD, patch, server-side apply and watch over HTTP.

Reached by the official `kubernetes` client through a kubeconfig, exactly as a real k3s API server.
"""

from __future__ import annotations

import json
import time
from typing import Any

import yaml

from stonks_tui.sim.faults import Faults
from stonks_tui.sim.http import Handler, LoopbackServer
from stonks_tui.sim.kinds import Kind
from stonks_tui.sim.store import ApiError, Store

K8S_VERSION = {"major": "1", "minor": "36", "gitVersion": "v1.36.0+k3s1", "gitCommit": "sim",
               "gitTreeState": "clean", "buildDate": "2026-10-01T00:00:00Z", "goVersion": "go1.25",
               "compiler": "gc", "platform": "linux/amd64"}


class KubeApi:
    def __init__(self, store: Store, faults: Faults | None = None, port: int = 0) -> None:
        self.store = store
        self.faults = faults
        self.traffic: list[tuple[str, str]] = []
        self.hang_seconds = 30.0
        # (namespace, pod, argv, read_stdin_line) -> (exit code, stdout, stderr); the world plugs in
        # what its pods can run (e.g. the gitea CLI). Unknown commands exit 127 like a shell.
        self.exec_handler = None
        self.server = LoopbackServer(KubeHandler, self, port)

    def fault_body(self, code: int) -> dict:
        reasons = {403: "Forbidden", 409: "Conflict", 500: "InternalError", 503: "ServiceUnavailable"}
        return ApiError(code, reasons.get(code, "InternalError"), f"injected fault {code}").status()

    def webhook_failure(self, path: str) -> dict:
        """kube-apiserver's answer when an admission webhook (failurePolicy Fail) for this write cannot be called —
        here as right after Kargo's chart: its CA not injected yet by cert-manager. Its exact words (the real tier's
        kube-apiserver v1.36.3 against the webhook stand-in)."""
        parts = [p for p in path.split("/") if p]
        group, rest = (parts[1], parts[3:]) if parts[:1] == ["apis"] else ("", parts[2:])
        if rest[:1] == ["namespaces"] and len(rest) > 2:
            rest = rest[2:]
        plural = rest[0] if rest else ""
        kind = next((k for k in self.store.kinds.values() if k.group == group and k.plural == plural), None)
        singular = kind.singular if kind else plural.rstrip("s")
        hook = f"{singular}.{group}" if group else singular
        url = (f"https://kargo-webhooks-server.kargo.svc:443/validate-{group.replace('.', '-')}-v1alpha1-"
               f"{singular}?timeout=10s")
        return ApiError(500, "InternalError", f'Internal error occurred: failed calling webhook "{hook}": failed '
                                              f'to call webhook: Post "{url}": tls: failed to verify certificate: '
                                              "x509: certificate signed by unknown authority").status()

    # -- discovery ----------------------------------------------------------------------------------------
    def api_versions(self) -> dict:
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}

    def api_groups(self) -> dict:
        groups: dict[str, list[str]] = {}
        for kind in self.store.kinds.values():
            if kind.group:
                versions = groups.setdefault(kind.group, [])
                if kind.version not in versions:
                    versions.append(kind.version)
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
             "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}}
            for g, vs in sorted(groups.items())]}

    def resource_list(self, group: str, version: str) -> dict | None:
        kinds = [k for k in self.store.kinds.values() if k.group == group and k.version == version]
        if not kinds:
            return None
        resources = [entry for k in kinds for entry in k.resource_entry()]
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version, "resources": resources}


class KubeHandler(Handler):
    fault_target = "kube"

    def do_GET(self) -> None:
        self.dispatch(self.route)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def route(self) -> None:
        try:
            self._route()
        except ApiError as err:
            self.reply_json(err.code, err.status())
        except (ValueError, yaml.YAMLError, json.JSONDecodeError) as err:
            self.reply_json(400, ApiError(400, "BadRequest", f"the request body cannot be decoded: {err}").status())

    def _route(self) -> None:
        api: KubeApi = self.app
        path, query = self.parsed()
        parts = [p for p in path.split("/") if p]
        if path.rstrip("/") == "/version":
            return self.reply_json(200, K8S_VERSION)
        if path in ("/healthz", "/readyz", "/livez"):
            return self.reply(200, b"ok", "text/plain")
        if path == "/api":
            return self.reply_json(200, api.api_versions())
        if path == "/apis":
            return self.reply_json(200, api.api_groups())
        if parts[:1] == ["api"] and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        elif parts[:1] == ["apis"] and len(parts) == 2:
            found = [g for g in api.api_groups()["groups"] if g["name"] == parts[1]]
            if not found:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return self.reply_json(200, {"kind": "APIGroup", "apiVersion": "v1", **found[0]})
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            listing = api.resource_list(group, version)
            if listing is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return self.reply_json(200, listing)
        ns: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            ns, rest = rest[1], rest[2:]
        plural, name, sub = rest[0], (rest[1] if len(rest) > 1 else ""), (rest[2] if len(rest) > 2 else "")
        kind = api.store.kind_for(group, version, plural)
        if kind.kind == "Namespace" and ns is None and name:
            ns = ""
        self.handle_resource(kind, ns, name, sub, query)

    def _body(self) -> Any:
        raw = self.body_bytes()
        if not raw:
            return {}
        ctype = self.headers.get("Content-Type", "")
        return yaml.safe_load(raw) if "yaml" in ctype else json.loads(raw)

    def handle_resource(self, kind: Kind, ns: str | None, name: str, sub: str, query: dict[str, str]) -> None:
        store: Store = self.app.store
        method = self.command
        manager = query.get("fieldManager") or self.headers.get("User-Agent", "unknown").split("/")[0]
        dry_run = query.get("dryRun") == "All"
        nsv = ns or ""
        if kind.namespaced and ns is None and method not in ("GET",):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if kind.kind == "SelfSubjectAccessReview":
            if method != "POST":
                raise ApiError(405, "MethodNotAllowed", "only create is allowed")
            body = self._body()
            attrs = (body.get("spec") or {}).get("resourceAttributes") or {}
            allowed = (attrs.get("verb"), attrs.get("resource")) not in store.denied
            body["status"] = {"allowed": allowed, **({} if allowed else {"reason": "RBAC: access denied"})}
            body.setdefault("metadata", {})["creationTimestamp"] = None
            return self.reply_json(201, body)
        if sub == "log" and method == "GET":
            pod = store.get(kind, nsv, name)
            text = "\n".join(pod.get("status", {}).get("simLog", ["(no log)"])) + "\n"
            return self.reply(200, text.encode(), "text/plain")
        if sub == "exec" and self.headers.get("Upgrade", "").lower() == "websocket":
            return self.exec_ws(kind, nsv, name)
        if sub in ("exec", "attach", "portforward"):
            raise ApiError(400, "BadRequest", f"Upgrade request required for {sub}")
        if method == "GET" and not name:
            if query.get("watch") in ("1", "true"):
                return self.watch(kind, ns, query)
            return self.reply_json(200, store.list(kind, ns, query.get("labelSelector", ""),
                                                   query.get("fieldSelector", "")))
        if method == "GET":
            return self.reply_json(200, store.get(kind, nsv, name))
        if method == "POST" and not name:
            return self.reply_json(201, store.create(kind, nsv, self._body(), manager, dry_run))
        if method == "PUT" and name:
            if kind.kind == "Namespace" and sub == "finalize":
                body = self._body()
                return self.reply_json(200, store.merge_patch(kind, "", name, {"spec": body.get("spec", {})},
                                                              manager))
            return self.reply_json(200, store.replace(kind, nsv, name, self._body(), manager, sub, dry_run))
        if method == "PATCH" and name:
            ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
            if ctype == "application/apply-patch+yaml":
                # The API server's boolean query parsing: anything present but "0"/"false" is true.
                force = "force" in query and query["force"].lower() not in ("0", "false")
                obj, created = store.apply(kind, nsv, name, self._body(), query.get("fieldManager", ""), force,
                                           dry_run)
                return self.reply_json(201 if created else 200, obj)
            if ctype == "application/json-patch+json":
                return self.reply_json(200, store.json_patch(kind, nsv, name, self._body(), manager, dry_run))
            if ctype in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
                return self.reply_json(200, store.merge_patch(kind, nsv, name, self._body(), manager, sub,
                                                              dry_run))
            raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
                                                        f"accepted media types include: application/json-patch+json,"
                                                        f" application/merge-patch+json, "
                                                        f"application/apply-patch+yaml (got {ctype!r})")
        if method == "DELETE" and name:
            body = self._body() if int(self.headers.get("Content-Length") or 0) else {}
            propagation = query.get("propagationPolicy") or body.get("propagationPolicy") or "Background"
            return self.reply_json(200, store.delete(kind, nsv, name, propagation, dry_run))
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported here")

    def exec_ws(self, kind: Kind, ns: str, name: str) -> None:
        """The exec subresource over a websocket (v4.channel.k8s.io): 0 stdin, 1 stdout, 2 stderr, 3 status."""
        from urllib.parse import parse_qs, urlsplit

        from stonks_tui.sim import websocket as ws

        store: Store = self.app.store
        pod = store.get(kind, ns, name)  # 404 before the upgrade if the pod does not exist
        if (pod.get("status") or {}).get("phase") != "Running":
            raise ApiError(400, "BadRequest", f"pod {name} is not running")
        argv = parse_qs(urlsplit(self.path).query).get("command", [])
        offered = [p.strip() for p in self.headers.get("Sec-WebSocket-Protocol", "").split(",")]
        if ws.PROTOCOL not in offered:
            raise ApiError(400, "BadRequest", "only the v4.channel.k8s.io exec protocol is served")
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", ws.accept_key(self.headers.get("Sec-WebSocket-Key", "")))
        self.send_header("Sec-WebSocket-Protocol", ws.PROTOCOL)
        self.end_headers()
        self.wfile.flush()
        buffered = bytearray()

        def read_line() -> str:
            while b"\n" not in buffered:
                got = ws.read_frame(self.rfile)
                if got is None or got[0] == 0x8:
                    break
                if got[1][:1] == b"\x00":  # stdin channel
                    buffered.extend(got[1][1:])
            line, _, rest = bytes(buffered).partition(b"\n")
            buffered[:] = rest
            return line.decode()

        handler = self.app.exec_handler
        code, out, err = handler(ns, name, argv, read_line) if handler else (-1, "", "")
        if out:
            self.wfile.write(ws.channel(1, out.encode()))
        if err:
            self.wfile.write(ws.channel(2, err.encode()))
        status = {"metadata": {}, "status": "Success"} if code == 0 else {
            "metadata": {}, "status": "Failure", "message": f"command terminated with non-zero exit code: {code}",
            "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}
        if code == -1:
            # What containerd answers when the executable is not in the image: a Failure with no exit code cause.
            status = {"metadata": {}, "status": "Failure", "reason": "InternalError", "code": 500,
                      "message": "Internal error occurred: error executing command in container: failed to exec in "
                                 f'container: exec: "{argv[0] if argv else ""}": executable file not found in $PATH',
                      "details": {"causes": [{"message": f'exec: "{argv[0] if argv else ""}": executable file not '
                                                         "found in $PATH"}]}}
        self.wfile.write(ws.channel(3, json.dumps(status).encode()))
        self.wfile.write(ws.frame(b"\x03\xe8", opcode=0x8))
        self.wfile.flush()
        self.close_connection = True

    def watch(self, kind: Kind, ns: str | None, query: dict[str, str]) -> None:
        store: Store = self.app.store
        timeout = float(query.get("timeoutSeconds") or 1800)
        deadline = time.monotonic() + timeout
        rv_param = query.get("resourceVersion", "")
        label, field = query.get("labelSelector", ""), query.get("fieldSelector", "")
        self.start_chunked()
        try:
            if rv_param in ("", "0"):
                # "Start at most recent": synthetic ADDED events for what exists now, then changes.
                listing = store.list(kind, ns, label, field)
                rv = int(listing["metadata"]["resourceVersion"])
                for item in listing["items"]:
                    self.chunk((json.dumps({"type": "ADDED", "object": item}) + "\n").encode())
            else:
                rv = int(rv_param)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    events = store.events_since(kind, ns, rv, label, field, min(left, 5.0))
                except ApiError as err:
                    self.chunk((json.dumps({"type": "ERROR", "object": err.status()}) + "\n").encode())
                    break
                for etype, obj in events:
                    rv = max(rv, int(obj["metadata"]["resourceVersion"]))
                    self.chunk((json.dumps({"type": etype, "object": obj}) + "\n").encode())
            self.end_chunked()
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True


def make_server(store: Store, faults: Faults | None = None) -> KubeApi:
    return KubeApi(store, faults)


def serve_forever(api: KubeApi) -> LoopbackServer:
    return api.server.start()
