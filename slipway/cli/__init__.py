"""The ``slipway`` command line: one module per command group, one renderer, one error mapping.

Importing this package is cheap: every heavy library (Feast, Great Expectations, scikit-learn,
SageMaker, boto3, MLflow) is imported inside the command that needs it.
"""

from slipway.cli.app import app, main

__all__ = ["app", "main"]
