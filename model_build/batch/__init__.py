"""Batch scoring: entity rows get features (offline point-in-time, or online), then predictions.

:mod:`~model_build.batch.job` plans and runs a local job in resumable chunks;
:mod:`~model_build.batch.features` reads the features; :mod:`~model_build.batch.output` writes
the chunks and the final file; :mod:`~model_build.batch.transform` creates a SageMaker Batch
Transform job instead. See docs/models.md ("Batch scoring").
"""
