"""Errors raised by the ci area (forges, promotion, plan comments, deploy reports).

Every error carries a one-line, user-facing message that never contains a token. The root
``slipway`` command prints ``str(error)`` and exits 1.
"""

from __future__ import annotations

from foundation.errors import SlipwayError


class CiError(SlipwayError):
    """Base class for every error raised by the ci area."""


class CiConfigError(CiError):
    """A ci setting is missing or invalid (the message names the variable, never its value)."""


class ForgeError(CiError):
    """The forge (GitHub, or the local git forge) refused or failed an operation.

    Attributes:
        status: HTTP status when the forge is GitHub, else None.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ForgeNotFoundError(ForgeError):
    """The pull request, issue, comment, branch or file does not exist."""


class TransientForgeError(ForgeError):
    """The forge kept failing with 5xx, 429 or network errors after every bounded retry.

    Nothing was closed or recreated because of it; re-running the same command is safe.
    """


class GitError(ForgeError):
    """A git command of the local forge failed (the message holds git's first error line)."""


class MergeBlockedError(ForgeError):
    """The forge refused to merge (head not approved, failing or missing status, conflict)."""


class RevertConflictError(ForgeError):
    """A merge cannot be reverted automatically (files changed since, or nothing to undo)."""


class PromotionError(CiError):
    """A promotion cannot be proposed (unknown version, Rejected version, bad manifest...)."""


class ManifestEditError(PromotionError):
    """The manifest cannot be edited safely (no top-level ``model`` key, unexpected layout)."""


class PlanCommentError(CiError):
    """The plan could not be computed for a pull request (the comment says why)."""


class DeployReportError(CiError):
    """Reporting a deploy result was incomplete (the message lists what could not be done)."""
