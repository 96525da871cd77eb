"""Command group of the model_build area: ``slipway models``.

Registry failures raise ``BuildError`` subclasses; the root ``slipway`` command prints them as
one line and exits non-zero.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from model_build.registry.compare import MetricDelta, compare_metrics, lineage_changes
from model_build.registry.factory import open_registry
from model_build.registry.local import LocalRegistry
from model_build.registry.protocol import ApprovalStatus, ModelRegistry, ModelVersion
from model_build.settings import load_settings

models_app = typer.Typer(
    help=(
        "Inspect and approve registered model versions.\n\n"
        "Uses the registry named by SLIPWAY_REGISTRY: local (a folder, the default) or "
        "sagemaker (SageMaker model packages). Versions are written MODEL:VERSION, "
        "e.g. driver_ranking:3."
    ),
    no_args_is_help=True,
)
console = Console()


class OutputFormat(StrEnum):
    """How a command prints its answer."""

    TEXT = "text"
    JSON = "json"


class StatusChoice(StrEnum):
    """Approval status as typed on the command line."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"

    def to_status(self) -> ApprovalStatus:
        """The registry's status value."""
        return ApprovalStatus(self.value.capitalize())


RegistryPathOption = Annotated[
    Path | None,
    typer.Option(
        "--registry-path",
        help=(
            "Use the local registry in this folder (default: the registry SLIPWAY_REGISTRY "
            "names; the local one lives in $SLIPWAY_REGISTRY_PATH or .slipway/registry)."
        ),
        show_default=False,
    ),
]
FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", help="text: tables for people; json: one JSON document for scripts."),
]
ModelArg = Annotated[
    str,
    typer.Argument(help="Model name (e.g. driver_ranking), or MODEL:VERSION.", show_default=False),
]
VersionArg = Annotated[
    int | None,
    typer.Argument(
        help="Version number; leave out when MODEL is written MODEL:VERSION.", show_default=False
    ),
]


def _registry(path: Path | None) -> ModelRegistry:
    settings = load_settings()
    if path is not None:
        settings = settings.model_copy(update={"registry": "local", "registry_path": path})
    return open_registry(settings)


def parse_ref(model: str, version: int | None = None) -> tuple[str, int]:
    """Split ``MODEL:VERSION`` (or take MODEL and VERSION apart).

    Args:
        model: ``MODEL`` or ``MODEL:VERSION``.
        version: The version when ``model`` has none.

    Returns:
        Model name and version number.

    Raises:
        typer.BadParameter: No version, two versions, or a version that is not a number.
    """
    name, sep, number = model.partition(":")
    if sep:
        if version is not None:
            raise typer.BadParameter(f"{model!r} already names a version; drop {version}")
        if not number.isdigit():
            raise typer.BadParameter(f"{model!r}: the version after ':' must be a number")
        return name, int(number)
    if version is None:
        raise typer.BadParameter(f"which version of {model!r}? Write {model}:N or {model} N")
    return name, version


def _echo_json(doc: Any) -> None:
    typer.echo(json.dumps(doc, indent=2, default=str))


def _metrics_summary(version: ModelVersion, limit: int = 3) -> str:
    items = list(version.metrics.items())[:limit]
    more = " …" if len(version.metrics) > limit else ""
    return " ".join(f"{k}={v:.4g}" for k, v in items) + more


def _when(version: ModelVersion) -> str:
    return version.created_at.strftime("%Y-%m-%d %H:%M:%SZ")


_STATUS_STYLE = {
    ApprovalStatus.APPROVED: "green",
    ApprovalStatus.REJECTED: "red",
    ApprovalStatus.PENDING: "yellow",
}


def _status(version: ModelVersion) -> str:
    return f"[{_STATUS_STYLE[version.status]}]{version.status.value}[/]"


@models_app.command("list")
def list_versions(
    model: Annotated[
        str | None,
        typer.Argument(
            help="Model name; leave out to list the versions of every model.", show_default=False
        ),
    ] = None,
    status: Annotated[
        StatusChoice | None,
        typer.Option(
            "--status", help="Only versions with this approval status.", show_default=False
        ),
    ] = None,
    registry_path: RegistryPathOption = None,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """List registered versions, oldest first, with status, digest and headline metrics.

    Example: `slipway models list --status pending` shows what waits for review.
    """
    registry = _registry(registry_path)
    wanted = status.to_status() if status else None
    names = [model] if model else registry.list_models()
    versions = [v for name in names for v in registry.list_versions(model_name=name, status=wanted)]
    if fmt is OutputFormat.JSON:
        _echo_json([v.model_dump(mode="json") for v in versions])
        return
    if not versions:
        console.print("no versions" + (f" with status {wanted.value}" if wanted else ""))
        return
    table = Table("version", "status", "created (UTC)", "digest", "metrics", "run")
    for v in versions:
        table.add_row(
            v.ref,
            _status(v),
            _when(v),
            v.artifact_digest[:19],
            escape(_metrics_summary(v)),
            escape(v.run_id),
        )
    console.print(table)


@models_app.command("show")
def show(
    model: ModelArg,
    version: VersionArg = None,
    registry_path: RegistryPathOption = None,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Show one version: status, lineage (git SHA, data hash, features, params) and metrics."""
    name, number = parse_ref(model, version)
    registry = _registry(registry_path)
    found = registry.get(model_name=name, version=number)
    history = (
        registry.status_history(model_name=name, version=number)
        if isinstance(registry, LocalRegistry)
        else None
    )
    if fmt is OutputFormat.JSON:
        doc = found.model_dump(mode="json")
        if history is not None:
            doc["status_history"] = [h.model_dump(mode="json") for h in history]
        _echo_json(doc)
        return
    facts = Table(show_header=False, title=found.ref, title_justify="left")
    facts.add_column(style="bold")
    facts.add_column(overflow="fold")
    rows = [
        ("status", _status(found)),
        ("status reason", found.status_reason or "-"),
        ("created (UTC)", _when(found)),
        ("artifact", found.artifact_uri),
        ("digest", found.artifact_digest),
        ("git sha", found.git_sha or "-"),
        ("data hash", found.data_hash or "-"),
        ("feature service", found.feature_service or "-"),
        ("run id", found.run_id or "-"),
        ("arn", found.arn or "-"),
        ("description", found.description or "-"),
        ("features", ", ".join(found.features)),
        ("params", json.dumps(found.params, sort_keys=True)),
    ]
    for key, value in rows:
        facts.add_row(key, value if key == "status" else escape(value))
    console.print(facts)
    metrics = Table("metric", "value", title="metrics", title_justify="left")
    for key, metric in found.metrics.items():
        metrics.add_row(escape(key), f"{metric:.6g}")
    console.print(metrics)
    if history:
        changes = Table(
            "when (UTC)", "status", "reason", title="status history", title_justify="left"
        )
        for h in history:
            forced = " (forced)" if h.forced else ""
            changes.add_row(
                h.at.strftime("%Y-%m-%d %H:%M:%SZ"), h.status.value + forced, escape(h.reason)
            )
        console.print(changes)


def _change(
    model: str,
    version: int | None,
    *,
    status: ApprovalStatus,
    reason: str,
    force: bool,
    registry_path: Path | None,
    fmt: OutputFormat,
) -> None:
    name, number = parse_ref(model, version)
    registry = _registry(registry_path)
    before = registry.get(model_name=name, version=number)
    after = registry.set_status(
        model_name=name, version=number, status=status, reason=reason, force=force
    )
    if fmt is OutputFormat.JSON:
        _echo_json(after.model_dump(mode="json"))
    elif before.status == after.status:
        console.print(f"{after.ref} was already {_status(after)}; nothing changed")
    else:
        console.print(f"{after.ref}: {before.status.value} -> {_status(after)}")


@models_app.command("approve")
def approve(
    model: ModelArg,
    version: VersionArg = None,
    reason: Annotated[
        str, typer.Option("--reason", help="Why it is approved; kept with the version.")
    ] = "",
    force: Annotated[
        bool,
        typer.Option("--force", help="Approve even a Rejected version (an explicit override)."),
    ] = False,
    registry_path: RegistryPathOption = None,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Approve a version so deploys may use it (Pending -> Approved)."""
    _change(
        model,
        version,
        status=ApprovalStatus.APPROVED,
        reason=reason,
        force=force,
        registry_path=registry_path,
        fmt=fmt,
    )


@models_app.command("reject")
def reject(
    model: ModelArg,
    reason: Annotated[
        str,
        typer.Option(
            "--reason",
            help="Why it is rejected (required); kept with the version.",
            show_default=False,
        ),
    ],
    version: VersionArg = None,
    registry_path: RegistryPathOption = None,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Reject a version so deploys never use it (Pending or Approved -> Rejected)."""
    _change(
        model,
        version,
        status=ApprovalStatus.REJECTED,
        reason=reason,
        force=False,
        registry_path=registry_path,
        fmt=fmt,
    )


@models_app.command("compare")
def compare(
    a: Annotated[str, typer.Argument(help="Baseline version, MODEL:VERSION.", show_default=False)],
    b: Annotated[str, typer.Argument(help="Candidate version, MODEL:VERSION.", show_default=False)],
    registry_path: RegistryPathOption = None,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Compare metrics of two versions (delta = B - A) and show what changed in their lineage.

    For log_loss, brier and ece lower is better; for every other metric higher is better.
    """
    registry = _registry(registry_path)
    name_a, number_a = parse_ref(a)
    name_b, number_b = parse_ref(b)
    va = registry.get(model_name=name_a, version=number_a)
    vb = registry.get(model_name=name_b, version=number_b)
    deltas = compare_metrics(va.metrics, vb.metrics)
    changes = lineage_changes(va, vb)
    if fmt is OutputFormat.JSON:
        _echo_json(
            {
                "a": va.ref,
                "b": vb.ref,
                "metrics": [d.model_dump(mode="json") for d in deltas],
                "lineage_changes": {k: {"a": x, "b": y} for k, (x, y) in changes.items()},
            }
        )
        return
    table = Table("metric", va.ref, vb.ref, "delta (B-A)", "", title=f"{va.ref} vs {vb.ref}")
    for d in deltas:
        table.add_row(escape(d.name), _num(d.a), _num(d.b), _delta(d), _verdict(d))
    console.print(table)
    if changes:
        lineage = Table("lineage", va.ref, vb.ref, title="what changed")
        for key, (x, y) in changes.items():
            lineage.add_row(key, escape(_short(x)), escape(_short(y)))
        console.print(lineage)
    else:
        console.print("same lineage (digest, code, data, features, params)")


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def _delta(d: MetricDelta) -> str:
    return "-" if d.delta is None else f"{d.delta:+.4g}"


def _verdict(d: MetricDelta) -> str:
    hint = " (lower is better)" if d.lower_is_better else ""
    style = {"better": "green", "worse": "red"}.get(d.verdict, "dim")
    return f"[{style}]{d.verdict}[/]{hint}"


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"
