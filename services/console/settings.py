"""Settings of the console, read from the environment (prefix ``SLIPWAY_CONSOLE_``).

The forge, registry, manifests and deploy state come from the same variables as the CLI's
(``SLIPWAY_FORGE``, ``SLIPWAY_REGISTRY``, ``SLIPWAY_DEPLOY_*``...); these are the console's own.
The token is a ``SecretStr``: it never appears in ``repr``, logs or pages.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.console.errors import ConsoleConfigError

#: Host names that only this machine can reach (no token needed).
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class ConsoleSettings(BaseSettings):
    """The console's settings.

    Attributes:
        token: The API token (``SLIPWAY_CONSOLE_TOKEN``): required when bound beyond
            localhost; sent as ``Authorization: Bearer <token>`` or set as a cookie by
            visiting ``/login?token=<token>``.
        run_dir: Parent folder of build run folders (plots, validation and evaluation files).
        reports_dir: Folder of the data gate's validation reports (``<source>.json`` and
            ``data_docs/index.html``).
        monitor_dir: The monitoring root of ``slipway monitor`` (``SLIPWAY_MONITOR_DIR``, or
            ``SLIPWAY_CONSOLE_MONITOR_DIR``): the newest ``runs/<env>/<model>/<time>/``
            ``summary.json`` of each deployment is shown.
        status_ttl: Seconds a deployment's status is served before it is read again (in the
            background; 0 reads every status on every request).
    """

    model_config = SettingsConfigDict(
        env_prefix="SLIPWAY_CONSOLE_", extra="ignore", populate_by_name=True
    )

    token: SecretStr | None = None
    run_dir: Path = Field(default=Path(".slipway/runs"))
    reports_dir: Path = Field(default=Path("reports/validation"))
    monitor_dir: Path = Field(
        default=Path(".slipway/monitor"),
        validation_alias=AliasChoices("SLIPWAY_CONSOLE_MONITOR_DIR", "SLIPWAY_MONITOR_DIR"),
    )
    status_ttl: float = Field(default=5.0, ge=0)


def is_local(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (loopback)."""
    return host.strip("[]").lower() in LOCAL_HOSTS or host.startswith("127.")


def check_bind(host: str, settings: ConsoleSettings) -> None:
    """Refuse a bind beyond localhost without a token.

    Raises:
        ConsoleConfigError: ``host`` is not loopback and ``SLIPWAY_CONSOLE_TOKEN`` is unset.
    """
    token = settings.token.get_secret_value() if settings.token else ""
    if not is_local(host) and not token:
        raise ConsoleConfigError(
            f"the console binds {host}, beyond localhost: set SLIPWAY_CONSOLE_TOKEN "
            "(or bind 127.0.0.1)"
        )
