"""The terminal view of ``slipway monitor run``: one screen per deployment (rich).

Per deployment: a heading (deployment, version, window, requests), one table (column, check,
verdict, score / threshold, p-value) holding every violation first, then the drift tests (drifted
first, largest distance first) up to a screen's worth, model quality metrics against the
registered ones, stale feature views; then the verdict, the warnings and where the report is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slipway.monitor.labels import IngestResult
    from slipway.monitor.run import DeploymentResult, MonitorRun

MAX_ROWS = 16
_VERDICT_STYLE = {"Completed": "bold green", "CompletedWithViolations": "bold red"}


def run_view(run: MonitorRun) -> Any:
    """Every deployment's screen, one after the other."""
    from rich.console import Group

    return Group(*(deployment_view(r) for r in run.results))


def deployment_view(item: DeploymentResult) -> Any:
    """One deployment's screen."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    doc = item.to_json()
    window = doc.get("window") or {}
    head = Text.assemble(
        (item.deployment.key, "bold"),
        f"  {item.deployment.version or 'nothing deployed'}  ",
        f"{item.since:%Y-%m-%d %H:%M} -> {item.until:%Y-%m-%d %H:%M} UTC  ",
        f"{window.get('requests', 0):,} requests, {window.get('rows', 0):,} rows",
    )
    rows = _rows(item, doc)
    alpha = _alpha(item)
    table = Table(show_edge=False, pad_edge=False, expand=False)
    table.add_column("column", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("score / threshold", justify="right", no_wrap=True)
    table.add_column("p" if alpha is None else f"p (< {alpha:.2g})", justify="right")
    for row in rows[:MAX_ROWS]:
        style = "red" if row[2] in ("violation", "drift", "stale") else None
        table.add_row(*row, style=style)
    parts: list[Any] = [head]
    if rows:
        parts.append(table)
    if len(rows) > MAX_ROWS:
        parts.append(Text(f"... and {len(rows) - MAX_ROWS} more checks passed (see the report)"))
    status = item.status
    reason = doc.get("failure_reason")
    verdict = Text.assemble(
        ("verdict: ", "bold"),
        (status, _VERDICT_STYLE.get(status, "bold yellow")),
        f" ({reason})" if reason else "",
    )
    parts.append(verdict)
    for warning in doc.get("warnings") or []:
        parts.append(Text(f"warning: {warning}", style="yellow"))
    if item.report is not None:
        parts.append(Text(f"report: {item.report}"))
    parts.append(Text(""))
    return Group(*parts)


Row = tuple[str, str, str, str, str]


def _alpha(item: DeploymentResult) -> float | None:
    """The (corrected) p-value threshold the drift tests used, when they share one."""
    drift = item.result.drift if item.result is not None else None
    found = {c.p_value.threshold for c in drift.columns if c.p_value} if drift else set()
    return found.pop() if len(found) == 1 else None


def _rows(item: DeploymentResult, doc: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for violation in doc.get("violations") or []:
        if violation["constraint_check_type"] == "baseline_drift_check":
            continue  # shown with its scores below
        rows.append(
            (violation["feature_name"], violation["constraint_check_type"], "violation",
             _short(violation["description"]), "")
        )  # fmt: skip
    result = item.result
    if result is not None and result.drift is not None:
        tested = sorted(
            result.drift.columns,
            key=lambda c: (not c.drifted, -(c.distance.score if c.distance else 0.0)),
        )
        for column in tested:
            distance, test = column.distance, column.p_value
            check = distance.method if distance else (test.method if test else "-")
            score = f"{distance.score:.3g} / {distance.threshold:.3g}" if distance else "-"
            p_value = f"{test.score:.3g}" if test else "-"
            rows.append((column.column, check, "drift" if column.drifted else "ok", score, p_value))
    quality = doc.get("model_quality") or {}
    failed = {v["metric_name"] for v in quality.get("violations") or []}
    registered = quality.get("registered") or {}
    for name, value in sorted((quality.get("metrics") or {}).items()):
        then = registered.get(name)
        shown = f"{value:.4g}" + (f" / {then:.4g} (registered)" if then is not None else "")
        rows.append((name, "model quality", "violation" if name in failed else "ok", shown, ""))
    if item.freshness is not None:
        for view in item.freshness.views:
            if view.age_seconds is None:
                continue
            ttl = "no TTL" if view.ttl_seconds is None else f"{view.ttl_seconds:.0f} s"
            rows.append(
                (view.view, "feature freshness", "stale" if view.stale else "ok",
                 f"{view.age_seconds:.0f} s / {ttl}", "")
            )  # fmt: skip
    order = {"violation": 0, "drift": 0, "stale": 0}
    return sorted(rows, key=lambda r: order.get(r[2], 1))


def _short(text: str, limit: int = 32) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def ingest_view(result: IngestResult) -> str:
    """One line per fact of a label ingestion."""
    lines = [
        f"{result.file}: {result.records} labels, {result.written} new, "
        f"{result.duplicates} already ingested, {result.conflicts} conflicting",
        f"written: {result.uploaded or result.path}" if result.path else "nothing new to write",
    ]
    lines += [f"warning: {w}" for w in result.warnings]
    return "\n".join(lines) + "\n"
