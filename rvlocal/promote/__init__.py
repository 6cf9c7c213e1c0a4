"""Promotion to Kubernetes: render the local sources for an environment, check, write."""
