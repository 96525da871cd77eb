"""Errors raised by the model_deploy area (manifests, policies, plan, apply, targets).

Every error carries a one-line, user-facing message. The CLI prints ``str(error)`` and exits
non-zero; nothing here ever carries a secret or a raw traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

from foundation.errors import SlipwayError


class DeployError(SlipwayError):
    """Base class for every error raised by the model_deploy area."""


@dataclass(frozen=True)
class ManifestIssue:
    """One problem found in a manifest file.

    Attributes:
        file: The manifest file.
        field: Dotted path of the offending field (``target.instance_count``), or None for a
            whole-file problem (YAML syntax, empty file).
        line: 1-based line of the offending key (or of the syntax error), when known.
        message: What is wrong, one sentence.
    """

    file: str
    field: str | None
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ManifestError(DeployError):
    """A manifest file is missing, not YAML, or does not match the manifest schema.

    The message names the file, the field and the line of every problem (``dev.yaml:12:
    target.port: ...``).

    Attributes:
        issues: Every problem found (at least one).
    """

    def __init__(self, issues: list[ManifestIssue]) -> None:
        if not issues:
            raise ValueError("ManifestError needs at least one issue")
        self.issues = list(issues)
        first = self.issues[0]
        self.file, self.field, self.line = first.file, first.field, first.line
        super().__init__("; ".join(str(issue) for issue in self.issues))


class PolicyViolation(DeployError):  # noqa: N818 - the name the promotion docs use
    """A deployment policy refused the desired state; nothing was changed.

    Attributes:
        failures: One sentence per failed policy.
    """

    def __init__(self, env: str, failures: list[str]) -> None:
        self.env = env
        self.failures = list(failures)
        super().__init__(f"{env}: policy check failed: " + " ".join(self.failures))


class TargetError(DeployError):
    """A deploy target (local processes, SageMaker) failed or answered something unexpected."""


class SmokeTestError(DeployError):
    """A smoke test case got a wrong or malformed answer from the new endpoint."""


class BakeCheckError(DeployError):
    """The new version failed a bake check: its error rate, latency or a CloudWatch alarm."""


class StateStoreError(DeployError):
    """The deploy state store (local files, S3) cannot be read or written."""


class ApplyFailed(DeployError):  # noqa: N818 - reads as the event it reports
    """An apply or rollback failed after changing something; the previous state was restored.

    Attributes:
        env: The environment.
        cause: What failed first (one sentence).
        restored: Whether the previous state was restored (and is healthy).
    """

    def __init__(self, env: str, cause: str, *, restored: bool) -> None:
        self.env = env
        self.cause = cause
        self.restored = restored
        outcome = (
            "rolled back to the previous deployment, which is serving"
            if restored
            else "the rollback did not complete; check `slipway deploy status`"
        )
        super().__init__(f"{env}: apply failed: {cause}; {outcome}")


class LockedError(DeployError):
    """Another apply or rollback holds the environment's lock.

    Attributes:
        holder: Who holds it (``apply (pid 12, host h, since ...)``), when known.
    """

    def __init__(self, message: str, *, holder: str | None = None) -> None:
        self.holder = holder
        super().__init__(message)


class NoPreviousDeploymentError(DeployError):
    """The environment's history holds no earlier deployment to go back to."""


class RegistryLookupError(DeployError):
    """The model version a manifest names cannot be read from its registry."""
