"""Where the SageMaker jobs read and write inside their containers, shared by compiler and jobs.

The compiler maps S3 inputs and outputs onto these paths; the jobs use them as their defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

PROCESSING: Final = Path("/opt/ml/processing")
PATHS: Final[dict[str, str]] = {
    "repo": str(PROCESSING / "input" / "feature_repo"),
    "definition_processing": str(PROCESSING / "input" / "definition" / "model.yaml"),
    "definition_training": "/opt/ml/input/data/code/model.yaml",
    "training_set_out": str(PROCESSING / "output" / "training_set"),
    "training_set_train": "/opt/ml/input/data/training_set",
    "training_set_eval": str(PROCESSING / "input" / "training_set"),
    "model_dir": "/opt/ml/model",
    "model_in": str(PROCESSING / "input" / "model"),
    "evaluation_out": str(PROCESSING / "output" / "evaluation"),
}
"""Container paths each job reads and writes."""

NEW_VERSION_FILE: Final = "lineage.json"
"""Lineage document of the registered version (``slipway.lineage_uri`` points at it)."""
