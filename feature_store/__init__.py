"""The feature platform: repo config, data gate, Feast operations, training frames, demo data."""
