"""Deterministic demo data for the Slipway feature store (drivers, customers, trips)."""
