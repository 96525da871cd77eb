"""Slipway: GitOps CI/CD for ML models plus a Feast-compatible feature store service."""

__version__ = "0.1.0"
