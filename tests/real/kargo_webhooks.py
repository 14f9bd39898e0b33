"""Kargo's admission webhooks on the tier, as a real cluster has them right after `helm install kargo`.

The test chart carries Kargo v1.11.0's webhook configurations (the real chart's names, paths, rules,
`failurePolicy: Fail`, `sideEffects: None`, `cert-manager.io/inject-ca-from: kargo/kargo-webhooks-server`), with a
`url` client config on 127.0.0.1 — the real API server calls them. Two stand-ins make them behave as they do:

- cert-manager's cainjector: puts the CA into every webhook of those configurations INJECT_AFTER seconds after it
  first sees them (until then the API server cannot verify the server: "x509: certificate signed by unknown
  authority");
- kargo-webhooks-server (no readiness probe in the real chart, so `helm --wait` ends before it serves): listens
  once its Deployment is ready (until then: "connection refused"), and leaves the first SILENT_FOR seconds of
  calls unanswered (the API server sees EOF) — so whatever the install's timing, its first Kargo write meets a
  webhook that does not answer yet — then answers every AdmissionReview as Kargo v1.11.0 does for what the install
  sends (pkg/webhook/kubernetes): a Project whose namespace exists without `kargo.akuity.io/project: "true"` is
  refused 409 (project/webhook.go, ensureNamespace), and a Stage, Warehouse or ProjectConfig in a namespace that is
  not a project's is refused (server/validation/project.go); everything else is allowed, mutations add nothing.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import ssl
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.real.cluster import Cluster

PORT = 19443  # in the test chart's webhook URLs; the tier runs its worlds one at a time (as for Gitea's 3000)
INJECT_AFTER = 4.0
SILENT_FOR = 5.0
INJECT_FROM = "kargo/kargo-webhooks-server"
PROJECT_LABEL = "kargo.akuity.io/project"


def _certificates(directory: Path) -> tuple[bytes, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it: (CA PEM, cert file, key file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kargo-webhooks-ca")])
    day = now + datetime.timedelta(days=1)
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(day)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256()))

    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kargo-webhooks-server")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(day)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False).sign(ca_key, hashes.SHA256()))
    cert_file, key_file = directory / "tls.crt", directory / "tls.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return ca.public_bytes(serialization.Encoding.PEM), cert_file, key_file


class KargoWebhooks:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.dir = Path(tempfile.mkdtemp(prefix="kargo-webhooks-"))
        self.ca, self.cert, self.key = _certificates(self.dir)
        self.seen: dict[str, float] = {}  # webhook configuration uid → when the cainjector first saw it
        self.first_call: float | None = None
        self.server: ThreadingHTTPServer | None = None
        self.calls: list[tuple[str, str, bool]] = []  # (path, object, allowed): what the API server asked
        self.stopped = False
        self.silenced = 0  # calls left unanswered

    def start(self) -> KargoWebhooks:
        self.cluster.loop("cainjector", 0.5, self.inject,
                          watch=("/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
                                 "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"))
        self.cluster.loop("kargo-webhooks-server", 0.5, self.serve_when_ready,
                          watch=("/apis/apps/v1/namespaces/kargo/deployments",))
        return self

    def stop(self) -> None:
        self.stopped = True
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    # -- cert-manager's cainjector ------------------------------------------------------------------------
    def inject(self) -> float | None:
        """cert-manager's cainjector, a while after it first sees a configuration (then it looks again: 0.5 s)."""
        again = None
        for plural in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
            path = f"/apis/admissionregistration.k8s.io/v1/{plural}"
            for config in (self.cluster.get(path) or {}).get("items", []):
                meta = config["metadata"]
                if (meta.get("annotations") or {}).get("cert-manager.io/inject-ca-from") != INJECT_FROM:
                    continue
                first = self.seen.setdefault(meta["uid"], time.monotonic())
                hooks = config.get("webhooks") or []
                if all(h["clientConfig"].get("caBundle") for h in hooks):
                    continue
                if time.monotonic() - first < INJECT_AFTER:
                    again = 0.5
                    continue
                bundle = base64.b64encode(self.ca).decode()
                patch = [{"op": "add", "path": f"/webhooks/{i}/clientConfig/caBundle", "value": bundle}
                         for i in range(len(hooks))]
                self.cluster.request("PATCH", f"{path}/{meta['name']}", content=json.dumps(patch),
                                     headers={"Content-Type": "application/json-patch+json"})
        return again

    # -- kargo-webhooks-server ----------------------------------------------------------------------------
    def serve_when_ready(self) -> None:
        if self.server is not None or self.stopped:
            return
        dep = self.cluster.get("/apis/apps/v1/namespaces/kargo/deployments/kargo-webhooks-server") or {}
        if int((dep.get("status") or {}).get("readyReplicas") or 0) < 1:
            return
        server = ThreadingHTTPServer(("127.0.0.1", PORT), _handler(self))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, name="kargo-webhooks", daemon=True).start()
        self.server = server

    def review(self, path: str, request: dict[str, Any]) -> dict[str, Any]:
        obj = request.get("object") or {}
        meta = obj.get("metadata") or {}
        answer: dict[str, Any] = {"uid": request.get("uid", ""), "allowed": True}
        if path.startswith("/validate-") and request.get("operation") == "CREATE" and path.endswith("-project"):
            ns = self.cluster.get(f"/api/v1/namespaces/{meta.get('name')}")
            if ns is not None and (ns["metadata"].get("labels") or {}).get(PROJECT_LABEL) != "true":
                answer = {**answer, "allowed": False, "status": {"code": 409, "reason": "Conflict", "message": (
                    f'Operation cannot be fulfilled on projects.kargo.akuity.io "{meta.get("name")}": failed to '
                    f'initialize Project "{meta.get("name")}" because namespace "{meta.get("name")}" already '
                    "exists and is not labeled as a Project namespace")}}
        elif path.startswith("/validate-") and path.rsplit("-", 1)[-1] in ("stage", "warehouse", "projectconfig"):
            ns_name = request.get("namespace") or meta.get("namespace")
            ns = self.cluster.get(f"/api/v1/namespaces/{ns_name}")
            if ns is None or (ns["metadata"].get("labels") or {}).get(PROJECT_LABEL) != "true":
                answer = {**answer, "allowed": False, "status": {"code": 422, "reason": "Invalid", "message": (
                    f'metadata.namespace: Invalid value: "{ns_name}": namespace "{ns_name}" is not a project')}}
        self.calls.append((path, f"{request.get('kind', {}).get('kind')} {meta.get('name')}", answer["allowed"]))
        return answer


def _handler(hooks: KargoWebhooks) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Keep-alive, as Kargo's Go server does: kube-apiserver then reuses its connection instead of a new TLS
        # handshake (on both sides, on the machine the product is measured on) for every Stage it validates.
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            hooks.first_call = hooks.first_call or time.monotonic()
            if time.monotonic() - hooks.first_call < SILENT_FOR:
                hooks.silenced += 1
                self.close_connection = True  # not answering yet: the API server reads EOF
                return
            path = self.path.split("?", 1)[0]
            reply = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                     "response": hooks.review(path, body.get("request") or {})}
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler
