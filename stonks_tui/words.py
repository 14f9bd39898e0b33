"""Words the tool says: counts that read right ("1 change", "2 changes", never "1 change(s)"), and the command a
hint names."""

from __future__ import annotations

IRREGULAR = {"needs": "need", "is": "are", "was": "were", "has": "have"}


def count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def verb(n: int, singular: str) -> str:
    """The verb that agrees with `n` things: verb(1, "needs") == "needs", verb(2, "needs") == "need"."""
    return singular if n == 1 else IRREGULAR.get(singular, singular)


def bare_command(name: str, *, ticks: bool = True) -> str:
    """`stonks-tui <name>` with no options: what a hint says when no session has given any."""
    text = f"stonks-tui {name}"
    return f"`{text}`" if ticks else text
