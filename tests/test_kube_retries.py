"""The API calls' retry policy, against a loopback server: a connection the server closes without answering (a
pooled keep-alive one it had dropped) is asked once more for a request safe to repeat — a teardown's namespaces
step failed on one ("Remote end closed connection without response"); an unanswered request (a read timeout) never
is; a POST (a create) is not repeated."""

from __future__ import annotations

import socket
import threading

import pytest
import urllib3

from stonks_tui.clients.kube import kube_retries


class DroppingServer:
    """Closes the first `drop` connections without a word; answers the others `200 {}`; `silent` never answers."""

    def __init__(self, drop: int = 1, silent: bool = False) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.drop, self.silent, self.requests = drop, silent, 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.recv(65536)
            self.requests += 1
            if self.silent:
                continue  # kept open, never answered
            if self.requests <= self.drop:
                conn.close()
                continue
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                         b"Connection: close\r\n\r\n{}")
            conn.close()


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE", "PUT"])
def test_a_connection_closed_without_an_answer_is_asked_once_more(method: str) -> None:
    server = DroppingServer(drop=1)
    http = urllib3.PoolManager(retries=kube_retries())
    assert http.request(method, f"http://127.0.0.1:{server.port}/api/v1/namespaces/x").status == 200
    assert server.requests == 2


def test_a_create_is_not_repeated_and_two_drops_are_an_error() -> None:
    server = DroppingServer(drop=1)
    with pytest.raises(urllib3.exceptions.ProtocolError):
        urllib3.PoolManager(retries=kube_retries()).request("POST", f"http://127.0.0.1:{server.port}/api/v1/x")
    assert server.requests == 1
    twice = DroppingServer(drop=2)
    with pytest.raises(urllib3.exceptions.MaxRetryError):
        urllib3.PoolManager(retries=kube_retries()).request("GET", f"http://127.0.0.1:{twice.port}/api/v1/x")
    assert twice.requests == 2


def test_an_unanswered_request_is_never_asked_again() -> None:
    server = DroppingServer(silent=True)
    http = urllib3.PoolManager(retries=kube_retries(), timeout=urllib3.Timeout(connect=2, read=0.5))
    with pytest.raises(urllib3.exceptions.MaxRetryError) as caught:
        http.request("GET", f"http://127.0.0.1:{server.port}/api/v1/x")
    assert isinstance(caught.value.reason, urllib3.exceptions.ReadTimeoutError)
    assert server.requests == 1
