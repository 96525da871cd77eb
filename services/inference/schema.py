"""What a served model accepts: feature kinds, allowed categories and the column order it needs.

A bundle only records the ordered feature names. Whether a feature is numeric or a string
category is read from the fitted estimator itself: every encoder (``OneHotEncoder``,
``OrdinalEncoder``, ``TargetEncoder``) found inside pipelines, column transformers and feature
unions was fitted on a DataFrame and so knows its input column names (``feature_names_in_``).
Those columns are categories; every other feature is a number. Encoders that reject unknown
values (``handle_unknown="error"``) also give the allowed values, so a bad category is refused
as a 422 naming the row instead of failing inside scikit-learn.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from model_bundle.bundle import BundleError


class FeatureKind(StrEnum):
    """How a feature's values are given."""

    NUMBER = "number"
    CATEGORY = "category"


@dataclass(frozen=True)
class FeatureSchema:
    """The input contract of a served model.

    Attributes:
        features: Feature names in the bundle's order (the CSV column order).
        kinds: Kind of every feature.
        categories: Allowed values of category features whose encoder rejects unknown values
            (``None`` stands for a missing value when the encoder saw missing values in fit).
        model_columns: Column order of the DataFrame the estimator was fitted on, or ``None``
            when it was fitted on a plain array (then a float matrix in ``features`` order is
            passed, without DataFrame overhead).
    """

    features: tuple[str, ...]
    kinds: Mapping[str, FeatureKind]
    categories: Mapping[str, frozenset[str | None]]
    model_columns: tuple[str, ...] | None

    @property
    def feature_set(self) -> frozenset[str]:
        """The feature names as a set."""
        return frozenset(self.features)

    def describe(self) -> dict[str, Any]:
        """Return a JSON-serialisable description (for ``GET /metadata``).

        Returns:
            ``{"features": [...], "feature_types": {...}, "categories": {...}}``.
        """
        return {
            "features": list(self.features),
            "feature_types": {name: str(self.kinds[name]) for name in self.features},
            "categories": {
                name: sorted(v for v in allowed if v is not None)
                for name, allowed in self.categories.items()
            },
        }


def infer_schema(*, estimator: Any, features: list[str]) -> FeatureSchema:
    """Read a fitted estimator's input contract.

    Args:
        estimator: The fitted estimator (usually a ``Pipeline`` with a ``ColumnTransformer``).
        features: The bundle's ordered feature list.

    Returns:
        The schema.

    Raises:
        BundleError: The feature list is empty or has duplicates, or it does not match the
            features the estimator was fitted on.
    """
    if not features:
        raise BundleError("bundle.json lists no features")
    duplicates = sorted({f for f in features if features.count(f) > 1})
    if duplicates:
        raise BundleError(f"bundle.json lists features more than once: {', '.join(duplicates)}")
    model_columns = _model_columns(estimator=estimator, features=features)
    kinds = dict.fromkeys(features, FeatureKind.NUMBER)
    categories: dict[str, frozenset[str | None]] = {}
    for encoder, branch_columns in _encoders(estimator):
        names = getattr(encoder, "feature_names_in_", None)
        if names is None:
            # An encoder behind an imputer sees arrays, not names: use the columns its
            # ColumnTransformer branch selects.
            names = branch_columns
        if names is None:
            continue
        fitted = getattr(encoder, "categories_", None)
        rejects_unknown = getattr(encoder, "handle_unknown", None) == "error"
        for position, raw_name in enumerate(names):
            name = str(raw_name)
            values = fitted[position] if fitted is not None and position < len(fitted) else None
            if name not in kinds or (values is not None and not _has_strings(values)):
                continue  # not an input column, or an encoded numeric column
            kinds[name] = FeatureKind.CATEGORY
            if rejects_unknown and values is not None:
                allowed = frozenset(_category_value(v) for v in values)
                categories[name] = categories[name] & allowed if name in categories else allowed
    return FeatureSchema(
        features=tuple(features),
        kinds=kinds,
        categories=categories,
        model_columns=model_columns,
    )


def _model_columns(*, estimator: Any, features: list[str]) -> tuple[str, ...] | None:
    """Return the fitted column order, checking it against the bundle's feature list."""
    fitted = getattr(estimator, "feature_names_in_", None)
    if fitted is None:
        count = getattr(estimator, "n_features_in_", None)
        if count is not None and int(count) != len(features):
            raise BundleError(
                f"the model was fitted on {int(count)} features but bundle.json lists "
                f"{len(features)}"
            )
        return None
    columns = tuple(str(c) for c in fitted)
    if sorted(columns) != sorted(features):
        missing = sorted(set(columns) - set(features))
        extra = sorted(set(features) - set(columns))
        raise BundleError(
            "bundle.json features do not match the model's fitted features "
            f"(not in bundle.json: {', '.join(missing) or '-'}; "
            f"not in the model: {', '.join(extra) or '-'})"
        )
    return columns


def _encoders(estimator: Any) -> Iterator[tuple[Any, list[str] | None]]:
    """Yield every categorical encoder nested in the estimator, with its branch's columns."""
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, TargetEncoder

    for node, columns in _walk(estimator, depth=0, columns=None):
        if isinstance(node, OneHotEncoder | OrdinalEncoder | TargetEncoder):
            yield node, columns


def _walk(
    node: Any, *, depth: int, columns: list[str] | None
) -> Iterator[tuple[Any, list[str] | None]]:
    """Yield ``node`` and every estimator nested in it (bounded depth), with branch columns."""
    yield node, columns
    if depth > 20:
        return
    for attr in ("steps", "transformers_", "transformer_list"):
        items = getattr(node, attr, None)
        if isinstance(items, list):
            for item in items:
                if isinstance(item, tuple) and len(item) >= 2:
                    branch = columns
                    if attr == "transformers_" and len(item) >= 3:
                        selected = item[2]
                        if isinstance(selected, list | tuple) and all(
                            isinstance(c, str) for c in selected
                        ):
                            branch = [str(c) for c in selected]
                    yield from _walk(item[1], depth=depth + 1, columns=branch)


def _has_strings(values: Any) -> bool:
    """Whether fitted categories are strings (a string column), not numbers."""
    return any(isinstance(v, str) for v in values)


def _category_value(value: Any) -> str | None:
    """Normalise a fitted category: strings stay, missing markers (None, NaN) become None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)
