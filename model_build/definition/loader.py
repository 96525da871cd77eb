"""Read ``model.yaml`` files: every problem of a file at once, each naming file, field and line.

:func:`load_definition` parses the YAML keeping line numbers, validates it against
:class:`~model_build.definition.schema.ModelDefinition` and then checks what spans sections:

* gate thresholds, serving tolerances and ``evaluate.metrics`` name metrics of the model's task
  (and gate metrics have a direction and are registered);
* ``train`` names exactly one of ``estimator`` and ``entrypoint``; the built-in estimator's
  hyperparameters are checked field by field;
* ``evaluate.threshold`` is for binary models only;
* ``bias.positive`` is required for multiclass, ``bias.label_threshold`` for regression (and
  only there);
* a ``model.yaml`` inside a model folder names the model after its folder.

The error is one :class:`DefinitionError` listing every issue as ``file:line: field: message``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from model_build.definition.schema import BUILTIN_ESTIMATORS, HistGBParams, ModelDefinition
from model_build.errors import BuildError
from model_bundle.task import Task

MODEL_FILE: Final = "model.yaml"
_MAX_BYTES: Final = 1_000_000


@dataclass(frozen=True)
class DefinitionIssue:
    """One problem in a model definition.

    Attributes:
        file: The file.
        field: Dotted field path (``train.hyperparameters.learning_rate``), or None for the file.
        line: 1-based line of the offending key, when known.
        message: What is wrong.
    """

    file: str
    field: str | None
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return (
            f"{where}: field '{self.field}': {self.message}"
            if self.field
            else (f"{where}: {self.message}")
        )


class DefinitionError(BuildError):
    """A model definition is missing, not YAML, or invalid; every issue is in the message.

    Attributes:
        issues: Every problem found (at least one), in file order.
    """

    def __init__(self, issues: Sequence[DefinitionIssue]) -> None:
        if not issues:
            raise ValueError("DefinitionError needs at least one issue")
        self.issues = list(issues)
        super().__init__("; ".join(str(issue) for issue in self.issues))


def load_definition(*, path: Path, named_after_folder: bool = True) -> ModelDefinition:
    """Read and validate one ``model.yaml`` (or a model folder holding one).

    The folder of a ``model.yaml`` is the model folder (user code is imported from it); with
    ``named_after_folder`` the model must be named after it (off for a copy such as a
    SageMaker job's code channel).

    Raises:
        DefinitionError: Every issue, each naming the file, the field and the line.
    """
    path = path / MODEL_FILE if path.is_dir() else path
    name = str(path)
    if not path.is_file():
        raise DefinitionError([DefinitionIssue(name, None, None, "file not found")])
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DefinitionError([DefinitionIssue(name, None, None, f"cannot read: {exc}")]) from exc
    if len(raw) > _MAX_BYTES:
        raise DefinitionError([DefinitionIssue(name, None, None, "file is over 1 MB")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DefinitionError([DefinitionIssue(name, None, None, "not UTF-8 text")]) from exc
    folder = path.parent if path.name == MODEL_FILE else None
    definition = parse_definition(
        text=text, source=name, folder=folder if named_after_folder else None
    )
    return definition.located(folder)


def parse_definition(*, text: str, source: str, folder: Path | None = None) -> ModelDefinition:
    """Validate definition text; ``source`` names it in messages, ``folder`` is the model folder.

    A definition with a ``folder`` must name the model after it.

    Raises:
        DefinitionError: See :func:`load_definition`.
    """
    from foundation.yaml_lines import YamlLinesError, line_of, parse_yaml, plain

    try:
        document = parse_yaml(text)
    except YamlLinesError as exc:
        raise DefinitionError([DefinitionIssue(source, None, exc.line, exc.message)]) from exc
    raw = plain(document, iso_dates=True)
    if not isinstance(raw, dict):
        kind = type(raw).__name__ if raw is not None else "empty"
        issue = DefinitionIssue(source, None, 1, f"expected a mapping of sections, got {kind}")
        raise DefinitionError([issue])
    issues: list[DefinitionIssue] = []
    definition: ModelDefinition | None = None
    try:
        definition = ModelDefinition.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(p for p in error["loc"] if p != "[key]")
            issues.append(_issue(source, loc, _message(error, loc), document, line_of))
    for loc, message in cross_checks(raw, folder=folder):
        issues.append(_issue(source, loc, message, document, line_of))
    if issues:
        unique = list(dict.fromkeys(issues))
        raise DefinitionError(sorted(unique, key=lambda i: (i.line or 0, i.field or "")))
    assert definition is not None  # no issues: validation succeeded
    return definition.located(folder)


def cross_checks(
    raw: dict[str, Any], *, folder: Path | None
) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Rules across sections, on the raw document (so they run even when fields are invalid).

    Yields ``(location, message)`` pairs.
    """
    from foundation.metrics import check_metric

    model = _section(raw, "model")
    task = _task(model.get("task"))
    name = model.get("name")
    if folder is not None and isinstance(name, str) and name != folder.name:
        yield (
            ("model", "name"),
            (f"is {name!r} but the model folder is {folder.name!r}; they must match"),
        )
    gate = _section(raw, "gate")
    evaluate = _section(raw, "evaluate")
    registered = evaluate.get("metrics")
    for part, gated in (("thresholds", True), ("serving_tolerance", True)):
        for metric in _keys(gate.get(part)):
            if task is not None:
                problem = check_metric(str(metric), task=task, gate=gated)
                if problem:
                    yield ("gate", part, metric), problem
                    continue
            if isinstance(registered, list) and metric not in registered:
                yield ("gate", part, metric), "is gated but not in evaluate.metrics"
    if isinstance(registered, list) and task is not None:
        for index, metric in enumerate(registered):
            problem = check_metric(str(metric), task=task)
            if problem:
                yield ("evaluate", "metrics", index), problem
    if task is not None and task is not Task.BINARY and evaluate.get("threshold") is not None:
        yield ("evaluate", "threshold"), f"is for binary models only (task {task})"
    yield from _bias_checks(_section(raw, "bias"), task=task)
    yield from _train_checks(_section(raw, "train"))


def _bias_checks(
    bias: dict[str, Any], *, task: Task | None
) -> Iterator[tuple[tuple[Any, ...], str]]:
    if not bias or task is None:
        return
    if task is Task.REGRESSION:
        if bias.get("label_threshold") is None:
            yield ("bias", "label_threshold"), "is required for a regression model"
        if bias.get("positive") is not None:
            yield ("bias", "positive"), "is for classifiers; use label_threshold"
        return
    if bias.get("label_threshold") is not None:
        yield ("bias", "label_threshold"), f"is for regression models only (task {task})"
    if task is Task.MULTICLASS and bias.get("positive") is None:
        yield ("bias", "positive"), "is required for a multiclass model (the positive labels)"


def _train_checks(train: dict[str, Any]) -> Iterator[tuple[tuple[Any, ...], str]]:
    estimator, entrypoint = train.get("estimator"), train.get("entrypoint")
    if estimator is None and entrypoint is None:
        yield (
            ("train", "estimator"),
            (
                "give an estimator (hist_gradient_boosting or an import path such as "
                "sklearn.ensemble.RandomForestRegressor) or an entrypoint (module:function)"
            ),
        )
    elif estimator is not None and entrypoint is not None:
        yield ("train", "entrypoint"), "give either estimator or entrypoint, not both"
    hyper = train.get("hyperparameters")
    if estimator in BUILTIN_ESTIMATORS and isinstance(hyper, dict):
        try:
            HistGBParams.model_validate(hyper)
        except ValidationError as exc:
            for error in exc.errors():
                loc = ("train", "hyperparameters", *error["loc"])
                yield loc, _message(error, loc)


def _issue(
    source: str, loc: tuple[Any, ...], message: str, document: Any, line_of: Any
) -> DefinitionIssue:
    field = ".".join(str(p) for p in loc) or None
    return DefinitionIssue(source, field, line_of(document, loc), message)


def _message(error: ErrorDetails, loc: tuple[Any, ...]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        allowed = _allowed(loc[:-1])
        return f"unknown field (allowed: {', '.join(allowed)})" if allowed else "unknown field"
    if kind == "string_pattern_mismatch" and loc[-1:] == ("estimator",):
        return (
            "must be hist_gradient_boosting or an import path such as "
            f"sklearn.ensemble.RandomForestRegressor (got {error.get('input')!r})"
        )
    if kind == "string_pattern_mismatch" and loc[-1:] == ("entrypoint",):
        return f"must be module:function, e.g. my_models.fare:train (got {error.get('input')!r})"
    message = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    if kind != "value_error" and isinstance(value, bool | int | float | str):
        message += f" (got {value!r})"
    return message


def _allowed(loc: Sequence[Any]) -> list[str]:
    """Field names of the section at ``loc`` (for "unknown field" hints)."""
    model: type[BaseModel] = ModelDefinition
    for part in loc:
        info = model.model_fields.get(str(part))
        annotation = getattr(info, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return sorted(model.model_fields)


def _section(raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name)
    return value if isinstance(value, dict) else {}


def _keys(value: Any) -> list[Any]:
    return list(value) if isinstance(value, dict) else []


def _task(value: Any) -> Task | None:
    try:
        return Task(value)
    except ValueError:
        return None
