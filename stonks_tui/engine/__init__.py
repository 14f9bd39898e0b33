"""The headless core: steps, plans, the engine that runs them, and the events it emits.

Nothing under this package imports textual or rich (a test enforces it)."""
