"""Step 5 of a promotion: the pull request's title and body.

The body says what changes and why, shows the registry evidence and records an overridden
rejection. It carries no plan: a link line points at the sticky plan comment, the one plan
(``slipway ci comment-plan`` fills the link in), so the body can never contradict it. Hidden
lines identify it (``<!-- slipway:<kind>:<env> -->``), record the digest of its inputs, and
carry machine-readable metadata (what it changes; a revert also names the merge it undoes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ci.markers import digest_line, digest_of, marker, meta_line, parse_meta
from ci.plan_link import pending_link
from foundation.markdown import escape_cell
from model_build.registry.protocol import ModelVersion
from model_deploy.manifest.model import ModelRef

Kind = Literal["promote", "revert", "rollback"]


@dataclass(frozen=True)
class Proposal:
    """A manifest change proposed by pull request.

    Attributes:
        kind: ``promote``, ``revert`` (the git revert of a merge) or ``rollback``.
        env: Environment.
        path: Manifest path in the repository.
        model: Model block after the change (None: ``model: null``).
        previous: Model block before the change.
        record: Registry record of ``model``.
        why: One phrase: where the version comes from or why it is reverted.
        command: The command that proposed it (shown in the footer).
        override_rejection: Whether a Rejected version was proposed on purpose.
        emergency: Whether it is proposed as an emergency (labelled ``emergency``).
        title_text: The title, when the default one does not fit (a revert names its PR).
        extra_meta: More machine-readable facts (a revert: the merge it undoes).
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
    emergency: bool = False
    title_text: str | None = None
    extra_meta: tuple[tuple[str, Any], ...] = ()

    @property
    def title(self) -> str:
        """The pull request title."""
        if self.title_text:
            return self.title_text
        target = self.model.ref if self.model else "nothing (model: null)"
        if self.kind == "revert":
            return f"Revert {self.env} to {target}"
        if self.kind == "rollback":
            return f"Roll {self.env} back to {target}"
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
            **dict(self.extra_meta),
        }


def render_body(proposal: Proposal) -> str:
    """The pull request body, with a digest of what it was rendered from.

    It stays far below GitHub's body limit: the plan is a comment, linked, not copied.
    """
    digest = digest_of(_render(proposal))
    return _render(proposal, digest=digest)


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


def _render(proposal: Proposal, *, digest: str = "") -> str:
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
    if p.emergency:
        lines += [
            "> [!IMPORTANT]",
            "> **Emergency.** Labelled `emergency`: a freeze window is waived, and "
            "`slipway/policy` needs an approval of the current head by the manifest's owners "
            "(CODEOWNERS). The plan and the deployment record it.",
            "",
        ]
    lines += [pending_link(), ""]
    lines += [
        "---",
        f"<sub>Opened by `{p.command}`. Re-running it updates this pull request in place; "
        f"merging it deploys to `{p.env}`.</sub>",
    ]
    return "\n".join(lines) + "\n"
