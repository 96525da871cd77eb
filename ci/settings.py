"""Settings for the ci area, read from the environment (prefix ``SLIPWAY_``).

The GitHub token is a ``SecretStr``: it never appears in ``repr``, logs or error messages. On
GitHub Actions the runner's ``GITHUB_REPOSITORY`` and ``GITHUB_API_URL`` are used when the
``SLIPWAY_`` variables are not set, and ``GITHUB_TOKEN`` when ``SLIPWAY_GITHUB_TOKEN`` is not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from foundation.settings import load_settings

ForgeKind = Literal["local", "github"]


class CiSettings(BaseSettings):
    """Which forge to talk to and how.

    Attributes:
        forge: ``local`` (git in ``repo_dir``, the embedded default) or ``github``.
        repo_dir: Git work tree of the local forge (and where manifests are read from).
        local_forge_dir: Where the local forge keeps pull request records (default
            ``<git dir>/slipway``).
        base_branch: Branch promotions target.
        manifests_dir: Folder of ``<env>.yaml`` manifests, relative to the repository root.
        github_token: Token (``SLIPWAY_GITHUB_TOKEN``, else ``GITHUB_TOKEN``).
        github_repository: ``owner/name`` (``SLIPWAY_GITHUB_REPOSITORY``, else
            ``GITHUB_REPOSITORY``).
        github_api_url: REST API root; set it for GitHub Enterprise Server
            (``https://ghe.example.com/api/v3``).
        github_timeout: Seconds per HTTP request.
        github_max_attempts: Attempts per call on 5xx, 429 and network errors.
        github_max_wait: Longest single wait (backoff or Retry-After) in seconds.
        github_seconds_between_writes: Pause between write requests (GitHub's advice against
            secondary rate limits).
    """

    model_config = SettingsConfigDict(env_prefix="SLIPWAY_", extra="ignore", populate_by_name=True)

    forge: ForgeKind = "local"
    repo_dir: Path = Path(".")
    local_forge_dir: Path | None = None
    base_branch: str = Field(default="main", min_length=1)
    manifests_dir: str = "model_deploy/environments"
    github_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLIPWAY_GITHUB_TOKEN", "GITHUB_TOKEN")
    )
    github_repository: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$",
        validation_alias=AliasChoices("SLIPWAY_GITHUB_REPOSITORY", "GITHUB_REPOSITORY"),
    )
    github_api_url: str = Field(
        default="https://api.github.com",
        validation_alias=AliasChoices("SLIPWAY_GITHUB_API_URL", "GITHUB_API_URL"),
    )
    github_timeout: float = Field(default=30.0, gt=0)
    github_max_attempts: int = Field(default=5, ge=1, le=10)
    github_max_wait: float = Field(default=60.0, ge=0)
    github_seconds_between_writes: float = Field(default=1.0, ge=0)


def load_ci_settings(**overrides: object) -> CiSettings:
    """:class:`CiSettings` from the environment; ``overrides`` that are not None win.

    Raises:
        SettingsError: A variable is invalid; the message names it, never its value.
    """
    return load_settings(CiSettings, **overrides)
