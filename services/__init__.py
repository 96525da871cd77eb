"""Slipway's feature store service: demo data, the data gate, the Feast repo and online serving."""
