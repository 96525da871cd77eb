"""Step 5 of a promotion: the pull request's title and body.

The body says what changes and why, shows the registry evidence, records an overridden
rejection, and carries the plan markdown (``model_deploy.render.markdown``). Hidden lines
identify it (``<!-- slipway:<kind>:<env> -->``), record the digest of its inputs, and carry
machine-readable metadata (the previous model, read back when a failed deploy is reverted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ci.forge.records import MAX_BODY_CHARS
from ci.markers import digest_line, digest_of, marker, meta_line, parse_meta
from ci.planning import stable
from foundation.markdown import escape_cell
from model_build.registry.protocol import ModelVersion
from model_deploy.manifest.model import ModelRef
from model_deploy.plan import Plan
from model_deploy.render.markdown import plan_markdown

Kind = Literal["promote", "revert"]


@dataclass(frozen=True)
class Proposal:
    """A manifest change proposed by pull request.

    Attributes:
        kind: ``promote`` or ``revert``.
        env: Environment.
        path: Manifest path in the repository.
        model: Model block after the change (None: ``model: null``).
        previous: Model block before the change.
        record: Registry record of ``model``.
        why: One phrase: where the version comes from or why it is reverted.
        command: The command that proposed it (shown in the footer).
        override_rejection: Whether a Rejected version was proposed on purpose.
    """

    kind: Kind
    env: str
    path: str
    model: ModelRef | None
    previous: ModelRef | None
    record: ModelVersion | None
    why: str
    command: str
    override_rejection: bool = False

    @property
    def title(self) -> str:
        """The pull request title."""
        target = self.model.ref if self.model else "nothing (model: null)"
        if self.kind == "revert":
            return f"Revert {self.env} to {target}"
        return f"Promote {target} to {self.env}"

    def meta(self) -> dict[str, Any]:
        """Machine-readable summary (JSON-able)."""
        return {
            "kind": self.kind,
            "env": self.env,
            "model": self.model.model_dump() if self.model else None,
            "previous": self.previous.model_dump() if self.previous else None,
            "status": str(self.record.status) if self.record else None,
            "override_rejection": self.override_rejection,
        }


def render_body(proposal: Proposal, *, plan: Plan | None, plan_error: str | None) -> str:
    """The pull request body, with a digest that ignores the plan's timestamp.

    Args:
        plan_error: Why it could not.

    Returns:
        Markdown within GitHub's body limit.
    """
    steady = _render(proposal, plan=stable(plan) if plan else None, plan_error=plan_error)
    digest = digest_of(steady)
    body = _render(proposal, plan=plan, plan_error=plan_error, digest=digest)
    if len(body) > MAX_BODY_CHARS:
        note = (
            "The plan is too long for this description; `slipway ci comment-plan` posts it as "
            "a comment."
        )
        body = _render(proposal, plan=None, plan_error=note, digest=digest)
    return body


def previous_model(body: str) -> tuple[bool, ModelRef | None]:
    """The model a promotion replaced, read from its body's metadata.

    Returns:
        ``(found, model)``: ``found`` is False when the body has no readable metadata;
        ``model`` is None when the environment served nothing before.
    """
    meta = parse_meta(body)
    if meta is None or "previous" not in meta:
        return False, None
    previous = meta["previous"]
    if previous is None:
        return True, None
    try:
        return True, ModelRef.model_validate(previous)
    except ValueError:
        return False, None


def _render(
    proposal: Proposal, *, plan: Plan | None, plan_error: str | None, digest: str = ""
) -> str:
    p = proposal
    lines = [marker(f"{p.kind}:{p.env}")]
    if digest:
        lines.append(digest_line(digest))
    lines += [meta_line(p.meta()), f"## 🚢 {escape_cell(p.title)}", "", "| | |", "|---|---|"]
    lines.append(f"| **Environment** | `{p.env}` · `{p.path}` |")
    if p.model is not None and p.record is not None:
        lines.append(
            f"| **Version** | `{p.model.ref}` (registry `{p.model.registry}`, "
            f"**{p.record.status}**) |"
        )
    else:
        lines.append("| **Version** | nothing (`model: null`) |")
    lines.append(f"| **Why** | {escape_cell(p.why)} |")
    lines.append(f"| **Replaces** | {f'`{p.previous.ref}`' if p.previous else 'nothing'} |")
    if p.record is not None:
        r = p.record
        lines.append(
            f"| **Evidence** | artifact `{r.artifact_digest}` · model git `{r.git_sha}` · "
            f"data `{r.data_hash}` · features `{r.feature_service}` |"
        )
    lines.append("")
    if p.override_rejection and p.record is not None and p.model is not None:
        reason = f" ({escape_cell(p.record.status_reason)})" if p.record.status_reason else ""
        lines += [
            "> [!WARNING]",
            f"> **Rejection overridden.** `{p.model.ref}` is {p.record.status} in the "
            f"registry{reason}; it was proposed with `--override-rejection`. The approval "
            f"policy still blocks `slipway deploy apply {p.env}` until someone approves it "
            f"again (`slipway models approve {p.model.ref} --force`).",
            "",
        ]
    if plan is not None:
        lines += [plan_markdown(plan).rstrip("\n"), ""]
    elif plan_error:
        lines += [
            "> [!WARNING]",
            f"> The plan could not be computed: {escape_cell(plan_error)}",
            "",
        ]
    lines += [
        "---",
        f"<sub>Opened by `{p.command}`. Re-running it updates this pull request in place; "
        f"merging it deploys to `{p.env}`.</sub>",
    ]
    return "\n".join(lines) + "\n"
