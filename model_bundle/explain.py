"""SHAP values of a bundle's estimator, per input feature, for the build report and the server.

Two methods, chosen by :class:`Explainer` from the estimator:

* ``tree``: SHAP's ``TreeExplainer`` (exact, path-dependent) on the final tree model of the
  standard ``Pipeline(preprocess, model)`` (HistGradientBoosting, random forests, gradient
  boosting, decision trees, xgboost, lightgbm). The rows are transformed by the preprocessing
  first; the values of the one-hot columns of a category are summed back onto the category, so
  every value belongs to an input feature. The explained output is the tree model's raw score
  (``kind``): ``raw_score`` (log-odds of the positive class for a boosted binary classifier, the
  per-class raw scores for a boosted multiclass one), ``probability`` (forests and trees vote
  probabilities) or ``prediction`` (regressors).
* ``permutation`` (model-agnostic fallback, any estimator): Shapley values estimated over
  ``permutations`` random feature orders (antithetic pairs) against up to ``background_rows``
  rows of the bundle's background sample; the explained output is the served one
  (``probability`` of the positive class, of each class, or the ``prediction``). Cost per
  explained row: ``permutations * background_rows * (features + 1)`` model evaluations.

Both are additive: ``expected + values.sum(features)`` equals the explained output of each row
(exactly for the permutation method, to SHAP's precision for trees). ``shap`` is imported only
when a tree explainer is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np

from model_bundle.task import Task

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

Method = Literal["tree", "permutation"]
Kind = Literal["raw_score", "probability", "prediction"]
TREE_MODULES: Final = ("sklearn.ensemble", "sklearn.tree", "xgboost", "lightgbm", "catboost")
_NOT_TREES: Final = ("AdaBoost", "Bagging", "Voting", "Stacking", "IsolationForest")


@dataclass(frozen=True)
class Explanation:
    """SHAP values of some rows.

    Attributes:
        method: ``tree`` or ``permutation``.
        kind: What is explained (see the module docs).
        features: Input feature names, in the order of the values' second axis.
        outputs: One name per explained output (the positive class of a binary model, every
            class of a multiclass one, ``prediction``).
        values: SHAP values, shape ``(rows, features, outputs)``.
        expected: The expected output (base value) per output, shape ``(outputs,)``.
        data: The explained rows (their ``features`` columns).
    """

    method: Method
    kind: Kind
    features: tuple[str, ...]
    outputs: tuple[str, ...]
    values: npt.NDArray[np.float64]
    expected: npt.NDArray[np.float64]
    data: pd.DataFrame = field(repr=False)

    def totals(self) -> npt.NDArray[np.float64]:
        """``expected + values.sum(features)`` per row and output, shape ``(rows, outputs)``."""
        totals: npt.NDArray[np.float64] = self.expected[np.newaxis, :] + self.values.sum(axis=1)
        return totals

    def importance(self) -> list[tuple[str, float]]:
        """Mean absolute SHAP value per feature (over rows and outputs), largest first."""
        means = np.abs(self.values).mean(axis=(0, 2)) if len(self.values) else np.zeros(0)
        ranked = sorted(zip(self.features, means.tolist(), strict=True), key=lambda p: -p[1])
        return [(name, float(value)) for name, value in ranked]

    def top(self, row: int, *, k: int) -> list[dict[str, Any]]:
        """The ``k`` largest contributions of one row, per output (JSON-ready)."""
        answer = []
        for o, output in enumerate(self.outputs):
            contributions = self.values[row, :, o]
            order = np.argsort(-np.abs(contributions), kind="stable")[:k]
            answer.append(
                {
                    "output": output,
                    "expected_value": float(self.expected[o]),
                    "contributions": [
                        {
                            "feature": self.features[j],
                            "value": _json_value(self.data.iloc[row, j]),
                            "shap": float(contributions[j]),
                        }
                        for j in order.tolist()
                    ],
                }
            )
        return answer


class Explainer:
    """Explains one estimator; built once, reused for every batch.

    ``features`` are the estimator's ordered inputs; ``task`` and ``classes`` give the
    outputs; ``background`` (input rows) is what the permutation method compares with (it is
    needed only when the estimator is not a supported tree model); ``seed`` fixes its draws.
    ``note`` says why the fallback was taken, when it was.

    Raises:
        ValueError: The permutation method is needed but there is no background.
    """

    def __init__(
        self,
        *,
        estimator: Any,
        features: list[str],
        task: Task,
        classes: list[Any] | None,
        background: pd.DataFrame | None = None,
        seed: int = 0,
        permutations: int = 8,
        background_rows: int = 32,
    ) -> None:
        self.estimator = estimator
        self.features = tuple(features)
        self.task = task
        self.classes = (
            list(classes) if classes is not None else ([0, 1] if task.is_classification else [])
        )
        self.seed = seed
        self.permutations = max(2, permutations + permutations % 2)
        self.note = ""
        made = _TreePath.make(estimator, features=self.features)
        self._tree: _TreePath | None = None
        if isinstance(made, str):
            self.note = made
        else:
            self._tree = made
        self.method: Method = "tree" if self._tree is not None else "permutation"
        self._background: pd.DataFrame | None = None
        if self._tree is None:
            if background is None or not len(background):
                raise ValueError(
                    f"no tree explainer ({self.note}) and no background rows for the "
                    "permutation explainer"
                )
            size = min(background_rows, len(background))
            self._background = (
                background[list(features)].sample(n=size, random_state=seed).reset_index(drop=True)
            )

    @property
    def outputs(self) -> tuple[str, ...]:
        """Names of the explained outputs."""
        if self.task is Task.REGRESSION:
            return ("prediction",)
        if self.task is Task.BINARY:
            return (str(self.classes[1]),)
        return tuple(str(c) for c in self.classes)

    def explain(self, frame: pd.DataFrame) -> Explanation:
        """SHAP values of every row of ``frame`` (its ``features`` columns are used)."""
        data = frame[list(self.features)].reset_index(drop=True)
        if self._tree is not None:
            values, expected, tree_kind = self._tree.values(data, task=self.task)
            return Explanation(
                method="tree", kind=tree_kind, features=self.features, outputs=self.outputs,
                values=values, expected=expected, data=data,
            )  # fmt: skip
        values, expected = self._permutation(data)
        kind: Kind = "prediction" if self.task is Task.REGRESSION else "probability"
        return Explanation(
            method="permutation", kind=kind, features=self.features, outputs=self.outputs,
            values=values, expected=expected, data=data,
        )  # fmt: skip

    def output(self, frame: pd.DataFrame) -> npt.NDArray[np.float64]:
        """The served output the permutation method explains, shape ``(rows, outputs)``."""
        if self.task is Task.REGRESSION:
            return np.asarray(self.estimator.predict(frame), dtype=np.float64).reshape(-1, 1)
        proba = np.asarray(self.estimator.predict_proba(frame), dtype=np.float64)
        return proba[:, 1:2] if self.task is Task.BINARY else proba

    def _permutation(
        self, data: pd.DataFrame
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        import pandas as pd

        assert self._background is not None
        background = self._background
        rows, width = len(data), len(self.features)
        n_bg, n_perm = len(background), self.permutations
        rng = np.random.default_rng(self.seed)
        half = [rng.permutation(width) for _ in range(n_perm // 2)]
        orders = np.array([p for order in half for p in (order, order[::-1])])  # antithetic
        ranks = np.argsort(orders, axis=1)  # ranks[p, j]: position of feature j in order p
        steps = np.arange(width + 1)
        # switched[p, s, j]: at step s of order p, feature j already takes the row's value
        switched = steps[np.newaxis, :, np.newaxis] > ranks[:, np.newaxis, :]
        shape = (rows, n_perm, n_bg, width + 1)
        columns = {}
        for j, name in enumerate(self.features):
            x = data[name].to_numpy()
            b = background[name].to_numpy()
            mask = np.broadcast_to(switched[np.newaxis, :, np.newaxis, :, j], shape)
            x_all = np.broadcast_to(x[:, None, None, None], shape)
            b_all = np.broadcast_to(b[None, None, :, None], shape)
            dtype = object if x.dtype == object or b.dtype == object else np.float64
            columns[name] = np.where(mask, x_all, b_all).astype(dtype).reshape(-1)
        out = self.output(pd.DataFrame(columns))
        k = out.shape[1]
        out = out.reshape(rows, n_perm, n_bg, width + 1, k)
        gains = np.diff(out, axis=3)  # gains[..., s, :]: the feature switched at step s
        index = np.broadcast_to(
            ranks[np.newaxis, :, np.newaxis, :, np.newaxis], (*shape[:3], width, k)
        )
        per_feature = np.take_along_axis(gains, index, axis=3)
        values = per_feature.mean(axis=(1, 2))
        expected = self.output(background).mean(axis=0)
        return values, expected


class _TreePath:
    """The tree model of a pipeline, its preprocessing and the owner of each transformed column."""

    def __init__(self, *, preprocess: Any, model: Any, owners: list[int], width: int) -> None:
        self.preprocess = preprocess
        self.model = model
        self.owners = np.asarray(owners, dtype=np.int64)
        self.width = width
        self._explainer: Any = None

    @classmethod
    def make(cls, estimator: Any, *, features: tuple[str, ...]) -> _TreePath | str:
        """The tree path, or why there is none (a reason for the fallback)."""
        steps = getattr(estimator, "steps", None)
        if isinstance(steps, list) and steps:
            model = steps[-1][1]
            preprocess = estimator[:-1] if len(steps) > 1 else None
        else:
            model, preprocess = estimator, None
        name = type(model).__name__
        module = type(model).__module__
        if not module.startswith(TREE_MODULES) or name.startswith(_NOT_TREES):
            return f"{module}.{name} is not a tree model"
        if preprocess is None:
            owners: list[int] | None = list(range(len(features)))
        else:
            owners = _owners(preprocess, features=list(features))
        if owners is None:
            return "the preprocessing's output columns cannot be traced to the inputs"
        return cls(preprocess=preprocess, model=model, owners=owners, width=len(features))

    def values(
        self, data: pd.DataFrame, *, task: Task
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], Kind]:
        import shap  # type: ignore[import-untyped]

        if self._explainer is None:
            self._explainer = shap.TreeExplainer(self.model)
        matrix: Any = data if self.preprocess is None else self.preprocess.transform(data)
        if hasattr(matrix, "toarray"):
            matrix = matrix.toarray()
        matrix = np.asarray(matrix, dtype=np.float64)
        raw = self._explainer.shap_values(matrix, check_additivity=False)
        if isinstance(raw, list):
            raw = np.stack(raw, axis=-1)
        raw = np.asarray(raw, dtype=np.float64)
        if raw.ndim == 2:
            raw = raw[:, :, np.newaxis]
        expected = np.atleast_1d(np.asarray(self._explainer.expected_value, dtype=np.float64))
        if task is Task.BINARY and raw.shape[2] == 2:  # both classes given: keep the positive
            raw, expected = raw[:, :, 1:2], expected[1:2]
        values = np.zeros((raw.shape[0], self.width, raw.shape[2]))
        for column, owner in enumerate(self.owners.tolist()):
            values[:, owner, :] += raw[:, column, :]
        kind = _kind(self.model, task=task, matrix=matrix[:1], total=expected + raw[:1].sum(1))
        return values, expected, kind


def _kind(model: Any, *, task: Task, matrix: Any, total: Any) -> Kind:
    """What the tree values add up to: the model's probability, or its raw score."""
    if task is Task.REGRESSION:
        return "prediction"
    if not len(matrix):
        return "raw_score"
    proba = np.asarray(model.predict_proba(matrix), dtype=np.float64)
    proba = proba[:, 1:2] if task is Task.BINARY else proba
    return "probability" if np.allclose(proba[0], np.ravel(total), atol=1e-6) else "raw_score"


def _owners(preprocess: Any, *, features: list[str]) -> list[int] | None:
    """For each transformed column, the index of the input feature it comes from (or None)."""
    from sklearn.compose import ColumnTransformer

    steps = getattr(preprocess, "steps", None)
    transformer = preprocess
    if isinstance(steps, list):
        if len(steps) != 1:
            return None
        transformer = steps[0][1]
    if not isinstance(transformer, ColumnTransformer):
        names = getattr(transformer, "get_feature_names_out", None)
        out = [str(n) for n in names()] if callable(names) else None
        return list(range(len(features))) if out == features else None
    position = {name: i for i, name in enumerate(features)}
    owners: dict[int, int] = {}
    for name, fitted, columns in transformer.transformers_:
        if fitted == "drop" or name not in transformer.output_indices_:
            continue
        span = transformer.output_indices_[name]
        width = span.stop - span.start
        if width == 0:
            continue
        if not isinstance(columns, list | tuple) or not all(c in position for c in columns):
            return None
        sizes = _sizes(fitted, columns=list(columns), width=width)
        if sizes is None:
            return None
        at = span.start
        for column, size in zip(columns, sizes, strict=True):
            for offset in range(size):
                owners[at + offset] = position[column]
            at += size
    total = max(owners, default=-1) + 1
    if sorted(owners) != list(range(total)):
        return None
    return [owners[i] for i in range(total)]


def _sizes(fitted: Any, *, columns: list[str], width: int) -> list[int] | None:
    """Output columns per input column of one ColumnTransformer branch."""
    from sklearn.preprocessing import OneHotEncoder

    if width == len(columns):
        return [1] * len(columns)
    encoder = fitted
    steps = getattr(fitted, "steps", None)
    if isinstance(steps, list) and steps:
        encoder = steps[-1][1]
    if not isinstance(encoder, OneHotEncoder) or getattr(encoder, "_infrequent_enabled", False):
        return None
    sizes = [len(c) for c in encoder.categories_]
    drops = getattr(encoder, "drop_idx_", None)
    if drops is not None:
        sizes = [s - (d is not None) for s, d in zip(sizes, drops, strict=True)]
    return sizes if sum(sizes) == width and len(sizes) == len(columns) else None


def _json_value(value: Any) -> Any:
    item = getattr(value, "item", None)
    value = item() if callable(item) else value
    if isinstance(value, float) and value != value:
        return None
    return value if value is None or isinstance(value, bool | int | float | str) else str(value)
