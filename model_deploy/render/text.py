"""Plain-text renderings for the terminal: plan, apply result and status."""

from __future__ import annotations

from typing import TYPE_CHECKING

from foundation.metrics import describe_direction, format_metric

if TYPE_CHECKING:
    from model_deploy.apply import ApplyResult
    from model_deploy.outcome import DeployOutcome
    from model_deploy.plan import FieldChange, Plan
    from model_deploy.status import EnvStatus

_MARK = {"pass": "pass", "fail": "FAIL", "skip": "skip", "waived": "WAIVED"}


def plan_text(plan: Plan) -> str:
    """A plan for a terminal (ends with a newline)."""
    lines = [f"Plan for {plan.env} ({plan.target} target): {plan.summary}"]
    if not plan.in_sync:
        kind = plan.change_kind + (f" ({plan.emergency})" if plan.emergency else "")
        lines.append(f"Change kind: {kind}")
    lines += _table("Changes (serving -> after apply):", plan.changes)
    lines += _table("Manifest fields (serving deployment -> desired):", plan.manifest_changes)
    if plan.policy_source == "separate":
        lines += ["", "Policies read from the separate policy source (the base branch)."]
    lines += _table("Policy fields changed (needs the owners' approval):", plan.policy_changes)
    lines += [f"Needs approval: {item}" for item in plan.needs_owner_approval]
    if plan.metrics:
        base = plan.serving.ref if plan.serving else "none"
        cand = plan.candidate.ref if plan.candidate else "?"
        lines += ["", f"Metrics (serving {base} -> candidate {cand}):"]
        for row in plan.metrics:
            arrow = describe_direction(row.name)
            serving = format_metric(row.name, row.serving)
            candidate = format_metric(row.name, row.candidate)
            delta = "" if row.delta is None else f"  {row.delta:+.4f} {row.verdict}"
            bound = ""
            if row.meets_threshold is not None:
                bound = "  threshold ok" if row.meets_threshold else "  THRESHOLD MISSED"
            lines.append(f"  {row.name} ({arrow}): {serving} -> {candidate}{delta}{bound}")
    if plan.policies:
        lines += ["", "Policies:"]
        lines += [f"  [{_MARK[r.outcome]}] {r.policy}: {r.message}" for r in plan.policies]
    if plan.candidate:
        ev = plan.candidate
        lines += [
            "",
            f"Evidence: {ev.ref} ({ev.status}) digest {ev.artifact_digest}, git {ev.git_sha}, "
            f"data {ev.data_hash}",
        ]
        if ev.tracking is not None:
            where = ev.tracking.run_url or ev.tracking.tracking_uri
            lines.append(f"MLflow run: {ev.tracking.run_id} ({where})")
        if ev.bias is not None:
            passed = {None: "no bounds", True: "bounds met", False: "BOUND MISSED"}
            lines.append(f"Bias ({ev.bias.attribute}): {passed[ev.bias.passed]}")
    lines += [f"Manifest: {plan.manifest_path} ({plan.manifest_hash})"]
    lines += [f"Note: {note}" for note in plan.actual.notes]
    lines += [f"Warning: {warning}" for warning in plan.warnings]
    if plan.blocked:
        lines += ["", f"BLOCKED: `slipway deploy apply {plan.env}` would refuse this change."]
    return "\n".join(lines) + "\n"


def _table(title: str, changes: list[FieldChange]) -> list[str]:
    if not changes:
        return []
    width = max(len(change.setting) for change in changes)
    lines = ["", title]
    for change in changes:
        lines.append(
            f"  {change.setting:<{width}}  {change.serving or '-'}  ->  {change.desired or '-'}"
        )
    return lines


def outcome_text(outcome: DeployOutcome) -> str:
    """An apply or rollback outcome for a terminal (ends with a newline).

    The last line names the outcome and its exit code.
    """
    lines = []
    if outcome.recovered:
        lines.append(f"First: {outcome.recovered}.")
    if outcome.outcome in ("applied", "no-op"):
        lines.append(outcome.message + f" in {outcome.seconds:.1f} s.")
    else:
        lines.append(outcome.message)
        lines += [f"  - {reason}" for reason in outcome.reasons]
    for case in outcome.smoke_tests:
        lines.append(f"  smoke [{'pass' if case.passed else 'FAIL'}] {case.name} {case.message}")
    for case in outcome.baseline_smoke_tests:
        lines.append(
            f"  smoke vs serving [{'pass' if case.passed else 'FAIL'}] {case.name} {case.message}"
        )
    after = outcome.after
    if after is not None and after.deployed:
        health = "healthy" if after.healthy else "UNHEALTHY"
        lines.append(f"Serving {after.model_ref} at {after.endpoint} ({health}).")
    if outcome.emergency:
        lines.append(f"Emergency: {outcome.emergency}")
    lines += [f"Needs approval: {item}" for item in outcome.needs_owner_approval]
    lines += [f"Warning: {warning}" for warning in outcome.warnings]
    cause = f", cause: {outcome.cause}" if outcome.cause else ""
    lines.append(f"Outcome: {outcome.outcome}{cause} (exit {outcome.exit_code}).")
    return "\n".join(lines) + "\n"


def result_text(result: ApplyResult) -> str:
    """An apply or rollback result for a terminal (ends with a newline)."""
    lines = [result.message + f" in {result.seconds:.1f} s."]
    for case in result.smoke_tests:
        lines.append(f"  smoke [{'pass' if case.passed else 'FAIL'}] {case.name} {case.message}")
    after = result.after
    if after.deployed:
        health = "healthy" if after.healthy else "UNHEALTHY"
        lines.append(f"Serving {after.model_ref} at {after.endpoint} ({health}).")
    lines += [f"Warning: {warning}" for warning in result.warnings]
    return "\n".join(lines) + "\n"


def status_text(statuses: list[EnvStatus]) -> str:
    """Every environment's status for a terminal (ends with a newline)."""
    if not statuses:
        return "No environment manifests found.\n"
    lines = []
    for status in statuses:
        if status.error:
            lines.append(f"{status.env}: ERROR {status.error}")
            lines += [f"    ! warning: {warning}" for warning in status.warnings]
            continue
        if status.recovered:
            lines.append(f"{status.env}: {status.recovered}")
        if status.in_progress:
            lines.append(
                f"{status.env}: DEPLOY IN PROGRESS - {status.in_progress}; the target serves "
                f"{status.serving_ref or 'nothing'} meanwhile"
            )
            lines += [f"    ! warning: {warning}" for warning in status.warnings]
            continue
        verdict = "in sync" if status.in_sync else "DRIFT"
        health = "healthy" if status.healthy else "NOT HEALTHY"
        registry = f" ({status.registry_status})" if status.registry_status else ""
        lines.append(
            f"{status.env}: {verdict} - manifest {status.desired_ref or 'none'}{registry}, "
            f"{status.target} serves {status.serving_ref or 'nothing'}"
            + (f", {health}" if status.serving_ref else "")
        )
        lines += [f"    - {item}" for item in status.drift]
        lines += [f"    ! warning: {warning}" for warning in status.warnings]
        if status.last_deploy:
            lines.append(f"    last: {status.last_deploy}")
    return "\n".join(lines) + "\n"
