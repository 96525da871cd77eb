"""The MLflow model files of a bundle: ``MLmodel``, signature, environment and input example.

A bundle folder is an MLflow model (the ``sklearn`` and ``python_function`` flavours), written
here without importing MLflow (which costs seconds) and byte for byte deterministic: no
creation time, no random model UUID, requirements pinned from the installed distributions, keys
sorted. ``mlflow.pyfunc.load_model(<folder>)`` loads it anywhere the requirements are installed
(MLflow 3 also asks for ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true`` before it unpickles any
scikit-learn model, skops included); its ``predict`` is the estimator's ``predict_proba`` for a
classifier (one column per class in the bundle's ``classes`` order) and ``predict`` for a
regressor.

Serialization: **cloudpickle** (MLflow's ``serialization_format: cloudpickle``), not MLflow 3's
default skops: a skops file is a zip whose entries carry the time they were written, so the
same model would get a new digest on every save, and skops refuses estimators it has no loader
for (xgboost, lightgbm, entry-point models) unless each type is listed as trusted.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import math
import pickle
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import pandas as pd

MLMODEL_FILE: Final = "MLmodel"
MODEL_FILE: Final = "model.pkl"
REQUIREMENTS_FILE: Final = "requirements.txt"
PYTHON_ENV_FILE: Final = "python_env.yaml"
CONDA_FILE: Final = "conda.yaml"
EXAMPLE_FILE: Final = "input_example.json"
SERVING_EXAMPLE_FILE: Final = "serving_input_example.json"
SERIALIZATION: Final = "cloudpickle"
_ALWAYS: Final = ("mlflow", "cloudpickle", "numpy", "pandas", "scikit-learn")


def write_mlflow_files(
    directory: Path,
    *,
    estimator: Any,
    features: list[str],
    categorical: list[str],
    n_classes: int,
    metadata: dict[str, Any],
    example: pd.DataFrame | None = None,
) -> list[str]:
    """Write the MLflow model files next to ``model.pkl``; return their names.

    ``categorical`` features are strings in the signature, every other feature a double;
    ``n_classes`` sizes a classifier's output tensor (0 for a regressor). ``example`` (a few
    input rows) becomes ``input_example.json`` and ``serving_input_example.json``.
    """
    written: list[str] = []
    requirements = requirements_of(estimator)
    (directory / REQUIREMENTS_FILE).write_text("\n".join(requirements) + "\n")
    written.append(REQUIREMENTS_FILE)
    python = platform.python_version()
    build = [_pinned(name) for name in ("pip", "setuptools", "wheel")]
    _dump_yaml(
        directory / PYTHON_ENV_FILE,
        {"python": python, "build_dependencies": build, "dependencies": ["-r requirements.txt"]},
    )
    _dump_yaml(
        directory / CONDA_FILE,
        {
            "name": "mlflow-env",
            "channels": ["conda-forge"],
            "dependencies": [f"python={python}", build[0], {"pip": requirements}],
        },
    )
    written += [PYTHON_ENV_FILE, CONDA_FILE]
    doc: dict[str, Any] = {
        "flavors": {
            "python_function": {
                "env": {"conda": CONDA_FILE, "virtualenv": PYTHON_ENV_FILE},
                "loader_module": "mlflow.sklearn",
                "model_path": MODEL_FILE,
                "predict_fn": "predict_proba" if n_classes else "predict",
                "python_version": python,
            },
            "sklearn": {
                "code": None,
                "pickled_model": MODEL_FILE,
                "serialization_format": SERIALIZATION,
                "sklearn_version": _version("scikit-learn"),
            },
        },
        "metadata": {"slipway": metadata},
        "signature": {
            "inputs": json.dumps(
                [
                    {
                        "type": "string" if name in categorical else "double",
                        "name": name,
                        "required": True,
                    }
                    for name in features
                ]
            ),
            "outputs": json.dumps(
                [
                    {
                        "type": "tensor",
                        "tensor-spec": {
                            "dtype": "float64",
                            "shape": [-1, n_classes] if n_classes else [-1],
                        },
                    }
                ]
            ),
            "params": None,
        },
    }
    mlflow_version = _version("mlflow")
    if mlflow_version:
        doc["mlflow_version"] = mlflow_version
    if example is not None and len(example):
        rows = frame_rows(example, features, categorical=categorical)
        split = {"columns": list(features), "data": rows}
        (directory / EXAMPLE_FILE).write_text(json.dumps(split, allow_nan=False))
        (directory / SERVING_EXAMPLE_FILE).write_text(
            json.dumps({"dataframe_split": split}, indent=2, allow_nan=False)
        )
        written += [EXAMPLE_FILE, SERVING_EXAMPLE_FILE]
        doc["saved_input_example_info"] = {
            "artifact_path": EXAMPLE_FILE,
            "pandas_orient": "split",
            "serving_input_path": SERVING_EXAMPLE_FILE,
            "type": "dataframe",
        }
    _dump_yaml(directory / MLMODEL_FILE, doc)
    written.append(MLMODEL_FILE)
    return written


def read_flavor(directory: Path) -> tuple[str, str]:
    """The model file and serialization format the ``sklearn`` flavour of ``MLmodel`` names.

    Raises:
        ValueError: ``MLmodel`` is not YAML or has no ``sklearn`` flavour.
        OSError: It cannot be read.
    """
    import yaml

    doc = yaml.safe_load((directory / MLMODEL_FILE).read_text(encoding="utf-8"))
    flavor = (doc or {}).get("flavors", {}).get("sklearn") if isinstance(doc, dict) else None
    if not isinstance(flavor, dict) or not flavor.get("pickled_model"):
        raise ValueError(f"{MLMODEL_FILE} has no sklearn flavour")
    name = str(flavor["pickled_model"])
    if "/" in name or name.startswith("."):
        raise ValueError(f"{MLMODEL_FILE}: pickled_model {name!r} is not a file of the folder")
    return name, str(flavor.get("serialization_format") or "pickle")


def requirements_of(estimator: Any) -> list[str]:
    """Pinned pip requirements of what the estimator's pickle references, plus MLflow's own.

    Every module an object of the estimator comes from is mapped to its installed distribution
    (``sklearn`` to ``scikit-learn==1.9.1``, ``xgboost``...); the standard library is left out.
    """
    roots = set(_module_roots(estimator))
    names = set(_ALWAYS)
    owners = importlib.metadata.packages_distributions()
    for root in roots:
        if root in sys.stdlib_module_names or root == "builtins":
            continue
        names.update(owners.get(root, []))
    pinned = (_pinned(name) for name in names)
    return sorted({req for req in pinned if "==" in req}, key=str.lower)


def _module_roots(estimator: Any) -> set[str]:
    roots: set[str] = set()

    class Recorder(pickle.Pickler):
        def persistent_id(self, obj: Any) -> None:
            owner = obj if isinstance(obj, type) or inspect.isroutine(obj) else type(obj)
            name = getattr(owner, "__module__", None)
            if isinstance(name, str) and name:
                roots.add(name.split(".")[0])
            return None

    class Sink:
        def write(self, data: bytes) -> int:
            return len(data)

    Recorder(Sink(), protocol=pickle.HIGHEST_PROTOCOL).dump(estimator)
    return roots


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return ""


def _pinned(name: str) -> str:
    version = _version(name)
    return f"{name}=={version}" if version else name


def frame_rows(
    frame: pd.DataFrame, features: list[str], *, categorical: list[str] | None = None
) -> list[list[Any]]:
    """The ``features`` columns of ``frame`` as JSON rows (NaN and missing values as null).

    With ``categorical`` given, every other feature is written as a float (the signature's
    ``double``), so the rows read back satisfy the signature.
    """
    numeric = None if categorical is None else [name not in categorical for name in features]
    rows = []
    for values in frame[features].itertuples(index=False, name=None):
        row = [_plain(v) for v in values]
        if numeric is not None:
            row = [
                float(v) if is_number and isinstance(v, int | float) else v
                for v, is_number in zip(row, numeric, strict=True)
            ]
        rows.append(row)
    return rows


def _plain(value: Any) -> Any:
    import pandas as pd

    item = getattr(value, "item", None)
    value = item() if callable(item) else value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return None if pd.isna(value) else str(value)  # pd.NA, NaT become null


def _dump_yaml(path: Path, doc: dict[str, Any]) -> None:
    import yaml

    path.write_text(yaml.safe_dump(doc, sort_keys=True, default_flow_style=False))
