"""How the main job shows its progress: one line per step with its wall time."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from feature_store.repo import FeatureRepo

console = Console()


@dataclass
class DemoRun:
    """State and timings of one demo run."""

    workdir: Path
    repo: FeatureRepo
    timings: list[tuple[str, float]] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def step(self, title: str, action: Callable[[], Any]) -> Any:
        """Run one step under a spinner and record its wall time."""
        started = time.perf_counter()
        with console.status(f"{title}..."):
            value = action()
        seconds = time.perf_counter() - started
        self.timings.append((title, seconds))
        console.print(f"[green]✓[/green] {title} [dim]({seconds:.1f}s)[/dim]")
        return value
