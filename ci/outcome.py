"""What ``slipway deploy apply ENV --format json`` says happened, as ``report-deploy`` reads it.

An apply (or rollback) ends in one outcome (``model_deploy.outcome.DeployOutcome``):
``applied``, ``no-op``, ``refused`` (a policy said no, with the reasons), ``locked``
(another deploy holds the environment), ``rolled-back`` (it failed and the previous state is
back, with the cause: ``model``, ``config`` or ``infrastructure``) or ``rollback-failed``
(it failed and so did the way back: the environment needs a human). Only the outcome says
what a failure means; an exit code alone cannot tell a refusal from a broken model, which is
how healthy versions used to get Rejected. The names of the first draft of this contract
(``failed-rolled-back``, ``desired_version``...) are read too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from ci.errors import CiError

OutcomeName = Literal["applied", "no-op", "refused", "locked", "rolled-back", "rollback-failed"]
Cause = Literal["model", "config", "infrastructure"]

#: Outcomes where the deploy failed.
FAILED: frozenset[str] = frozenset({"rolled-back", "rollback-failed"})
_OLD_NAMES = {"failed-rolled-back": "rolled-back", "failed-rollback": "rollback-failed"}


class ApplyOutcome(BaseModel):
    """The outcome of one apply (the fields ``report-deploy`` reads; others are ignored).

    Attributes:
        outcome: What happened (see the module docs).
        cause: Why a failed apply failed (None otherwise, or when the deployer cannot tell).
        desired: What the manifest asked for (``driver_ranking:3``), if anything.
        previously_serving: What served before the apply, if anything.
        now_serving: What serves after it, if anything.
        reasons: One sentence per reason (the policies that refused, the failure).
        emergency: The recorded emergency reason, if the apply was one.
        change_kind: The plan's change kind (``promotion``, ``config``...).
        rejects: The version the deployer shows to be bad (a model-caused failure only).
    """

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    outcome: OutcomeName
    cause: Cause | None = None
    desired: str | None = Field(
        default=None, validation_alias=AliasChoices("desired", "desired_version")
    )
    previously_serving: str | None = Field(
        default=None, validation_alias=AliasChoices("previously_serving", "previous_version")
    )
    now_serving: str | None = Field(
        default=None, validation_alias=AliasChoices("now_serving", "serving_version")
    )
    reasons: list[str] = Field(default_factory=list)
    emergency: str | None = None
    change_kind: str | None = None
    rejects: str | None = None

    @field_validator("outcome", mode="before")
    @classmethod
    def _old_name(cls, value: Any) -> Any:
        return _OLD_NAMES.get(value, value) if isinstance(value, str) else value

    @property
    def failed(self) -> bool:
        """Whether the apply failed (rolled back or not)."""
        return self.outcome in FAILED

    @property
    def deployed(self) -> bool:
        """Whether the desired state now serves (``applied`` or ``no-op``)."""
        return self.outcome in ("applied", "no-op")

    @property
    def rollback_failed(self) -> bool:
        """Whether the way back failed too (the environment needs a human)."""
        return self.outcome == "rollback-failed"

    @property
    def model_at_fault(self) -> bool:
        """Whether a failure was the model's: the only case that rejects a version."""
        return self.failed and self.cause == "model"

    def blames(self, ref: str) -> bool:
        """Whether the failure was ``ref``'s fault (``rejects`` names it when it is given)."""
        if not self.model_at_fault:
            return False
        return self.rejects is None or self.rejects == ref

    def reason_text(self) -> str:
        """The reasons on one line (``no reason given`` when there are none)."""
        return "; ".join(self.reasons) or "no reason given"


def parse_outcome(text: str, *, source: str) -> ApplyOutcome:
    """Read the JSON ``slipway deploy apply --format json`` printed.

    Raises:
        CiError: Not JSON, or not an apply outcome (the message names ``source``).
    """
    try:
        return ApplyOutcome.model_validate(json.loads(text))
    except (ValueError, ValidationError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CiError(
            f"{source}: not `slipway deploy apply --format json` output ({first})"
        ) from exc


def load_outcome(path: Path) -> ApplyOutcome:
    """Read an apply outcome from a file (what the workflow saved).

    Raises:
        CiError: The file is missing, empty or not an apply outcome.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CiError(f"{path}: cannot read the apply outcome: {exc.strerror}") from exc
    if not text.strip():
        raise CiError(
            f"{path} is empty: the apply printed no outcome (it crashed before the end, or "
            "ran without --format json)"
        )
    return parse_outcome(text, source=str(path))
