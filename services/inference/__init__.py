"""Model serving: the model bundle format and the SageMaker-compatible inference server."""
