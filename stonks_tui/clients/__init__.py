"""Thin clients: one file per outside system (Kubernetes, helm, Gitea, git, Woodpecker)."""
