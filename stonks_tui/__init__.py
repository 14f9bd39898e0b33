"""stonks-tui: move a k3s cluster's CI/CD from GitHub (ARC + GHCR) to Gitea, Woodpecker and a local registry."""

__version__ = "0.1.0"
