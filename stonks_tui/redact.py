"""Masks every known secret value — and its base64 forms — in any text before it is shown or stored."""

from __future__ import annotations

import base64
import re
import threading

MASK = "••••••"
# Values this short would mask ordinary words; no real secret of ours is this short.
_MIN_LEN = 6


class Redactor:
    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, value: str | None) -> None:
        """Remember a secret; from now on it (and its base64 encodings) never leaves unmasked."""
        if not value or len(value) < _MIN_LEN:
            return
        forms = {value}
        raw = value.encode("utf-8")
        for encoder in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encoder(raw).decode("ascii")
            forms.add(encoded)
            forms.add(encoded.rstrip("="))
        with self._lock:
            if forms <= self._values:
                return
            self._values |= forms
            # Longest first so a secret that contains another is masked whole.
            alternation = "|".join(re.escape(v) for v in sorted(self._values, key=len, reverse=True))
            self._pattern = re.compile(alternation)

    def __call__(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(MASK, text)

    def __contains__(self, value: str) -> bool:
        return value in self._values
