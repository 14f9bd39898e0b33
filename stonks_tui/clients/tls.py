"""TLS settings for the HTTP clients, made once per process.

httpx builds an SSL context for every client it makes — loading the CA bundle costs ~65 ms each time, even for a
plain-HTTP URL (a no-op `plan` paid it twice for loopback Gitea and Woodpecker). Here: none for plain HTTP (the
clients never follow a redirect to another scheme or host), and one cached context per trust setting otherwise.
"""

from __future__ import annotations

import functools
import os
import ssl


@functools.cache
def _default_context() -> ssl.SSLContext:
    import httpx

    return httpx.create_ssl_context()  # certifi's bundle, or SSL_CERT_FILE / SSL_CERT_DIR as httpx reads them


@functools.cache
def _ca_context(path: str) -> ssl.SSLContext:
    if os.path.isdir(path):
        return ssl.create_default_context(capath=path)
    return ssl.create_default_context(cafile=path)


def tls_for(*urls: str, verify: bool | str = True) -> ssl.SSLContext | bool:
    """What httpx's `verify` should be for a client that only ever reaches `urls`: False when none is HTTPS (no
    TLS at all) or when verification is off; else the CA bundle's context (a path: that file or directory)."""
    if not any(url.lower().startswith("https:") for url in urls) or verify is False:
        return False
    if isinstance(verify, str):
        return _ca_context(os.path.expanduser(verify))
    return _default_context()
