"""The texts of a retrain request: the stamp file, the pull request body, the issue body.

The stamp file (``model_build/models/<model>/RETRAIN.json``) is what the retrain pull request
changes: a file under ``model_build/`` is what the model-build workflow's path filter picks
up, so the pull request runs the build's checks and its merge (a push to main) retrains and
registers the model. It records, per environment, the violations that asked for the retrain
(without their numbers, so re-runs that find the same violations commit nothing), the
version monitored and the window and report of the first detection. ``requested_at`` is set
when a new request starts, so a request is never identical to an earlier, merged one.

The pull request and issue bodies carry a marker, a digest (of what they say, not of when)
and a metadata line that later runs read back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from ci.markers import digest_line, digest_of, marker, meta_line
from ci.retrain_input import MonitorFindings
from foundation.markdown import escape_cell, escape_text

ABOUT: Final = (
    "Written by `slipway ci retrain` when monitoring found violations. A change to this file "
    "runs the model-build workflow: merging it retrains, evaluates, gates and registers the "
    "model, which then goes through the usual gated promotion."
)
_MAX_ROWS: Final = 50


def iso(moment: datetime) -> str:
    """``2026-01-02T03:04:05Z`` (seconds, UTC)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def read_stamp(text: str | None, *, model: str) -> dict[str, Any] | None:
    """The stamp document in ``text``, or None when absent, unreadable or another model's."""
    if text is None:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("model") != model:
        return None
    if not isinstance(doc.get("why"), dict) or not isinstance(doc.get("requested_at"), str):
        return None
    return doc


def stamp_text(
    previous: str | None,
    *,
    model: str,
    env: str,
    findings: MonitorFindings,
    now: datetime,
    report_url: str | None,
) -> str:
    """The stamp file with ``env``'s reason recorded (``previous``: the branch's stamp).

    ``env``'s entry is rewritten only when its violations (without numbers) or the version
    monitored changed, so a rerun that finds the same thing produces the same text.
    """
    doc = read_stamp(previous, model=model) or {
        "about": ABOUT,
        "model": model,
        "requested_at": iso(now),
        "why": {},
    }
    why: dict[str, Any] = doc["why"]
    entry = why.get(env)
    same = (
        isinstance(entry, dict)
        and entry.get("violations") == list(findings.keys)
        and entry.get("version") == findings.version
    )
    if not same:
        why[env] = {
            "violations": list(findings.keys),
            "version": findings.version,
            "window": {
                "first": findings.first,
                "last": findings.last,
                "requests": findings.requests,
            },
            "detected_at": iso(now),
            "report": report_url,
        }
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def latest_entry(
    findings: MonitorFindings,
    *,
    issue: int | None,
    now: datetime,
    report_url: str | None,
    run_url: str | None,
) -> dict[str, Any]:
    """What the pull request shows of one environment's latest run."""
    return {
        "violations": list(findings.keys),
        "window": findings.window,
        "version": findings.version,
        "report": report_url,
        "run": run_url,
        "issue": issue,
        "checked": iso(now),
    }


def pr_title(model: str, envs: list[str]) -> str:
    """``Retrain driver_ranking: violations in prod, staging``."""
    return f"Retrain {model}: monitoring violations in {', '.join(sorted(envs))}"


def pr_body(*, model: str, path: str, latest: Mapping[str, Mapping[str, Any]]) -> str:
    """The retrain pull request's body, from each environment's latest run."""
    rows = []
    for env in sorted(latest):
        item = latest[env]
        found = [escape_cell(str(v)) for v in item.get("violations") or []]
        shown = "<br>".join(f"`{v}`" for v in found[:_MAX_ROWS])
        if len(found) > _MAX_ROWS:
            shown += f"<br>and {len(found) - _MAX_ROWS} more"
        issue = f"#{item['issue']}" if item.get("issue") else "–"
        rows.append(
            f"| `{env}` | {shown or '–'} | {escape_cell(str(item.get('window') or '?'))} | "
            f"{_link('report', item.get('report'))} · {_link('run', item.get('run'))} | "
            f"{_code(item.get('version'))} | {issue} |"
        )
    stable = {e: {k: v for k, v in i.items() if k != "checked"} for e, i in latest.items()}
    table = [
        "| Environment | Violations | Window | Report | Version monitored | Issue |",
        "|---|---|---|---|---|---|",
        *rows,
    ]
    key = f"retrain:{model}"
    return "\n".join(
        [
            marker(key),
            digest_line(digest_of(json.dumps(stable, sort_keys=True), path)),
            meta_line({"latest": {env: dict(item) for env, item in latest.items()}}),
            f"## 🔁 Retrain `{model}`: its monitoring found violations",
            "",
            f"Merging this pull request changes `{path}`, which runs the model-build workflow: "
            f"`{model}` is retrained on current data, evaluated, gated and registered, and the "
            "new version goes through the usual gated promotion (dev, then staging, then prod).",
            "",
            *table,
            "",
            "Each environment's issue (label `slipway:monitor`) lists the violations with their "
            "numbers and closes itself when a monitoring run finds none. This pull request is "
            "never closed automatically: when the violations cleared without a retrain, close "
            "it by hand.",
            "",
            "<sub>`slipway ci retrain` · the scheduled monitor workflow</sub>",
        ]
    )


def issue_title(env: str, model: str, findings: MonitorFindings) -> str:
    """``Monitoring: driver_ranking in prod has 3 violations``."""
    count = len(findings.findings)
    what = f"{count} violation{'s' if count != 1 else ''}" if count else "violations"
    return f"Monitoring: {model} in {env} has {what}"


def issue_body(
    *,
    env: str,
    model: str,
    findings: MonitorFindings,
    retrain: str,
    meta: Mapping[str, Any],
    now: datetime,
    report_url: str | None,
    run_url: str | None,
) -> str:
    """The issue of one deployment's violations (``retrain``: one line about the PR)."""
    rows = [
        f"| `{escape_cell(f.check)}` | `{escape_cell(f.subject)}` | {escape_cell(f.description)} |"
        for f in findings.findings[:_MAX_ROWS]
    ]
    if len(findings.findings) > _MAX_ROWS:
        rows.append(f"| … | {len(findings.findings) - _MAX_ROWS} more | see the report |")
    if not rows:
        rows.append("| – | – | the run reported violations without listing them |")
    report = report_url or (f"`{findings.report}` (on the runner)" if findings.report else None)
    facts = [
        f"- Window: {escape_text(findings.window)}",
        f"- Version monitored: {_code(findings.version)}",
        f"- Report: {report or 'not given'}",
        f"- Run: {run_url}" if run_url else "- Run: not given",
        f"- Retrain: {retrain}",
    ]
    content = [
        f"## ⚠️ `{model}` in `{env}`: monitoring found violations",
        "",
        "| Check | Feature or metric | What |",
        "|---|---|---|",
        *rows,
        "",
        *facts,
    ]
    key = f"retrain:{env}/{model}"
    return "\n".join(
        [
            marker(key),
            digest_line(digest_of(*content, json.dumps(dict(meta), sort_keys=True))),
            meta_line(dict(meta)),
            *content,
            "",
            f"This issue closes itself when a monitoring run of `{env}/{model}` finds no "
            "violation.",
            "",
            f"<sub>Last checked {now:%Y-%m-%d %H:%M} UTC · `slipway ci retrain`</sub>",
        ]
    )


def cleared_text(*, key: str, env: str, model: str, now: datetime, run_url: str | None) -> str:
    """The comment that closes an issue (or tells the retrain PR) that violations cleared."""
    where = f" ([run]({run_url}))" if run_url else ""
    return (
        f"{marker(key)}\n✅ Monitoring of `{model}` in `{env}` found no violation as of "
        f"{now:%Y-%m-%d %H:%M} UTC{where}."
    )


def _link(text: str, url: object) -> str:
    return f"[{text}]({url})" if isinstance(url, str) and url else "–"


def _code(value: object) -> str:
    return f"`{value}`" if value else "unknown"
