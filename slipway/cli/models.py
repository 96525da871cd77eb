"""Command group of the model_build area: ``slipway models``.

Every command builds a result object and hands it to :func:`slipway.cli.output.emit`
(``--format text`` draws the rich views below, ``--format json`` prints one document).
Registry failures raise ``BuildError`` subclasses; the root ``slipway`` command prints them as
one line and exits non-zero. Only typer and the standard library are imported here at start-up;
the registry and rich are imported inside the commands, so ``slipway models list`` starts fast.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from slipway.cli.output import FormatOption, OutputFormat, emit

if TYPE_CHECKING:
    from model_build.registry.compare import Comparison, MetricDelta
    from model_build.registry.local import StatusChange
    from model_build.registry.protocol import ApprovalStatus, ModelRegistry, ModelVersion

models_app = typer.Typer(
    help=(
        "Inspect and approve registered model versions.\n\n"
        "Uses the registry named by SLIPWAY_REGISTRY: local (a folder, the default) or "
        "sagemaker (SageMaker model packages). Versions are written MODEL:VERSION, "
        "e.g. driver_ranking:3."
    ),
    no_args_is_help=True,
)


class StatusChoice(StrEnum):
    """Approval status as typed on the command line."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"

    def to_status(self) -> ApprovalStatus:
        """The registry's status value."""
        from model_build.registry.protocol import ApprovalStatus

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


@dataclass(frozen=True)
class VersionList:
    """The versions ``models list`` found, oldest first per model, and the status asked for."""

    versions: list[ModelVersion]
    status: ApprovalStatus | None = None

    def to_json(self) -> list[dict[str, Any]]:
        """Every version as the registry records it."""
        return [v.model_dump(mode="json") for v in self.versions]


@dataclass(frozen=True)
class VersionDetail:
    """One version and, when the registry keeps it, its status history."""

    version: ModelVersion
    history: list[StatusChange] | None = None

    def to_json(self) -> dict[str, Any]:
        """The version's record, plus ``status_history`` when known."""
        doc = self.version.model_dump(mode="json")
        if self.history is not None:
            doc["status_history"] = [h.model_dump(mode="json") for h in self.history]
        return doc


@dataclass(frozen=True)
class StatusUpdate:
    """A version before and after ``approve`` or ``reject``."""

    before: ModelVersion
    after: ModelVersion

    @property
    def changed(self) -> bool:
        """Whether the status changed (setting the current status again is a no-op)."""
        return self.before.status != self.after.status

    def to_json(self) -> dict[str, Any]:
        """The version as it is now."""
        return self.after.model_dump(mode="json")


def parse_ref(model: str, version: int | None = None) -> tuple[str, int]:
    """Split ``MODEL:VERSION`` (or take MODEL and VERSION apart) into name and number.

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
    emit(VersionList(versions=versions, status=wanted), fmt, text=_list_view)


@models_app.command("show")
def show(
    model: ModelArg,
    version: VersionArg = None,
    registry_path: RegistryPathOption = None,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Show one version: status, lineage (git SHA, data hash, features, params) and metrics."""
    from model_build.registry.local import LocalRegistry

    name, number = parse_ref(model, version)
    registry = _registry(registry_path)
    found = registry.get(model_name=name, version=number)
    history = (
        registry.status_history(model_name=name, version=number)
        if isinstance(registry, LocalRegistry)
        else None
    )
    emit(VersionDetail(version=found, history=history), fmt, text=_show_view)


def _change(
    ref: tuple[str, int | None], to: StatusChoice, *, reason: str, force: bool, path: Path | None
) -> StatusUpdate:
    name, number = parse_ref(*ref)
    registry = _registry(path)
    before = registry.get(model_name=name, version=number)
    after = registry.set_status(
        model_name=name, version=number, status=to.to_status(), reason=reason, force=force
    )
    return StatusUpdate(before=before, after=after)


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
    changed = _change(
        (model, version), StatusChoice.APPROVED, reason=reason, force=force, path=registry_path
    )
    emit(changed, fmt, text=_change_view)


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
    changed = _change(
        (model, version), StatusChoice.REJECTED, reason=reason, force=False, path=registry_path
    )
    emit(changed, fmt, text=_change_view)


@models_app.command("compare")
def compare(
    a: Annotated[str, typer.Argument(help="Baseline version, MODEL:VERSION.", show_default=False)],
    b: Annotated[str, typer.Argument(help="Candidate version, MODEL:VERSION.", show_default=False)],
    registry_path: RegistryPathOption = None,
    fmt: FormatOption = OutputFormat.TEXT,
) -> None:
    """Compare metrics of two versions (delta = B - A) and show what changed in their lineage.

    Which way is better comes from the metric registry (foundation.metrics): lower for log
    loss, Brier, ECE, RMSE, MAE and MAPE, higher for ROC AUC, R2 and the rest; residual
    quantiles have no better direction (shown as changed).
    """
    from model_build.registry.compare import compare_versions

    registry = _registry(registry_path)
    name_a, number_a = parse_ref(a)
    name_b, number_b = parse_ref(b)
    va = registry.get(model_name=name_a, version=number_a)
    vb = registry.get(model_name=name_b, version=number_b)
    emit(compare_versions(va, vb), fmt, text=_compare_view)


def _registry(path: Path | None) -> ModelRegistry:
    from model_build.registry.factory import open_registry
    from model_build.settings import load_settings

    local = {"registry": "local", "registry_path": path} if path is not None else {}
    return open_registry(load_settings(**local))


_STATUS_STYLE = {"Approved": "green", "Rejected": "red", "Pending": "yellow"}


def _status(version: ModelVersion) -> Any:
    from rich.text import Text

    return Text(version.status.value, style=_STATUS_STYLE[version.status.value])


def _literal(text: str) -> Any:
    """User text as a cell printed as it is (a plain ``str`` cell would be read as markup)."""
    from rich.text import Text

    return Text(text)


def _when(moment: Any) -> str:
    return str(moment.strftime("%Y-%m-%d %H:%M:%SZ"))


def _metrics_summary(version: ModelVersion, limit: int = 3) -> str:
    items = list(version.metrics.items())[:limit]
    more = " …" if len(version.metrics) > limit else ""
    return " ".join(f"{k}={v:.4g}" for k, v in items) + more


def _list_view(result: VersionList) -> Any:
    from rich.table import Table

    if not result.versions:
        return "no versions" + (f" with status {result.status.value}" if result.status else "")
    table = Table("version", "status", "created (UTC)", "digest", "metrics", "run")
    for v in result.versions:
        table.add_row(
            v.ref,
            _status(v),
            _when(v.created_at),
            v.artifact_digest[:19],
            _literal(_metrics_summary(v)),
            _literal(v.run_id),
        )
    return table


def _show_view(result: VersionDetail) -> Any:
    from rich.console import Group
    from rich.table import Table

    found = result.version
    facts = Table(show_header=False, title=found.ref, title_justify="left")
    facts.add_column(style="bold")
    facts.add_column(overflow="fold")
    facts.add_row("status", _status(found))
    for key, value in (
        ("task", str(found.task)),
        ("status reason", found.status_reason or "-"),
        ("created (UTC)", _when(found.created_at)),
        ("artifact", found.artifact_uri),
        ("digest", found.artifact_digest),
        ("git sha", found.git_sha or "-"),
        ("data hash", found.data_hash or "-"),
        ("feature service", found.feature_service or "-"),
        ("run id", found.run_id or "-"),
        *_tracking_rows(found),
        ("arn", found.arn or "-"),
        ("description", found.description or "-"),
        ("features", ", ".join(found.features)),
        ("params", json.dumps(found.params, sort_keys=True)),
    ):
        facts.add_row(key, _literal(value))
    metrics = Table("metric", "value", title="metrics", title_justify="left")
    for key, metric in found.metrics.items():
        metrics.add_row(_literal(key), f"{metric:.6g}")
    parts: list[Any] = [facts, metrics]
    if found.bias is not None:
        bias = Table(
            "bias metric", "value", "bounds",
            title=f"bias ({found.bias.attribute} in {found.bias.facet})", title_justify="left",
        )  # fmt: skip
        for key, measured in found.bias.metrics.items():
            bounds = found.bias.limits.get(key) or {}
            shown = " ".join(f"{k} {v:g}" for k, v in bounds.items() if v is not None)
            text = "-" if measured is None else f"{measured:.4g}"
            bias.add_row(_literal(key), text, shown or "-")
        parts.append(bias)
    if result.history:
        changes = Table(
            "when (UTC)", "status", "reason", title="status history", title_justify="left"
        )
        for h in result.history:
            forced = " (forced)" if h.forced else ""
            changes.add_row(_when(h.at), h.status.value + forced, _literal(h.reason))
        parts.append(changes)
    return Group(*parts)


def _tracking_rows(found: ModelVersion) -> list[tuple[str, str]]:
    """The build's MLflow run: id and store, its page, its logged model."""
    link = found.tracking
    if link is None:
        return [("MLflow run", "- (not tracked)")]
    rows = [("MLflow run", f"{link.run_id} ({link.tracking_uri})")]
    if link.run_url:
        rows.append(("run page", link.run_url))
    if link.model_uri:
        rows.append(("logged model", link.model_uri))
    return rows


def _change_view(result: StatusUpdate) -> Any:
    from rich.text import Text

    after = result.after
    if not result.changed:
        return Text.assemble(f"{after.ref} was already ", _status(after), "; nothing changed")
    return Text.assemble(f"{after.ref}: {result.before.status.value} -> ", _status(after))


def _compare_view(result: Comparison) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    va, vb = result.a, result.b
    table = Table("metric", va.ref, vb.ref, "delta (B-A)", "", title=f"{va.ref} vs {vb.ref}")
    for d in result.deltas:
        table.add_row(_literal(d.name), _num(d.a), _num(d.b), _delta(d), _verdict(d))
    if not result.changes:
        return Group(table, Text("same lineage (digest, code, data, features, params)"))
    lineage = Table("lineage", va.ref, vb.ref, title="what changed")
    for key, (x, y) in result.changes.items():
        lineage.add_row(key, _literal(_short(x)), _literal(_short(y)))
    return Group(table, lineage)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def _delta(d: MetricDelta) -> str:
    return "-" if d.delta is None else f"{d.delta:+.4g}"


def _verdict(d: MetricDelta) -> Any:
    from rich.text import Text

    hint = {"lower": " (lower is better)", "none": " (no better direction)"}.get(d.direction, "")
    style = {"better": "green", "worse": "red"}.get(d.verdict, "dim")
    return Text.assemble((d.verdict, style), hint)


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"
