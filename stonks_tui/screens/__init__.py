"""The wizard's screens, one per file; they talk to the engine only through the runner and its events."""
