"""Helpers of the console tests (a module of its own: conftest modules are not importable)."""

from __future__ import annotations

from kits.console_state import FakeTarget

from services.console.readers import ConsoleContext
from services.console.settings import ConsoleSettings

TOKEN = "tok-Zq8c1xS3cret-value-0123456789"


def make_context(target: FakeTarget, token: str | None = None) -> ConsoleContext:
    settings = (
        ConsoleSettings(token=token, status_ttl=0) if token else ConsoleSettings(status_ttl=0)
    )
    context = ConsoleContext.from_environment(settings)
    context.targets = {"local": target}
    return context
