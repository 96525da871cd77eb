"""What ``train.estimator`` and ``train.entrypoint`` make: a fitted, picklable estimator.

Three ways, all deterministic for the same data, definition and seed:

* **Built in**, ``estimator: hist_gradient_boosting``: scikit-learn's HistGradientBoosting
  classifier or regressor (by task), early stopping off, ``random_state`` = seed.
* **Import path**, ``estimator: sklearn.ensemble.RandomForestRegressor`` (or
  ``xgboost.XGBClassifier``, ``lightgbm.LGBMRegressor``...): the class is imported and made with
  ``hyperparameters`` as keyword arguments; ``random_state`` (seed) and ``n_jobs``
  (``train.n_threads``) are set when the class has them and the hyperparameters leave them out.

  Both are wrapped in the standard preprocessing: ``Pipeline([("preprocess",
  ColumnTransformer), (step, estimator)])`` where categorical features are imputed and one-hot
  encoded and numeric ones standardized (or passed through); ``step`` is ``classifier`` or
  ``regressor``. Classifiers are fitted on class codes ``0..K-1`` (the bundle records the labels).
* **Entry point**, ``entrypoint: my_models.fare:train``: your function, imported with the model
  folder first on ``sys.path``, is called as::

      train(frame=..., features=[...], label="fare", task="regression", params={...}, seed=42)

  ``frame`` is the training part (features, label, event time and row id columns, sorted by
  time); ``params`` are ``train.hyperparameters``. It returns a fitted estimator taking a
  DataFrame of ``features``: ``predict`` for regression, ``predict_proba`` for classification
  with one column per class in sorted label order (what scikit-learn does when fitted on the
  labels). The estimator is pickled into the bundle, so every class it holds must be importable
  where it is served: library classes, not classes defined in the model folder (the build
  refuses those). Use ``seed`` for every random draw to keep the digest reproducible.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import pickle
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from model_build.errors import PipelineError
from model_bundle.task import Task

if TYPE_CHECKING:
    import pandas as pd

    from model_build.definition.schema import ModelDefinition

MISSING_CATEGORY: Final = "__missing__"


class EstimatorError(PipelineError):
    """The estimator or entry point cannot be imported, made, fitted or served."""


def build_estimator(
    *, features: list[str], categorical: list[str], definition: ModelDefinition
) -> Any:
    """The unfitted ``Pipeline(preprocess, estimator)`` of a built-in or import-path estimator.

    Raises:
        EstimatorError: The class cannot be imported or refuses the hyperparameters.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    train = definition.train
    numeric = [name for name in features if name not in categorical]
    encode = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )
    transformers: list[tuple[str, Any, list[str]]] = []
    if categorical:
        transformers.append(("categorical", encode, list(categorical)))
    if numeric:
        scale = StandardScaler() if train.scale_numeric else "passthrough"
        transformers.append(("numeric", scale, numeric))
    preprocess = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
    step = "classifier" if definition.task.is_classification else "regressor"
    return Pipeline([("preprocess", preprocess), (step, _estimator(definition))])


def _estimator(definition: ModelDefinition) -> Any:
    train = definition.train
    if train.builtin:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        from model_build.definition.schema import HistGBParams

        hyper = HistGBParams.model_validate(train.hyperparameters)
        family = (
            HistGradientBoostingClassifier
            if definition.task.is_classification
            else HistGradientBoostingRegressor
        )
        return family(
            learning_rate=hyper.learning_rate,
            max_iter=hyper.max_iter,
            max_leaf_nodes=hyper.max_leaf_nodes,
            max_depth=hyper.max_depth,
            min_samples_leaf=hyper.min_samples_leaf,
            l2_regularization=hyper.l2_regularization,
            early_stopping=False,
            random_state=train.seed,
        )
    path = str(train.estimator)
    module_name, _, class_name = path.rpartition(".")
    cls = _import(module_name, class_name, what=f"train.estimator {path}")
    kwargs = dict(train.hyperparameters)
    try:
        estimator = cls(**kwargs)
        known = estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}
    except (TypeError, ValueError) as exc:
        raise EstimatorError(f"train.estimator {path}: {exc}") from exc
    defaults: dict[str, Any] = {"random_state": train.seed, "n_jobs": train.n_threads}
    chosen = {k: v for k, v in defaults.items() if k in known and k not in kwargs}
    if module_name.split(".")[0] == "lightgbm" and "verbose" not in kwargs:
        chosen["verbose"] = -1
    if chosen:
        estimator.set_params(**chosen)
    return estimator


def make_trainer(
    *,
    definition: ModelDefinition,
    frame: pd.DataFrame,
    features: list[str],
    categorical: list[str],
    label: str,
    classes: list[Any] | None,
) -> Callable[[], Any]:
    """Import and make everything fitting needs; return the call that fits on ``frame``.

    Imports happen here, before the caller limits threads: thread limits only reach the native
    libraries (OpenMP, BLAS) already loaded. Classifiers are fitted on class codes (the index of
    each label in ``classes``); an entry point gets the labels as they are and must order its
    ``predict_proba`` columns like ``classes``. The returned call checks what it fitted.

    Raises:
        EstimatorError: The estimator or entry point cannot be imported or made; the returned
            call raises it when fitting fails or the fitted estimator cannot be served (no
            predict/predict_proba, wrong class columns, classes from the model folder).
    """
    task = definition.task
    if definition.train.entrypoint:
        function = _entrypoint(definition)

        def fit_entrypoint() -> Any:
            estimator = _call_entrypoint(
                definition, function, frame=frame, features=features, label=label
            )
            check_fitted(estimator, task=task, classes=classes, folder=definition.folder)
            return estimator

        return fit_entrypoint
    estimator = build_estimator(features=features, categorical=categorical, definition=definition)
    target = frame[label]
    if task.is_classification:
        assert classes is not None  # the label check gives classifiers their classes
        codes = {value: index for index, value in enumerate(classes)}
        y: Any = target.map(codes).astype("int64")
    else:
        y = target.astype("float64")

    def fit() -> Any:
        try:
            estimator.fit(frame[features], y)
        except (ValueError, TypeError) as exc:
            raise EstimatorError(f"train: fitting failed: {exc}") from exc
        return estimator

    return fit


def check_fitted(
    estimator: Any, *, task: Task, classes: list[Any] | None, folder: Path | None
) -> None:
    """Check that a fitted estimator can be bundled and served for ``task``.

    Raises:
        EstimatorError: It lacks ``predict_proba`` (classifier) or ``predict`` (regressor), its
            ``classes_`` differ from ``classes``, or its pickle needs code from ``folder``.
    """
    method = "predict_proba" if task.is_classification else "predict"
    if not callable(getattr(estimator, method, None)):
        raise EstimatorError(
            f"train.entrypoint returned {type(estimator).__name__}, which has no {method} "
            f"(needed for task {task})"
        )
    fitted = getattr(estimator, "classes_", None)
    if task.is_classification and fitted is not None and classes is not None:
        found = [c.item() if hasattr(c, "item") else c for c in fitted]
        if found not in (classes, list(range(len(classes)))):
            raise EstimatorError(
                f"train.entrypoint: the estimator's classes_ {found} are not the label's classes "
                f"{classes} (in sorted order) nor their codes 0..{len(classes) - 1}"
            )
    if folder is not None:
        local = sorted(_modules_from(estimator, folder))
        if local:
            raise EstimatorError(
                f"train.entrypoint: the fitted estimator uses code from the model folder "
                f"({', '.join(local)}), which the inference server cannot import; return "
                "library estimators (scikit-learn, xgboost, lightgbm...) fitted by your code"
            )


def code_digest(folder: Path | None) -> str | None:
    """``sha256:<hex>`` of the Python files of a model folder (paths and bytes), or None if none."""
    if folder is None:
        return None
    files = sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)
    if not files:
        return None
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode() + b"\x00")
        digest.update(path.read_bytes())
    return f"sha256:{digest.hexdigest()}"


def _entrypoint(definition: ModelDefinition) -> Callable[..., Any]:
    spec = str(definition.train.entrypoint)
    module_name, _, function_name = spec.partition(":")
    if definition.folder is not None:
        _forget_other_copies(module_name.split(".")[0], folder=definition.folder)
    with _importable(definition.folder):
        function = _import(module_name, function_name, what=f"train.entrypoint {spec}")
    if not callable(function):
        raise EstimatorError(f"train.entrypoint {spec} is not a function")
    return function  # type: ignore[no-any-return]


def _call_entrypoint(
    definition: ModelDefinition,
    function: Callable[..., Any],
    *,
    frame: pd.DataFrame,
    features: list[str],
    label: str,
) -> Any:
    spec = str(definition.train.entrypoint)
    arguments = {
        "frame": frame.copy(),
        "features": list(features),
        "label": label,
        "task": str(definition.task),
        "params": dict(definition.train.hyperparameters),
        "seed": definition.train.seed,
    }
    _check_signature(function, spec=spec, names=list(arguments))
    try:
        return function(**arguments)
    except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
        raise EstimatorError(
            f"train.entrypoint {spec} failed: {type(exc).__name__}: {exc}"
        ) from exc


def _check_signature(function: Callable[..., Any], *, spec: str, names: list[str]) -> None:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(**dict.fromkeys(names))
    except TypeError as exc:
        raise EstimatorError(
            f"train.entrypoint {spec} must accept the keyword arguments {', '.join(names)} ({exc})"
        ) from exc


def _import(module_name: str, attribute: str, *, what: str) -> Any:
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        extra = {"xgboost": "xgboost", "lightgbm": "lightgbm"}.get(module_name.split(".")[0])
        hint = f" (install it: pip install 'slipway[{extra}]')" if extra else ""
        raise EstimatorError(f"{what}: cannot import {module_name}: {exc}{hint}") from exc
    try:
        return getattr(module, attribute)
    except AttributeError as exc:
        raise EstimatorError(f"{what}: {module_name} has no {attribute}") from exc


@contextmanager
def _importable(folder: Path | None) -> Iterator[None]:
    """Put the model folder first on ``sys.path`` while the entry point is imported."""
    if folder is None:
        yield
        return
    entry = str(folder.resolve())
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        if entry in sys.path:
            sys.path.remove(entry)


def _forget_other_copies(top: str, *, folder: Path) -> None:
    """Drop cached modules named ``top`` (or inside it) loaded from outside ``folder``.

    Two model folders may both hold a ``my_models`` package; each build imports its own.
    """
    root = folder.resolve()
    if not ((root / top).is_dir() or (root / f"{top}.py").is_file()):
        return  # not the folder's own code (an installed package): leave it alone
    for name in [n for n in sys.modules if n == top or n.startswith(f"{top}.")]:
        path = getattr(sys.modules[name], "__file__", None)
        if path is None or not Path(path).resolve().is_relative_to(root):
            del sys.modules[name]


def _modules_from(estimator: Any, folder: Path) -> set[str]:
    """Modules from ``folder`` whose objects the estimator's pickle would reference."""
    root = folder.resolve()
    seen: set[str] = set()

    class Recorder(pickle.Pickler):
        def persistent_id(self, obj: Any) -> None:
            owner = obj if isinstance(obj, type) or inspect.isroutine(obj) else type(obj)
            name = getattr(owner, "__module__", None)
            module = sys.modules.get(name) if isinstance(name, str) else None
            path = getattr(module, "__file__", None)
            if path and Path(path).resolve().is_relative_to(root):
                seen.add(str(name))
            return None

    class Sink:
        def write(self, data: bytes) -> int:
            return len(data)

    try:
        Recorder(Sink(), protocol=pickle.HIGHEST_PROTOCOL).dump(estimator)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise EstimatorError(
            f"train.entrypoint: the fitted estimator cannot be pickled: {exc}"
        ) from exc
    return seen
