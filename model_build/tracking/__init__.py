"""Experiment tracking of builds: every local build is an MLflow run (see docs/tracking.md).

:mod:`~model_build.tracking.record` holds what a build hands the tracker (no MLflow import);
:mod:`~model_build.tracking.store` resolves the tracking URI and opens the tracker;
:mod:`~model_build.tracking.mlflow_tracker` logs runs and models (imports MLflow);
:mod:`~model_build.tracking.runs` reads runs back for ``slipway runs``.
"""
