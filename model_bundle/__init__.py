"""The model bundle: what a trained model is on disk, shared by the build and every server."""
