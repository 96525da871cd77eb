"""What ``slipway deploy apply ENV --format json`` says happened, as ``report-deploy`` reads it.

An apply ends in one outcome: ``applied``, ``no-op``, ``refused`` (a policy said no, with the
reasons), ``locked`` (another deploy holds the environment), ``failed-rolled-back`` (it failed
and the previous state is back, with the cause: ``model``, ``config`` or ``infrastructure``)
or ``failed-rollback`` (it failed and so did the way back: the environment needs a human).
Only the outcome says what a failure means; an exit code alone cannot tell a refusal from a
broken model, which is how healthy versions used to get Rejected.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ci.errors import CiError

OutcomeName = Literal[
    "applied", "no-op", "refused", "locked", "failed-rolled-back", "failed-rollback"
]
Cause = Literal["model", "config", "infrastructure"]

#: Outcomes where nothing was deployed and nothing broke: nobody is to blame.
NOT_DEPLOYED: frozenset[str] = frozenset({"refused", "locked"})
#: Outcomes where the deploy failed.
FAILED: frozenset[str] = frozenset({"failed-rolled-back", "failed-rollback"})


class ApplyOutcome(BaseModel):
    """The outcome of one apply.

    Attributes:
        outcome: What happened (see the module docs).
        cause: Why a failed apply failed (None otherwise, or when the deployer cannot tell).
        desired_version: What the manifest asked for (``driver_ranking:3``), if anything.
        previous_version: What served before the apply, if anything.
        serving_version: What serves after it, if anything.
        reasons: One sentence per reason (the policies that refused, the failure).
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    outcome: OutcomeName
    cause: Cause | None = None
    desired_version: str | None = None
    previous_version: str | None = None
    serving_version: str | None = None
    reasons: list[str] = Field(default_factory=list)

    @property
    def failed(self) -> bool:
        """Whether the apply failed (rolled back or not)."""
        return self.outcome in FAILED

    @property
    def deployed(self) -> bool:
        """Whether the desired state now serves (``applied`` or ``no-op``)."""
        return self.outcome in ("applied", "no-op")

    @property
    def model_at_fault(self) -> bool:
        """Whether a failure was the model's: the only case that rejects a version."""
        return self.failed and self.cause == "model"

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
