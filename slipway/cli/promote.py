"""``slipway promote``: propose a model version for an environment by pull request."""

from __future__ import annotations

from typing import Annotated

import typer

from slipway.cli import ci_options as cs
from slipway.cli.output import FormatOption, OutputFormat, emit


def promote_command(
    to: Annotated[
        str,
        typer.Option(
            "--to", help="Environment to promote to (dev, staging, prod).", show_default=False
        ),
    ],
    version: Annotated[
        str | None,
        typer.Argument(
            help="Registry version to promote: N or MODEL:N (e.g. driver_ranking:3). Leave out "
            "with --from.",
            show_default=False,
        ),
    ] = None,
    from_env: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Promote the version this environment's manifest names.",
            show_default=False,
        ),
    ] = None,
    override_rejection: Annotated[
        bool,
        typer.Option(
            "--override-rejection",
            help="Propose a version the registry has Rejected (recorded in the pull request).",
        ),
    ] = False,
    emergency: Annotated[
        bool,
        typer.Option(
            "--emergency",
            help="Label the pull request `emergency`: a freeze window is waived, with the "
            "approval of the manifest's owners (CODEOWNERS); the plan and the deployment "
            "record it.",
        ),
    ] = False,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="The model to promote: its manifest ENV/MODEL.yaml (default: the MODEL of "
            "MODEL:N).",
            show_default=False,
        ),
    ] = None,
    registry: Annotated[
        str | None,
        typer.Option(
            "--registry",
            help="Registry of VERSION: local or sagemaker (default: the one the manifests name).",
            show_default=False,
        ),
    ] = None,
    forge: cs.ForgeOption = None,
    repo_dir: cs.RepoDirOption = None,
    base: cs.BaseOption = None,
    manifests_dir: cs.ManifestsOption = None,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Propose a model version for an environment by pull request.

    One model at a time: its manifest model_deploy/environments/ENV/MODEL.yaml, on branch
    slipway/promote-ENV/MODEL, so promoting one model never touches another's manifest. Name
    the model with MODEL:N or --model (with --from). Edits only the manifest's model block,
    commits it, and opens the pull request or updates the open one (never a duplicate), with
    a link to the plan in its body. Re-running with the same inputs changes nothing. A
    Rejected version is refused without --override-rejection.
    """
    from ci.actions import write_outputs
    from ci.context import ci_context
    from ci.promote import PromotionRequest, promote

    context = ci_context(forge=forge, repo_dir=repo_dir, base=base, manifests_dir=manifests_dir)
    config = context.settings
    request = PromotionRequest(
        env=to,
        version=version,
        source_env=from_env,
        override_rejection=override_rejection,
        emergency=emergency,
        base=config.base_branch,
        manifests_dir=config.manifests_dir,
        registry=registry,
        model=model,
    )
    result = promote(
        request, forge=context.forge, registries=context.registries, planner=context.planner()
    )
    pr = result.pr
    write_outputs(
        {
            "pr-number": pr.number if pr else None,
            "pr-url": pr.url if pr else None,
            "branch": result.branch,
            "changed": result.changed,
        }
    )
    text = [f"promote {result.env}: {result.model_ref or 'nothing'}"]
    if result.noop:
        text.append(f"  nothing to do: {result.noop}")
    if result.commit is not None:
        what = f"committed {result.commit.sha[:12]}" if result.commit.changed else "unchanged"
        text.append(f"  branch {result.branch}: {what}")
    if pr is not None:
        text.append(f"  pull request #{pr.number} {result.pr_action or 'open'}: {pr.url}")
    if result.plan is not None:
        text.append(f"  plan: {result.plan.summary}")
    doc = {
        "env": result.env,
        "model": result.model_ref,
        "branch": result.branch,
        "pr_number": pr.number if pr else None,
        "pr_url": pr.url if pr else None,
        "pr_action": result.pr_action,
        "commit": result.commit.sha if result.commit else None,
        "committed": bool(result.commit and result.commit.changed),
        "changed": result.changed,
        "noop": result.noop,
    }
    emit(doc, fmt, text=lambda _: "\n".join(text))
