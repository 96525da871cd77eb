"""Slipway's HTTP services: the Feast-compatible feature server and the model inference server."""
