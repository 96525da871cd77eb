"""Steps of a long job drawn as a rich progress list (spinner, tick or cross, elapsed time)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn


class RichSteps:
    """A :class:`~foundation.progress.StepReporter` that draws on a rich :class:`Progress`."""

    def __init__(self, bar: Progress) -> None:
        self._bar = bar
        self._tasks: dict[str, TaskID] = {}

    def started(self, name: str, label: str) -> None:
        """Show a spinner line for the step."""
        self._tasks[name] = self._bar.add_task(label, total=1)

    def finished(self, name: str, label: str, *, ok: bool, seconds: float) -> None:
        """Replace the spinner with a tick or a cross."""
        task = self._tasks.pop(name, None)
        if task is not None:
            mark = "[green]✓[/]" if ok else "[red]✗[/]"
            self._bar.update(task, description=f"{mark} {label}", completed=1)


@contextmanager
def rich_steps(*, console: Console | None = None, enabled: bool = True) -> Iterator[RichSteps]:
    """A step reporter drawing on ``console`` (stderr by default) while the block runs."""
    columns = (SpinnerColumn(finished_text=" "), TextColumn("{task.description}"))
    console = console or Console(stderr=True)
    with Progress(*columns, TimeElapsedColumn(), console=console, disable=not enabled) as bar:
        yield RichSteps(bar)


@contextmanager
def spinner(message: str) -> Iterator[None]:
    """A spinner with ``message`` on stderr while the block runs (stdout stays clean for JSON)."""
    with Console(stderr=True).status(message):
        yield
