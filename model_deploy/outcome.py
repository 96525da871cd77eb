"""What an apply or rollback ended in: one outcome, its cause, and a distinct exit code.

The promotion tooling acts on the outcome, never on a bare exit status: only a failure caused
by the **model** rejects the version; a refusal (policy), a lock conflict, a config or an
infrastructure failure rejects nothing; a failed rollback pages.

Exit codes (``slipway deploy apply`` and ``slipway deploy rollback``):

====  =================  ===============================================================
code  outcome            meaning
====  =================  ===============================================================
0     applied / no-op    the environment serves the manifest
3     refused            a policy (or a config check) refused the change; nothing changed
4     locked             another apply or rollback holds the environment's lock
5     rolled-back        the change failed and the previous state serves again (``cause``)
6     rollback-failed    the change failed and the previous state could not be restored
1     (error)            the manifest, a setting or the state store could not be read
====  =================  ===============================================================
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, computed_field

from model_deploy.changes import ChangeKind
from model_deploy.errors import BakeCheckError, DeployError, SmokeTestError
from model_deploy.smoke import SmokeResult
from model_deploy.targets.protocol import ActualState

OutcomeKind = Literal["applied", "no-op", "refused", "locked", "rolled-back", "rollback-failed"]
Cause = Literal["model", "config", "infrastructure"]

EXIT_CODES: dict[str, int] = {
    "applied": 0,
    "no-op": 0,
    "refused": 3,
    "locked": 4,
    "rolled-back": 5,
    "rollback-failed": 6,
}


class DeployOutcome(BaseModel):
    """The result of ``deploy apply`` or ``deploy rollback``, for people and for the ci side.

    Attributes:
        env: The deployment key ``<env>/<name>`` (``environment`` and ``model`` split it).
        action: ``apply`` or ``rollback``.
        outcome: ``applied``, ``no-op``, ``refused``, ``locked``, ``rolled-back`` or
            ``rollback-failed``.
        cause: For ``rolled-back`` and ``rollback-failed`` (and a config check's ``refused``):
            ``model`` (the new version fails smoke tests the serving version passes, or its
            bake), ``config`` (the manifest's checks fail against the serving version too, or
            only settings changed) or ``infrastructure`` (a process or endpoint did not start,
            a timeout, an AWS error).
        change_kind: The plan's change kind (``promotion``, ``config``, ``rollback``,
            ``emergency``, ``none``).
        message: One line.
        reasons: One sentence per reason (failed policies, the failure, the evidence for the
            cause).
        desired: The version the manifest (or the rollback) asked for.
        previously_serving: What served before the run.
        now_serving: What serves after it.
        emergency: The recorded emergency reason, if any.
        needs_owner_approval: Why the change needs the owners' approval (the plan's list).
        smoke_tests: Smoke test results of the new version.
        baseline_smoke_tests: The same smoke tests against the serving version (how the
            cause was decided), when they ran.
        recovered: An interrupted earlier run this run found first, and what became of it.
        warnings: What could not be checked on the way.
        seconds: Duration.
        finished_at: When it ended.
        before: Actual state before (None when the run never read it: locked).
        after: Actual state after.
    """

    model_config = ConfigDict(frozen=True)

    env: str
    action: Literal["apply", "rollback"]
    outcome: OutcomeKind
    cause: Cause | None = None
    change_kind: ChangeKind = "none"
    message: str
    reasons: list[str] = []
    desired: str | None = None
    previously_serving: str | None = None
    now_serving: str | None = None
    emergency: str | None = None
    needs_owner_approval: list[str] = []
    smoke_tests: list[SmokeResult] = []
    baseline_smoke_tests: list[SmokeResult] = []
    recovered: str | None = None
    warnings: list[str] = []
    seconds: float = 0.0
    finished_at: datetime
    before: ActualState | None = None
    after: ActualState | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def environment(self) -> str:
        """The environment of the deployment."""
        return self.env.partition("/")[0]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def model(self) -> str:
        """The deployment's name in its environment (by convention the model's name)."""
        return self.env.partition("/")[2]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def exit_code(self) -> int:
        """The process exit code of this outcome (see the module table)."""
        return EXIT_CODES[self.outcome]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def rejects(self) -> str | None:
        """The version this outcome shows to be bad (only a model-caused failure), else None."""
        failed = self.outcome in ("rolled-back", "rollback-failed")
        return self.desired if failed and self.cause == "model" else None

    @property
    def ok(self) -> bool:
        """Whether the environment serves what was asked (applied or no-op)."""
        return self.outcome in ("applied", "no-op")

    def to_text(self) -> str:
        """The outcome for a terminal."""
        from model_deploy.render.text import outcome_text

        return outcome_text(self)


def classify_failure(
    error: DeployError,
    *,
    kind: ChangeKind,
    baseline: list[SmokeResult] | None,
    serving: str | None,
) -> tuple[Cause, str]:
    """``(cause, the sentence saying why)`` of a failed deploy.

    ``kind`` is the change kind underneath (an emergency counts as what it changes);
    ``baseline`` the failed run's smoke tests sent to the restored serving version ``serving``
    (None when they were not run).
    """
    if isinstance(error, SmokeTestError | BakeCheckError) and kind == "config":
        return (
            "config",
            "only settings changed (the serving version stays), so the change is at fault",
        )
    if isinstance(error, BakeCheckError):
        return "model", "the new version failed its bake while the old one served alongside"
    if not isinstance(error, SmokeTestError):
        return (
            "infrastructure",
            "the failure was not an answer of the model (a process, an endpoint, a timeout, AWS)",
        )
    if baseline is None or serving is None:
        return "model", "the new version failed its smoke tests and nothing served to compare with"
    failed = [r for r in baseline if not r.passed]
    if failed:
        names = ", ".join(repr(r.name) for r in failed)
        return "config", f"the same smoke tests fail against the serving {serving} too ({names})"
    return "model", f"the same smoke tests pass against the serving {serving}"
