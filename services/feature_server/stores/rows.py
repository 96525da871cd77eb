"""What a reader returns per entity key: a ``Row`` of stored values and a formatted timestamp."""

from __future__ import annotations

from typing import Any, Final

from services.feature_server.encoding import decode_value

_PICKS_PER_ROW: Final = 16
_FEATURE_SETS_LIMIT: Final = 4096
MISSING: Any = object()
"""Stands for a feature the stored row does not hold (reported ``NOT_FOUND``)."""


class Partial(tuple[Any, ...]):
    """Picked values of a row that lacks some of the features (they are ``MISSING``).

    A distinct type lets a caller find incomplete rows with one ``set(map(type, ...))``.
    """

    __slots__ = ()


class Row:
    """One entity's stored data in one view.

    Attributes:
        ts: Formatted event timestamp.
        raw: ``ValueProto`` bytes per stored feature (None or empty: null).
    """

    __slots__ = ("_pick", "_pick_key", "_picks", "raw", "ts")

    def __init__(self, ts: str, raw: dict[str, bytes | None]) -> None:
        """Wrap a timestamp and the raw values."""
        self.ts = ts
        self.raw = raw
        self._pick_key: tuple[str, ...] | None = None
        self._pick: tuple[Any, ...] | None = None
        self._picks: dict[tuple[str, ...], tuple[Any, ...]] | None = None

    def holds(self, features: tuple[str, ...]) -> bool:
        """Whether the row keeps its picked values for ``features`` (a cached row)."""
        return self._pick_key is features or (self._picks is not None and features in self._picks)

    def keep(self, features: tuple[str, ...], picked: tuple[Any, ...]) -> None:
        """Remember ``picked`` as ``pick(features)`` (values decoded elsewhere, in bulk)."""
        self._pick_key, self._pick = features, picked

    def pick(self, features: tuple[str, ...]) -> tuple[Any, ...]:
        """The JSON values of ``features`` in that order, then the formatted timestamp.

        A feature the row does not hold is ``MISSING`` (Feast reports it ``NOT_FOUND``) and the
        result is then a ``Partial``; a stored null is ``None`` (``PRESENT``). The answer is
        kept per feature tuple, so a cached row costs one identity check per request for the
        usual single plan (``features`` is a plan's tuple: the same object on every request).
        """
        if self._pick_key is features:
            return self._pick  # type: ignore[return-value]
        picks = self._picks
        if picks is None:
            picks = self._picks = {}
        found = picks.get(features)
        if found is None:
            raw = self.raw
            values = [
                MISSING if (b := raw.get(f, MISSING)) is MISSING else decode_value(b)
                for f in features
            ]
            values.append(self.ts)
            found = tuple(values) if raw.keys() >= _feature_set(features) else Partial(values)
            if len(picks) < _PICKS_PER_ROW:
                picks[features] = found
        self._pick_key, self._pick = features, found
        return found


_feature_sets: dict[tuple[str, ...], frozenset[str]] = {}


def _feature_set(features: tuple[str, ...]) -> frozenset[str]:
    found = _feature_sets.get(features)
    if found is None:
        if len(_feature_sets) >= _FEATURE_SETS_LIMIT:
            _feature_sets.clear()
        found = _feature_sets[features] = frozenset(features)
    return found
