"""``slipway ci drift-issue``: one issue for drift between git, the registry and what serves.

The scheduled drift workflow runs ``slipway deploy status`` (or lets this command run it) and
hands the statuses here. With drift, ONE open issue (found by ``<!-- slipway:drift -->`` and
the ``slipway:drift`` label) holds the current table: it is opened, or edited when the table
changed. Without drift, an open drift issue gets a closing comment and is closed.

The issue never advises an apply that cannot succeed: for an environment whose plan a policy
blocks (a freeze window, say), it names what blocks it and what would unblock it instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import TypeAdapter, ValidationError

from ci.errors import CiError
from ci.forge.protocol import Comments, Issues
from ci.forge.records import Issue, IssueEdit
from ci.markers import digest_line, digest_of, marker, parse_digest
from foundation.markdown import escape_cell, escape_text
from model_deploy.status import EnvStatus

if TYPE_CHECKING:
    from model_deploy.service import Deployer

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
        drifted: Deployments (``<env>/<model>``) with drift (or that could not be checked);
            one with a deploy in progress is not drift.
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
    *,
    forge: DriftForge,
    statuses: list[EnvStatus],
    now: datetime,
    run_url: str | None = None,
    blockers: Mapping[str, list[str]] | None = None,
) -> DriftResult:
    """Open, update or close the drift issue to match ``statuses``.

    ``now`` is the time of the check (shown, not part of the digest); ``blockers`` holds, by
    environment, why ``slipway deploy apply`` would refuse it (the failing policies' messages;
    an environment missing from it is taken as not blocked).
    """
    drifted = [s for s in statuses if drifting(s)]
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
    advice = _advice(drifted, blockers or {})
    digest = digest_of(*table, *advice)
    body = "\n".join(
        [
            marker(DRIFT_KEY),
            digest_line(digest),
            "## ⚠️ Drift between git, the registry and what serves",
            "",
            *table,
            "",
            "How to fix it:",
            "",
            *advice,
            "",
            "This issue closes itself when the scheduled check finds no drift.",
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


def drifting(status: EnvStatus) -> bool:
    """Whether a status is drift: it could not be checked, or it is out of sync.

    A deployment with a run in progress (``in_progress``: the run holds its lock) is not
    drift, whatever it shows meanwhile: the run converges it, or its recovery does.
    """
    if status.in_progress and not status.error:
        return False
    return bool(status.error) or not status.in_sync


def plan_blockers(deployer: Deployer, envs: list[str]) -> dict[str, list[str]]:
    """Why ``slipway deploy apply`` would refuse each of ``envs`` (blocked plans only).

    An environment that cannot be planned is blocked by that, in one sentence.
    """
    from foundation.errors import SlipwayError

    found: dict[str, list[str]] = {}
    for env in envs:
        try:
            plan = deployer.plan(env)
        except SlipwayError as exc:
            found[env] = [f"its plan could not be computed: {exc}"]
            continue
        if plan.blocked:
            found[env] = [r.message for r in plan.policies if r.failed]
    return found


def _advice(statuses: list[EnvStatus], blockers: Mapping[str, list[str]]) -> list[str]:
    lines = []
    for s in statuses:
        env = s.env
        blocked = blockers.get(env) or []
        if blocked:
            why = "; ".join(escape_text(reason.rstrip(".")) for reason in blocked)
            lines.append(
                f"- `{env}`: `slipway deploy apply {env}` would be refused ({why}). It unblocks "
                "when that changes; until then revert the manifest in git to what serves, or, "
                "if it cannot wait, open a pull request labelled `emergency` that the owners "
                "approve."
            )
        elif s.error:
            lines.append(
                f"- `{env}`: it could not be checked; fix that first ({escape_text(s.error)})."
            )
        else:
            lines.append(
                f"- `{env}`: apply it (`slipway deploy apply {env}`, or re-run the deploy "
                "workflow), or revert the manifest in git to what serves."
            )
    return lines


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
