"""Shared plumbing for the simulated HTTP services: a threaded loopback server, JSON replies, faults, traffic log."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from stonks_tui.sim.faults import Faults


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], app: Any, port: int = 0) -> None:
        # Loopback only: the simulated world is never reachable from the network. A world that is restarted
        # asks for its previous port (real services do not move); if it is taken, any free one will do.
        try:
            super().__init__(("127.0.0.1", port), handler)
        except OSError:
            if not port:
                raise
            super().__init__(("127.0.0.1", 0), handler)
        self.app = app
        # A short poll: shutdown() waits for the loop's next poll, and a world stops five of these in a row.
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                       name=f"sim-{type(app).__name__}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> LoopbackServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.thread.is_alive():  # shutdown() of a server never started would wait forever
            self.shutdown()
        self.server_close()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fault_target = ""
    server: LoopbackServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read the traffic log instead
        pass

    # -- request helpers ----------------------------------------------------------------------------------
    @property
    def app(self) -> Any:
        return self.server.app

    def parsed(self) -> tuple[str, dict[str, str]]:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        return parts.path, query

    def parse_request(self) -> bool:
        self._body_cache: bytes | None = None  # one handler serves every request of a keep-alive connection
        return super().parse_request()

    def body_bytes(self) -> bytes:
        cached = getattr(self, "_body_cache", None)
        if cached is not None:
            return cached
        self._body_cache = self._read_body()
        return self._body_cache

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    # -- replies ------------------------------------------------------------------------------------------
    def reply(self, code: int, body: bytes = b"", content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        # Read what the client sent before answering, even unused (an early 401): left unread on a keep-alive
        # connection it would be parsed as the next request (found by the differential test: a 501).
        self.body_bytes()
        self.send_response(code)
        if content_type:  # "" = no Content-Type, as Go's AbortWithStatus sends an empty answer
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def reply_json(self, code: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self.reply(code, json.dumps(obj).encode(), "application/json", headers)

    def start_chunked(self, code: int = 200, content_type: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def end_chunked(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # -- faults -------------------------------------------------------------------------------------------
    def injected_fault(self) -> bool:
        """Apply a configured fault to this request; True when the request was consumed by it."""
        faults: Faults | None = getattr(self.app, "faults", None)
        if faults is None:
            return False
        action = faults.check(self.fault_target, f"{self.command} {urlsplit(self.path).path}")
        if action is None:
            return False
        self.body_bytes()  # consume the request: unread bytes would poison the next request on this connection
        if action == "timeout":
            time.sleep(getattr(self.app, "hang_seconds", 30.0))
            self.close_connection = True
            return True
        if action == "drop":
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return True
        if action == "webhook" and hasattr(self.app, "webhook_failure"):
            self.reply_json(500, self.app.webhook_failure(urlsplit(self.path).path))
            return True
        code = int(action) if action.isdigit() else 500
        self.reply_json(code, self.app.fault_body(code) if hasattr(self.app, "fault_body")
                        else {"message": f"injected fault {code}"})
        return True

    def dispatch(self, route: Callable[[], None]) -> None:
        self.app.traffic.append((self.command, self.path))
        if self.injected_fault():
            return
        route()
