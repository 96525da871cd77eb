"""What a model predicts: its task, recorded in every bundle and registered version.

* ``binary``: two classes; the answer is the probability of the positive class (the second
  of the sorted class labels, e.g. ``1`` of ``0``/``1``) and the label at the threshold.
* ``multiclass``: three or more classes; the answer is one probability per class and the most
  probable label.
* ``regression``: a number; the answer is the predicted value.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Task(StrEnum):
    """The kind of target a model learns."""

    BINARY = "binary"
    MULTICLASS = "multiclass"
    REGRESSION = "regression"

    @property
    def is_classification(self) -> bool:
        """True for ``binary`` and ``multiclass``."""
        return self is not Task.REGRESSION


DEFAULT_TASK: Final = Task.BINARY
"""The task of a bundle or version that records none (everything built before tasks existed)."""
