"""Masks every known secret value — and its base64 forms — in any text before it is shown or stored."""

from __future__ import annotations

import base64
import re
import threading

MASK = "••••••"
# Terminal control in remote text (a server hook's `remote:` lines, Gitea's messages, helm's output): escape
# sequences are dropped whole, any other C0/C1 control character (newline and tab excepted) becomes "?".
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[PX^_][^\x1b]*(?:\x1b\\)?|.?)"
                      r"|\x9b[0-?]*[ -/]*[@-~]|\x9d[^\x07\x9c]*[\x07\x9c]?")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` as data, not terminal control: what the console, `status` and the step logs show."""
    if not text or (text.isprintable() and "\x1b" not in text):
        return text
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # git's progress lines redraw with CR
    return _CONTROL.sub("?", _ESCAPES.sub("", text))
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
        """Masked and made printable: every text shown or stored passes through here."""
        text = printable(text)
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(MASK, text)

    def __contains__(self, value: str) -> bool:
        return value in self._values
