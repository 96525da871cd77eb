"""How long work reports its steps, without knowing who draws them.

Library code calls a :class:`StepReporter`; the CLI passes one that draws a rich progress bar,
tests and the main job pass their own, and :data:`SILENT` draws nothing.
"""

from __future__ import annotations

from typing import Final, Protocol


class StepReporter(Protocol):
    """Told when each named step of a long job starts and ends."""

    def started(self, name: str, label: str) -> None:
        """Step ``name`` (shown as ``label``) began."""

    def finished(self, name: str, label: str, *, ok: bool, seconds: float) -> None:
        """Step ``name`` ended, successfully or not, after ``seconds``."""


class _Silent:
    def started(self, name: str, label: str) -> None:
        """Draw nothing."""

    def finished(self, name: str, label: str, *, ok: bool, seconds: float) -> None:
        """Draw nothing."""


SILENT: Final[StepReporter] = _Silent()
