"""``slipway ci drift-issue``: one issue for drift between git, the registry and what serves.

The scheduled drift workflow runs ``slipway deploy status`` (or lets this command run it) and
hands the statuses here. With drift, ONE open issue (found by ``<!-- slipway:drift -->`` and
the ``slipway:drift`` label) holds the current table: it is opened, or edited when the table
changed. Without drift, an open drift issue gets a closing comment and is closed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

from pydantic import TypeAdapter, ValidationError

from ci.errors import CiError
from ci.forge.protocol import Comments, Issues
from ci.forge.records import Issue, IssueEdit
from ci.markers import digest_line, digest_of, marker, parse_digest
from foundation.markdown import escape_cell
from model_deploy.status import EnvStatus

DRIFT_KEY = "drift"
DRIFT_LABEL = "slipway:drift"
DriftAction = Literal["opened", "updated", "unchanged", "closed", "none"]


class DriftForge(Issues, Comments, Protocol):
    """What the drift issue needs from a forge: issues, and a comment before closing one."""


@dataclass(frozen=True)
class DriftResult:
    """What ``drift-issue`` did.

    Attributes:
        action: ``opened``, ``updated``, ``unchanged``, ``closed`` or ``none``.
        issue: The drift issue, if there is one.
        drifted: Environments with drift (or that could not be checked).
    """

    action: DriftAction
    issue: Issue | None
    drifted: list[str]


def load_statuses(path: Path) -> list[EnvStatus]:
    """Read ``slipway deploy status --format json`` output.

    Raises:
        CiError: The file is missing or not a status list.
    """
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return TypeAdapter(list[EnvStatus]).validate_python(raw)
    except (OSError, ValueError, ValidationError) as exc:
        raise CiError(f"{path}: not `slipway deploy status --format json` output") from exc


def drift_issue(
    *, forge: DriftForge, statuses: list[EnvStatus], now: datetime, run_url: str | None = None
) -> DriftResult:
    """Open, update or close the drift issue to match ``statuses``.

    Args:
        now: Time of the check (shown, not part of the digest).
    """
    drifted = [s for s in statuses if s.error or not s.in_sync]
    existing = forge.find_issue(marker=marker(DRIFT_KEY), label=DRIFT_LABEL)
    names = [s.env for s in drifted]
    if not drifted:
        if existing is None:
            return DriftResult("none", None, names)
        forge.create_comment(
            number=existing.number,
            body=f"✅ No drift as of {now:%Y-%m-%d %H:%M} UTC; closing."
            + (f" ([check]({run_url}))" if run_url else ""),
        )
        closed = forge.update_issue(number=existing.number, edit=IssueEdit(state="closed"))
        return DriftResult("closed", closed, names)
    table = _table(drifted)
    digest = digest_of(*table)
    body = "\n".join(
        [
            marker(DRIFT_KEY),
            digest_line(digest),
            "## ⚠️ Drift between git, the registry and what serves",
            "",
            *table,
            "",
            "Fix it by reverting the manifest in git to what serves, or by applying it "
            "(`slipway deploy apply <env>`). This issue closes itself when the scheduled check "
            "finds no drift.",
            "",
            f"<sub>Last checked {now:%Y-%m-%d %H:%M} UTC"
            + (f" · [run]({run_url})" if run_url else "")
            + " · `slipway ci drift-issue`</sub>",
        ]
    )
    title = f"Drift in {', '.join(names)}"
    if existing is None:
        issue = forge.create_issue(title=title, body=body, labels=(DRIFT_LABEL,))
        return DriftResult("opened", issue, names)
    if parse_digest(existing.body) == digest and existing.title == title:
        return DriftResult("unchanged", existing, names)
    return DriftResult(
        "updated",
        forge.update_issue(number=existing.number, edit=IssueEdit(title=title, body=body)),
        names,
    )


def _table(statuses: list[EnvStatus]) -> list[str]:
    lines = [
        "| Environment | Manifest (git) | Registry | Serving | Healthy | Drift |",
        "|---|---|---|---|---|---|",
    ]
    for s in statuses:
        findings = [s.error] if s.error else s.drift or ["not healthy"]
        drift = "<br>".join(escape_cell(item) for item in findings)
        lines.append(
            f"| `{s.env}` | {_code(s.desired_ref)} | {s.registry_status or '–'} | "
            f"{_code(s.serving_ref)} | {'✅' if s.healthy else '❌'} | {drift} |"
        )
    return lines


def _code(value: str | None) -> str:
    return f"`{value}`" if value else "nothing"
