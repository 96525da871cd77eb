"""Fixtures for the monitoring library tests."""

from __future__ import annotations

import pytest
from monitor_kit import training_baseline

from model_monitor.baseline import Baseline


@pytest.fixture(scope="session")
def baseline() -> Baseline:
    """The baseline of 20,000 synthetic driver rows (built once per session)."""
    return training_baseline()
