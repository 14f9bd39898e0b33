"""Screens that open by themselves (a question the run asks, the token a step needs): keys typed before one was on
screen are not for it. An operator typing on Progress when the token screen appeared had their keys land in the
token field; a `y` meant for something else could have answered a question they never saw.

The app drops a key whose event is older than the moment such a screen was first drawn (`shown_at`)."""

from __future__ import annotations

from textual.screen import Screen


class Unbidden:
    """Mixin for a Screen that opens on its own. `shown_at` is the event-clock time of its first frame."""

    shown_at: float | None = None
    unbidden: bool = True  # False when the operator opened it this time (a key of theirs): nothing is dropped

    def mark_shown(self: Screen) -> None:  # type: ignore[misc]
        from textual._time import get_time

        def shown() -> None:
            self.shown_at = get_time()  # type: ignore[attr-defined]

        self.call_after_refresh(shown)


def typed_before_shown(screen: object, key_time: float) -> bool:
    if not isinstance(screen, Unbidden) or not screen.unbidden:
        return False
    return screen.shown_at is None or key_time < screen.shown_at
