"""Rules every registry implementation applies the same way: transitions and input checks."""

from __future__ import annotations

import json
import math
from pathlib import Path

from model_build.errors import InvalidTransitionError, RegistryError
from model_build.registry.protocol import ApprovalStatus, NewVersion
from model_bundle.bundle import META_FILE, bundle_digest, bundle_files

#: Transitions allowed without ``force`` (setting the current status again is a no-op).
ALLOWED_TRANSITIONS: frozenset[tuple[ApprovalStatus, ApprovalStatus]] = frozenset(
    {
        (ApprovalStatus.PENDING, ApprovalStatus.APPROVED),
        (ApprovalStatus.PENDING, ApprovalStatus.REJECTED),
        (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED),
    }
)
#: Transitions allowed only with ``force=True`` (an explicit, recorded override).
FORCED_TRANSITIONS: frozenset[tuple[ApprovalStatus, ApprovalStatus]] = frozenset(
    {(ApprovalStatus.REJECTED, ApprovalStatus.APPROVED)}
)


def check_transition(
    *, ref: str, current: ApprovalStatus, target: ApprovalStatus, force: bool
) -> bool:
    """Decide whether a status change from ``current`` to ``target`` may happen.

    Returns True if the status must change, False if it is already ``target`` (a no-op). ``ref``
    (``<model>:<version>``) names the version in the error; ``force`` is the caller's explicit
    override.

    Raises:
        InvalidTransitionError: The change is not allowed (or needs ``force``).
    """
    if current == target:
        return False
    if (current, target) in ALLOWED_TRANSITIONS:
        return True
    if (current, target) in FORCED_TRANSITIONS:
        if force:
            return True
        raise InvalidTransitionError(
            f"{ref} is {current.value}; approving a rejected version needs force=True "
            "(--force on the command line), an explicit override"
        )
    raise InvalidTransitionError(
        f"{ref}: cannot change status from {current.value} to {target.value}"
    )


def validate_new_version(new: NewVersion) -> None:
    """Check that a registry can store the new version and give it back exactly.

    Raises:
        RegistryError: A metric is not a finite number, or the params are not plain JSON.
    """
    bad = sorted(name for name, value in new.metrics.items() if not math.isfinite(value))
    if bad:
        raise RegistryError(
            f"{new.model_name}: metrics must be finite numbers; not finite: {', '.join(bad)}"
        )
    try:
        json.dumps(new.params, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise RegistryError(f"{new.model_name}: params must be plain JSON values: {exc}") from exc


def verify_bundle(*, bundle_dir: Path, expected: str, what: str) -> str:
    """Check that a folder is a model bundle with the ``expected`` digest; return the digest.

    ``what`` names what is being checked in the error message.

    Raises:
        RegistryError: A bundle file is missing, or the digest differs.
    """
    if not (bundle_dir / META_FILE).is_file() or len(bundle_files(bundle_dir)) < 2:
        raise RegistryError(
            f"{what}: {bundle_dir / META_FILE} and the model file not found (not a model bundle?)"
        )
    actual = bundle_digest(directory=bundle_dir)
    if actual != expected:
        raise RegistryError(
            f"{what}: bundle digest {actual} does not match artifact_digest {expected}"
        )
    return actual
