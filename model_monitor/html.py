"""The run's HTML page: one self-contained file (inline CSS and SVG, no scripts, no network).

Sections: the verdict and the window, warnings, violations, drift by column, every column
against its baseline (completeness, mean or top values, and a histogram on the baseline's
bucket edges), and model quality when labels were given.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any, Final

from model_monitor.statistics import feature_entry, numbers, texts

if TYPE_CHECKING:
    import pandas as pd

    from model_monitor.baseline import Baseline
    from model_monitor.report import MonitorResult

_CSS: Final = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1f2328}
h1{font-size:1.4rem;margin:0 0 .3rem}h2{font-size:1.1rem;margin:1.8rem 0 .5rem}
table{border-collapse:collapse;width:100%;margin:.3rem 0}
th,td{border-bottom:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:.1rem .6rem;border-radius:1rem;font-weight:600;color:#fff}
.ok{background:#1a7f37}.warn{background:#9a6700}.bad{background:#cf222e}
.muted{color:#57606a}ul{margin:.3rem 0}svg{display:block}
"""
_STATUS_CLASS: Final = {"Completed": "ok", "CompletedWithViolations": "bad", "Failed": "warn"}


def render_report(result: MonitorResult, *, baseline: Baseline, frame: pd.DataFrame) -> str:
    """The page for one run."""
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<title>Slipway monitoring report</title>",
        f"<style>{_CSS}</style></head><body>",
        _header(result),
        _warnings(result.warnings),
        _violations(result),
        _drift(result),
        _columns(baseline, frame),
        _quality(result),
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


def _header(result: MonitorResult) -> str:
    """Title, status badge and the window's span and size."""
    window = result.window
    css = _STATUS_CLASS.get(result.status, "warn")
    span = f"{window.first} to {window.last}" if window.first else "no records"
    reason = (
        f"<p><strong>{escape(result.failure_reason)}</strong></p>" if result.failure_reason else ""
    )
    return (
        f"<h1>Monitoring report <span class='badge {css}'>{escape(result.status)}</span></h1>"
        f"<p class=muted>{window.requests} requests, {window.rows} rows, {escape(span)}; "
        f"{window.read.files} files, {window.read.corrupt_lines} corrupt and "
        f"{window.read.truncated_lines} truncated lines</p>{reason}"
    )


def _warnings(warnings: tuple[str, ...]) -> str:
    """The warnings list (empty when there are none)."""
    if not warnings:
        return ""
    items = "".join(f"<li>{escape(w)}</li>" for w in warnings)
    return f"<h2>Warnings</h2><ul>{items}</ul>"


def _violations(result: MonitorResult) -> str:
    """The violations table."""
    if not result.violations:
        return "<h2>Violations</h2><p>None.</p>"
    rows = "".join(
        f"<tr><td>{escape(v.feature_name)}</td><td>{escape(v.constraint_check_type)}</td>"
        f"<td>{escape(v.description)}</td></tr>"
        for v in result.violations
    )
    return (
        f"<h2>Violations ({len(result.violations)})</h2><table><tr><th>Column</th>"
        f"<th>Check</th><th>Description</th></tr>{rows}</table>"
    )


def _drift(result: MonitorResult) -> str:
    """Drift by column: each criterion's method, score and threshold."""
    drift = result.drift
    if drift is None:
        return ""
    rows = []
    for column in drift.columns:
        cells = []
        for criterion in (column.p_value, column.distance):
            if criterion is None:
                cells.append("<td class=muted>off</td>")
                continue
            mark = "&#x2716;" if criterion.met else ""
            cells.append(
                f"<td class=num>{escape(criterion.method)} {criterion.score:.4g} "
                f"<span class=muted>/ {criterion.threshold:.3g}</span> {mark}</td>"
            )
        verdict = "<span class='badge bad'>drift</span>" if column.drifted else "ok"
        role = "output" if column.prediction else "feature"
        rows.append(
            f"<tr><td>{escape(column.column)}</td><td>{role}</td>{''.join(cells)}"
            f"<td>{verdict}</td></tr>"
        )
    return (
        f"<h2>Drift</h2><p class=muted>Window of {drift.current_rows} rows against a reference "
        f"of {drift.reference_rows} rows. A column drifts when every criterion is met "
        "(p-value below its corrected threshold, distance at or above its threshold).</p>"
        "<table><tr><th>Column</th><th>Role</th><th>p-value / threshold</th>"
        f"<th>distance / threshold</th><th>Verdict</th></tr>{''.join(rows)}</table>"
    )


def _columns(baseline: Baseline, frame: pd.DataFrame) -> str:
    """Every baseline column against the window."""
    rows = []
    for spec in baseline.schema.columns:
        entry = feature_entry(baseline.statistics, spec.name)
        present = spec.name in frame.columns
        if not present:
            rows.append(
                f"<tr><td>{escape(spec.name)}</td><td>{spec.inferred_type.value}</td>"
                "<td colspan=3 class=muted>missing from the window</td></tr>"
            )
            continue
        values = frame[spec.name]
        current = float(values.notna().mean()) if len(values) else 0.0
        expected = _completeness(entry, baseline.rows)
        rows.append(
            f"<tr><td>{escape(spec.name)}</td><td>{spec.inferred_type.value}</td>"
            f"<td class=num>{expected:.3f} &rarr; {current:.3f}</td>"
            f"<td>{_summary_cell(entry, values)}</td>"
            f"<td>{_histogram(entry, values)}</td></tr>"
        )
    return (
        "<h2>Columns against the baseline</h2><table><tr><th>Column</th><th>Type</th>"
        "<th>Completeness</th><th>Baseline &rarr; window</th>"
        f"<th>Histogram (grey baseline, blue window)</th></tr>{''.join(rows)}</table>"
    )


def _completeness(entry: dict[str, Any] | None, rows: int) -> float:
    """A column's baseline completeness from its statistics."""
    if entry is None or not rows:
        return 0.0
    stats = entry.get("numerical_statistics") or entry.get("string_statistics") or {}
    return float(stats.get("common", {}).get("num_present", 0)) / rows


def _summary_cell(entry: dict[str, Any] | None, values: pd.Series) -> str:
    """Mean (numbers) or the most frequent values (categories), baseline then window."""
    import numpy as np

    if entry is not None and "numerical_statistics" in entry:
        stats = entry["numerical_statistics"]
        floats = numbers(values)
        finite = floats[np.isfinite(floats)]
        now = f"{float(finite.mean()):.4g}" if finite.size else "-"
        return f"mean {float(stats['mean']):.4g} &rarr; {now}"
    if entry is not None and "string_statistics" in entry:
        buckets = entry["string_statistics"]["distribution"]["categorical"]["buckets"][:3]
        before = ", ".join(escape(str(b["value"])) for b in buckets)
        top = texts(values).value_counts().head(3).index
        return f"top {before} &rarr; {', '.join(escape(str(v)) for v in top)}"
    return ""


def _histogram(entry: dict[str, Any] | None, values: pd.Series) -> str:
    """Inline SVG bars: baseline share per bucket against the window's share."""
    import numpy as np

    if entry is None:
        return ""
    pairs: list[tuple[float, float]] = []
    if "numerical_statistics" in entry:
        buckets = entry["numerical_statistics"]["distribution"]["kll"]["buckets"]
        if len(buckets) < 2:
            return ""
        edges = [b["lower_bound"] for b in buckets] + [buckets[-1]["upper_bound"]]
        total = sum(b["count"] for b in buckets) or 1.0
        floats = numbers(values)
        finite = np.clip(floats[np.isfinite(floats)], edges[0], edges[-1])
        counts, _ = np.histogram(finite, bins=np.asarray(edges))
        seen = max(int(counts.sum()), 1)
        pairs = [(b["count"] / total, c / seen) for b, c in zip(buckets, counts, strict=True)]
    elif "string_statistics" in entry:
        buckets = entry["string_statistics"]["distribution"]["categorical"]["buckets"][:10]
        total = sum(b["count"] for b in buckets) or 1.0
        shares = texts(values).value_counts(normalize=True)
        pairs = [(b["count"] / total, float(shares.get(str(b["value"]), 0.0))) for b in buckets]
    return _bars(pairs) if pairs else ""


def _bars(pairs: list[tuple[float, float]]) -> str:
    """Paired bars, 120 x 36 pixels."""
    width, height = 120, 36
    step = width / len(pairs)
    top = max(max(a, b) for a, b in pairs) or 1.0
    shapes = []
    for i, (before, now) in enumerate(pairs):
        for offset, share, color in ((0.0, before, "#afb8c1"), (0.5, now, "#0969da")):
            h = height * share / top
            x = i * step + offset * step
            shapes.append(
                f"<rect x='{x:.1f}' y='{height - h:.1f}' width='{step / 2 - 0.5:.1f}' "
                f"height='{h:.1f}' fill='{color}'/>"
            )
    return f"<svg width={width} height={height} role=img>{''.join(shapes)}</svg>"


def _quality(result: MonitorResult) -> str:
    """Model quality metrics against the registered ones."""
    quality = result.quality
    if quality is None:
        return ""
    failed = {v.metric_name for v in quality.violations}
    rows = []
    for name in sorted(quality.metrics):
        registered = quality.registered.get(name)
        was = f"{registered:.4g}" if registered is not None else "-"
        verdict = "<span class='badge bad'>worse</span>" if name in failed else ""
        rows.append(
            f"<tr><td>{escape(name)}</td><td class=num>{quality.metrics[name]:.4g}</td>"
            f"<td class=num>{was}</td><td>{verdict}</td></tr>"
        )
    return (
        f"<h2>Model quality</h2><p class=muted>{quality.labelled_rows} labelled rows "
        f"({quality.task.value}).</p><table><tr><th>Metric</th><th>Window</th>"
        f"<th>Registered</th><th></th></tr>{''.join(rows)}</table>"
    )
