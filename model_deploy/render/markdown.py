"""The plan as GitHub markdown: what a reviewer reads in the promotion pull request.

Summary first (one heading, one status line), then the change table, the candidate-vs-serving
metrics with deltas, direction arrows and thresholds, the candidate's bias metrics against the
build gate's bounds (when the model declares a sensitive attribute), the policy checklist, and
the evidence (digest, git SHA, data hash, MLflow run) in a collapsed block. A hidden marker
lets a bot update its comment.
"""

from __future__ import annotations

from collections.abc import Callable

from foundation.markdown import code_span, escape_cell
from foundation.metrics import describe_direction, format_metric
from foundation.metrics import direction as metric_direction
from model_deploy.evidence import Evidence, MetricRow
from model_deploy.plan import FieldChange, Plan
from model_deploy.policies.result import PolicyResult

_OUTCOME_ICON = {"pass": "✅", "fail": "❌", "skip": "⏭️", "waived": "⚠️"}
_KIND_WORD = {
    "promotion": "model promotion",
    "config": "config change",
    "rollback": "rollback",
    "emergency": "emergency change",
    "none": "no change",
}
_ACTION_WORD = {
    "create": "create",
    "update": "update",
    "destroy": "tear down",
    "noop": "no change",
}


def plan_markdown(plan: Plan) -> str:
    """A plan as a pull request comment (markdown, ends with a newline)."""
    lines = [f"<!-- slipway:plan env={plan.env} -->", _heading(plan), "", _status_line(plan), ""]
    if plan.blocked:
        failed = sum(result.failed for result in plan.policies)
        lines += [
            f"> [!CAUTION]\n> **Blocked:** {failed} policy check(s) failed; "
            f"`slipway deploy apply {plan.env}` will refuse this change.",
            "",
        ]
    elif plan.in_sync:
        lines += [f"> [!NOTE]\n> {escape_cell(plan.summary)}", ""]
    if plan.needs_owner_approval:
        lines += ["> [!IMPORTANT]\n> **Needs the owners' approval:**"]
        lines += [f"> - {escape_cell(item)}" for item in plan.needs_owner_approval]
        lines += [""]
    if plan.warnings:
        lines += ["> [!WARNING]\n> **Not everything could be checked:**"]
        lines += [f"> - {escape_cell(warning)}" for warning in plan.warnings]
        lines += [""]
    lines += _changes(plan)
    lines += _field_table(
        "#### Manifest fields that change", "Serving deployment", plan.manifest_changes
    )
    lines += _field_table(
        "#### Policy fields that change (read from the base branch)",
        "Base branch",
        plan.policy_changes,
    )
    lines += _metrics(plan)
    lines += _bias(plan)
    lines += _policies(plan.policies)
    lines += _evidence(plan)
    return "\n".join(lines).rstrip() + "\n"


def _heading(plan: Plan) -> str:
    serving = f"`{plan.serving_ref}`" if plan.serving_ref else "nothing"
    desired = f"`{plan.desired_ref}`" if plan.desired_ref else "nothing (`model: null`)"
    if plan.action in ("create", "destroy") or plan.serving_ref != plan.desired_ref:
        return f"### 🚢 Deploy plan · `{plan.env}`: {serving} → {desired}"
    return f"### 🚢 Deploy plan · `{plan.env}`: {serving}"


def _status_line(plan: Plan) -> str:
    counts = {outcome: 0 for outcome in _OUTCOME_ICON}
    for result in plan.policies:
        counts[result.outcome] += 1
    verdict = (
        "⛔ **blocked**"
        if plan.blocked
        else ("✔️ **in sync**" if plan.in_sync else "🟢 **ready to apply**")
    )
    kind = "" if plan.in_sync else f"{_KIND_WORD[plan.change_kind]} · "
    return (
        f"**{_ACTION_WORD[plan.action]}** on the `{plan.target}` target · {kind}"
        f"{len(plan.changes)} change(s) · policies: {counts['pass']} ✅ {counts['fail']} ❌ "
        f"{counts['skip']} ⏭️"
        + (f" {counts['waived']} ⚠️" if counts["waived"] else "")
        + f" · {verdict}"
    )


def _changes(plan: Plan) -> list[str]:
    if not plan.changes:
        return []
    lines = ["#### Changes", "", "| Setting | Serving now | After apply |", "|---|---|---|"]
    for change in plan.changes:
        lines.append(
            f"| {change.setting} | {_code(change.serving)} | **{_code(change.desired)}** |"
        )
    return [*lines, ""]


def _field_table(title: str, old: str, changes: list[FieldChange]) -> list[str]:
    if not changes:
        return []
    lines = [title, "", f"| Field | {old} | Desired |", "|---|---|---|"]
    for change in changes:
        old, new = _code(change.serving), _code(change.desired)
        lines.append(f"| `{escape_cell(change.key)}` | {old} | **{new}** |")
    return [*lines, ""]


def _metrics(plan: Plan) -> list[str]:
    if not plan.metrics:
        return []
    serving = f"Serving `{plan.serving.ref}`" if plan.serving else "Serving"
    candidate = f"Candidate `{plan.candidate.ref}`" if plan.candidate else "Candidate"
    lines = [
        "#### Metrics: candidate vs serving",
        "",
        f"| Metric | {serving} | {candidate} | Δ | Threshold |",
        "|---|---:|---:|---|---|",
    ]
    lines += [_metric_line(row) for row in plan.metrics]
    if plan.serving is None:
        lines += ["", "_Nothing comparable serves yet: no baseline._"]
    return [*lines, ""]


def _metric_line(row: MetricRow) -> str:
    found = metric_direction(row.name)
    arrow = {"lower": "↓ ", "higher": "↑ "}.get(found, "")
    direction = arrow + describe_direction(row.name)
    if row.delta is None:
        delta = "–"
    elif row.delta == 0:
        delta = "⚪ ±0"
    else:
        mood = {"better": "🟢", "worse": "🔴"}.get(row.verdict, "⚪")
        delta = f"{mood} {'▲' if row.delta > 0 else '▼'} {row.delta:+.4f}"
    bounds = []
    if row.minimum is not None:
        bounds.append(f"≥ {row.minimum:g}")
    if row.maximum is not None:
        bounds.append(f"≤ {row.maximum:g}")
    threshold = " and ".join(bounds) or "–"
    if row.meets_threshold is not None:
        threshold += " ✅" if row.meets_threshold else " ❌"
    return (
        f"| `{row.name}` <sub>{direction}</sub> | {format_metric(row.name, row.serving)} | "
        f"{format_metric(row.name, row.candidate)} | {delta} | {threshold} |"
    )


def run_link(evidence: Evidence) -> str | None:
    """The version's MLflow run as markdown: a link when its UI page is known (None: untracked)."""
    link = evidence.tracking
    if link is None:
        return None
    name = code_span(link.run_id)
    if link.run_url.startswith(("http://", "https://")):
        return f"[MLflow run {name}]({link.run_url})"
    return f"MLflow run {name} in {code_span(link.tracking_uri)}"


def _bias(plan: Plan) -> list[str]:
    candidate = plan.candidate
    if candidate is None or candidate.bias is None:
        return []
    record = candidate.bias
    serving = plan.serving.bias if plan.serving and plan.serving.ref != candidate.ref else None
    if serving is not None and serving.attribute != record.attribute:
        serving = None
    facet = ", ".join(code_span(str(value)) for value in record.facet)
    if record.passed is None:
        verdict = "no bounds declared"
    else:
        verdict = "✅ met every bound" if record.passed else "❌ missed a bound"
    head = f"| Metric | Serving `{plan.serving.ref}` " if serving and plan.serving else "| Metric "
    lines = [
        f"#### Bias: {code_span(record.attribute)} in {facet} (SageMaker Clarify's definitions)",
        "",
        f"Candidate `{candidate.ref}` at build time: {verdict}.",
        "",
        head + f"| Candidate `{candidate.ref}` | Build gate bound |",
        "|---|" + ("---:|" if serving else "") + "---:|---|",
    ]
    for name, value in record.metrics.items():
        limit = record.limits.get(name, {})
        bounds = []
        if limit.get("min") is not None:
            bounds.append(f"≥ {limit['min']:g}")
        if limit.get("max") is not None:
            bounds.append(f"≤ {limit['max']:g}")
        bound = " and ".join(bounds) or "–"
        if bounds:
            bound += " ✅" if _within(value, limit) else " ❌"
        old = ""
        if serving is not None:
            old = (_bias_value(serving.metrics[name]) if name in serving.metrics else "–") + " | "
        lines.append(f"| `{escape_cell(name)}` | {old}{_bias_value(value)} | {bound} |")
    return [*lines, ""]


def _within(value: float | None, limit: dict[str, float | None]) -> bool:
    low, high = limit.get("min"), limit.get("max")
    if value is None:
        return False
    return (low is None or value >= low) and (high is None or value <= high)


def _bias_value(value: float | None) -> str:
    return "cannot be computed" if value is None else f"{value:.4f}"


def _policies(results: list[PolicyResult]) -> list[str]:
    if not results:
        return []
    lines = ["#### Policy checks", ""]
    for result in results:
        lines.append(
            f"- [{'x' if result.outcome in ('pass', 'waived') else ' '}] "
            f"{_OUTCOME_ICON[result.outcome]} "
            f"**{result.policy}**: {escape_cell(result.message)}"
        )
    return [*lines, ""]


def _evidence(plan: Plan) -> list[str]:
    columns = [(label, ev) for label, ev in (("Candidate", plan.candidate),
                                              ("Serving", plan.serving)) if ev]  # fmt: skip
    lines = ["<details><summary>Evidence</summary>", ""]
    if columns:
        lines += [
            "| | " + " | ".join(label for label, _ in columns) + " |",
            "|---|" + "---|" * len(columns),
        ]
        for label, getter in _EVIDENCE_ROWS:
            lines.append(
                f"| {label} | " + " | ".join(_code(getter(ev)) for _, ev in columns) + " |"
            )
        lines.append("")
    actual = plan.actual
    lines.append(
        f"Manifest `{plan.manifest_path}` · hash `{plan.manifest_hash}` · actual state read from "
        f"the `{plan.target}` target at {plan.generated_at:%Y-%m-%d %H:%M:%S %Z}"
        + (f" · deployed from commit `{actual.git_sha}`" if actual.git_sha else "")
    )
    if actual.details:
        facts = " · ".join(
            f"{escape_cell(key)} {_code(value)}" for key, value in sorted(actual.details.items())
        )
        lines += ["", f"Target details: {facts}"]
    if actual.notes:
        lines += ["", "Target notes:", *[f"- ⚠️ {escape_cell(note)}" for note in actual.notes]]
    return [*lines, "", "</details>"]


_EVIDENCE_ROWS: tuple[tuple[str, Callable[[Evidence], str]], ...] = (
    ("Version", lambda ev: f"{ev.ref} ({ev.status})"),
    ("Artifact digest", lambda ev: ev.artifact_digest),
    ("Model git SHA", lambda ev: ev.git_sha),
    ("Training data hash", lambda ev: ev.data_hash),
    ("Feature service", lambda ev: ev.feature_service),
    ("Artifact URI", lambda ev: ev.artifact_uri),
    ("Registry ARN", lambda ev: ev.arn or "–"),
    ("MLflow run", lambda ev: ev.tracking.run_id if ev.tracking else "-"),
    ("Logged model", lambda ev: (ev.tracking.model_uri or "-") if ev.tracking else "-"),
    ("Registered", lambda ev: f"{ev.created_at:%Y-%m-%d %H:%M} UTC"),
)


def _code(value: str | None) -> str:
    return "–" if value is None or value == "-" else code_span(value)


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"
