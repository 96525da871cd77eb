"""What ``slipway ci retrain`` reads: one monitoring result, as plain data.

The result is ``model_monitor``'s :meth:`MonitorResult.to_json` (the run's ``summary.json``),
an object with a ``to_json()`` method giving it, or the JSON that ``slipway monitor run
--format json`` prints. When that JSON holds several results (a list, or an object with a
``results`` list), the one of the deployment asked for is picked by its ``env`` (or
``deployment``, ``<env>/<model>``) and ``model`` fields; a lone result is taken as it is.

A run with ``status: Failed`` (nothing to analyse, say an empty window) is inconclusive: it
neither raises nor clears a violation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, Protocol

from ci.errors import CiError

COMPLETED: Final = "Completed"
WITH_VIOLATIONS: Final = "CompletedWithViolations"
FAILED: Final = "Failed"
_STATUSES: Final = (COMPLETED, WITH_VIOLATIONS, FAILED)


class HasJson(Protocol):
    """A result object that renders itself as JSON (``model_monitor.report.MonitorResult``)."""

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON object."""
        ...


@dataclass(frozen=True)
class Finding:
    """One violation: a data check on a feature, or a model quality metric.

    Attributes:
        subject: The feature (``feature_name``) or the metric (``metric_name``).
        check: ``constraint_check_type`` (``baseline_drift_check``, ``LessThanThreshold``...).
        kind: ``data`` (constraint violations, drift) or ``quality`` (model quality).
    """

    subject: str
    check: str
    description: str
    kind: Literal["data", "quality"]

    @property
    def key(self) -> str:
        """``<check>: <subject>``: what the violation is, without its numbers."""
        return f"{self.check}: {self.subject}"


@dataclass(frozen=True)
class MonitorFindings:
    """The parts of a monitoring result a retrain request needs.

    Attributes:
        status: ``Completed``, ``CompletedWithViolations`` or ``Failed``.
        findings: Every violation, data ones first.
        first: Inference time of the window's first record, if known.
        last: Inference time of its last record, if known.
        requests: Requests in the window.
        version: The model version monitored (``driver_ranking:3`` or ``3``), when the
            result says.
        failure_reason: Why a ``Failed`` run had nothing to analyse.
        report: The HTML report's path as the run wrote it, if named.
    """

    status: str
    findings: tuple[Finding, ...] = ()
    first: str | None = None
    last: str | None = None
    requests: int = 0
    version: str | None = None
    failure_reason: str | None = None
    report: str | None = None

    @property
    def conclusive(self) -> bool:
        """Whether the run analysed something (a ``Failed`` run says nothing either way)."""
        return self.status != FAILED

    @property
    def violated(self) -> bool:
        """Whether the run found a violation (it was conclusive and listed one)."""
        return self.conclusive and (self.status == WITH_VIOLATIONS or bool(self.findings))

    @property
    def keys(self) -> tuple[str, ...]:
        """The violations without their numbers, sorted and unique (what a retrain is for)."""
        return tuple(sorted({f.key for f in self.findings}))

    @property
    def window(self) -> str:
        """The window in one phrase."""
        span = f"{self.first or '?'} → {self.last or '?'}"
        return f"{span} ({self.requests:,} requests)"


def load_findings(path: Path, *, env: str, model: str) -> MonitorFindings:
    """Read a result file (``summary.json`` or ``slipway monitor run --format json`` output).

    Raises:
        CiError: The file is missing, not JSON, or holds no result of ``env``/``model``.
    """
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CiError(f"{path}: not a monitoring result (unreadable or not JSON)") from exc
    try:
        return findings_of(doc, env=env, model=model)
    except CiError as exc:
        raise CiError(f"{path}: {exc}") from exc


def findings_of(result: HasJson | Mapping[str, Any] | Sequence[Any], *, env: str, model: str) -> (
    MonitorFindings
):  # fmt: skip
    """The findings of ``env``/``model`` in a result (an object, a JSON document).

    Raises:
        CiError: Not a monitoring result, or none of it is ``env``/``model``'s.
    """
    doc: Any = result.to_json() if hasattr(result, "to_json") else result
    return _parse(_pick(doc, env=env, model=model))


def _pick(doc: Any, *, env: str, model: str) -> Mapping[str, Any]:
    if isinstance(doc, Mapping) and "status" in doc:
        _check_owner(doc, env=env, model=model)
        return doc
    entries = doc.get("results") if isinstance(doc, Mapping) else doc
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise CiError("not a monitoring result (no status, no list of results)")
    mine = [e for e in entries if _owner(e) == (env, model)]
    if not mine and len(entries) == 1 and _owner(entries[0]) == (None, None):
        mine = entries
    if len(mine) != 1:
        found = sorted({"/".join(str(p) for p in _owner(e)) for e in entries})
        raise CiError(
            f"{'no' if not mine else 'more than one'} result of {env}/{model} "
            f"(results: {', '.join(found) or 'none'})"
        )
    chosen: Mapping[str, Any] = mine[0]
    return chosen


def _owner(doc: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``(env, model)`` that a result names, each None when it does not say."""
    env: Any = doc.get("env") or doc.get("environment")
    model: Any = doc.get("model")
    if isinstance(model, Mapping):
        model = model.get("name")
    if isinstance(model, str):
        model = model.partition(":")[0]
    for key in (doc.get("deployment"), env):
        if isinstance(key, str) and "/" in key:
            env, _, keyed = key.partition("/")
            model = model if isinstance(model, str) else keyed
            break
    return (env if isinstance(env, str) else None, model if isinstance(model, str) else None)


def _check_owner(doc: Mapping[str, Any], *, env: str, model: str) -> None:
    found_env, found_model = _owner(doc)
    if (found_env not in (None, env)) or (found_model not in (None, model)):
        raise CiError(f"the result is of {found_env}/{found_model}, not {env}/{model}")


def _parse(doc: Mapping[str, Any]) -> MonitorFindings:
    status = doc.get("status")
    if status not in _STATUSES:
        raise CiError(f"status {status!r} is not one of {', '.join(_STATUSES)}")
    findings = [_finding(v, "data") for v in _list(doc.get("violations"), "violations")]
    quality = doc.get("model_quality")
    if isinstance(quality, Mapping):
        raw = _list(quality.get("violations"), "model_quality.violations")
        findings += [_finding(v, "quality") for v in raw]
    window: Mapping[str, Any] = _mapping(doc.get("window"))
    files: Mapping[str, Any] = _mapping(doc.get("files"))
    requests = window.get("requests")
    return MonitorFindings(
        status=str(status),
        findings=tuple(findings),
        first=_text(window.get("first_inference_time")),
        last=_text(window.get("last_inference_time")),
        requests=requests if isinstance(requests, int) else 0,
        version=_version(doc),
        failure_reason=_text(doc.get("failure_reason")),
        report=_text(files.get("html")),
    )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any, what: str) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise CiError(f"{what} is not a list of objects")
    return value


def _finding(doc: Mapping[str, Any], kind: Literal["data", "quality"]) -> Finding:
    check = doc.get("constraint_check_type")
    subject = doc.get("feature_name") if kind == "data" else doc.get("metric_name")
    if not isinstance(check, str) or not isinstance(subject, str):
        name = "feature_name" if kind == "data" else "metric_name"
        raise CiError(f"a violation has no constraint_check_type or {name}")
    return Finding(subject, check, str(doc.get("description") or ""), kind)


def _version(doc: Mapping[str, Any]) -> str | None:
    for name in ("model_ref", "model_version", "version"):
        value = doc.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value)
    model = doc.get("model")
    if isinstance(model, str) and ":" in model:
        return model
    if isinstance(model, Mapping) and model.get("version") is not None:
        return str(model["version"])
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
