"""Load manifest files: YAML (round-trip, for line numbers) into a validated :class:`Manifest`.

Every failure becomes a :class:`ManifestError` whose issues name the file, the field and the line
of the offending key: YAML syntax errors, empty files, wrong types, unknown keys (with a
"did you mean"), out-of-range values and an ``environment`` that does not match the folder the
file is in (the environment of a manifest is its folder, never its file name).
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml.comments import CommentedMap

from foundation.yaml_lines import YamlLinesError, locate, parse_yaml
from foundation.yaml_lines import plain as plain_values
from model_deploy.errors import ManifestError, ManifestIssue
from model_deploy.manifest.model import Manifest

if typing.TYPE_CHECKING:
    from model_deploy.manifest.environments import EnvironmentRules

_MAX_BYTES = 1_000_000


@dataclass(frozen=True)
class LoadedManifest:
    """A validated manifest and where it came from.

    Attributes:
        manifest: The validated content (environment defaults filled in).
        path: The file.
        content_hash: :meth:`Manifest.content_hash`, computed once.
        key: The deployment key ``<env>/<name>`` (empty when loaded as a lone file).
    """

    manifest: Manifest
    path: Path
    content_hash: str
    key: str = ""

    @property
    def env(self) -> str:
        """The environment name (its folder)."""
        return self.manifest.environment

    @property
    def name(self) -> str:
        """The deployment's name in its environment (the file name without ``.yaml``)."""
        return self.key.split("/", 1)[1] if "/" in self.key else self.path.stem


def load_manifest(
    *, path: Path, env: str | None = None, rules: EnvironmentRules | None = None
) -> LoadedManifest:
    """Read and validate one manifest file ``<env>/<name>.yaml``.

    Its environment is ``env``, by default the name of the folder holding the file (never the
    file's own name); an ``environment`` field, if the file has one, must agree. ``rules`` are
    the environment's defaults (from ``environments.yaml``), filled into fields the file leaves
    out.

    Raises:
        ManifestError: The file is missing, unreadable, not YAML, empty, or invalid; every
            issue names the file, the field and the line.
    """
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ManifestError(
            [ManifestIssue(name, None, None, f"cannot read: {exc.strerror}")]
        ) from exc
    if len(raw) > _MAX_BYTES:
        raise ManifestError([ManifestIssue(name, None, None, "file is over 1 MB")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError([ManifestIssue(name, None, None, "file is not UTF-8 text")]) from exc
    env = env or path.resolve().parent.name
    return parse_manifest(
        text=text, source=name, expected_env=env, rules=rules, key=f"{env}/{path.stem}"
    )


def parse_manifest(
    *,
    text: str,
    source: str,
    expected_env: str | None = None,
    rules: EnvironmentRules | None = None,
    key: str = "",
) -> LoadedManifest:
    """Validate manifest text; ``source`` names it in messages (and is the result's ``path``).

    ``expected_env`` is the manifest's environment (its folder): the ``environment`` field
    may be left out (it is set to it) and, when given, must equal it. ``rules`` fill the
    fields the text leaves out (see :func:`load_manifest`); ``key`` is the result's key.

    Raises:
        ManifestError: See :func:`load_manifest` (texts over 1 MB are refused too).
    """
    document, plain = parse_document(text=text, source=source)
    written = plain.get("environment")
    if expected_env is not None and written is not None and written != expected_env:
        raise ManifestError(
            [
                ManifestIssue(
                    source,
                    "environment",
                    _line_of(document, ("environment",)),
                    f"is {written!r} but the file is in the {expected_env!r} environment's "
                    "folder; they must match (or leave the field out)",
                )
            ]
        )
    if expected_env is not None and written is None:
        plain["environment"] = expected_env
    if rules is not None:
        for field, value in rules.fills().items():
            if plain.get(field) is None:
                plain[field] = value
        promotion = plain.get("promotion")
        written_from = promotion.get("from") if isinstance(promotion, dict) else None
        if rules.promote_from is not None and written_from != rules.promote_from:
            line = _line_of(document, ("promotion",))
            raise ManifestError(
                [
                    ManifestIssue(
                        source,
                        "promotion.from",
                        line,
                        f"is {written_from!r}, but {rules.name or expected_env} takes versions "
                        f"from {rules.promote_from!r} (environments.yaml); leave it out",
                    )
                ]
            )
    try:
        manifest = Manifest.model_validate(plain)
    except ValidationError as exc:
        raise ManifestError(
            [_issue(error, root=document, source=source) for error in exc.errors()]
        ) from exc
    return LoadedManifest(
        manifest=manifest, path=Path(source), content_hash=manifest.content_hash(), key=key
    )


def parse_document(*, text: str, source: str) -> tuple[CommentedMap, dict[str, Any]]:
    """A YAML mapping (round-trip, for line numbers) and its plain values.

    Raises:
        ManifestError: Not YAML, empty, too deep, over 1 MB, or not a mapping.
    """
    if len(text) > _MAX_BYTES or len(text.encode("utf-8")) > _MAX_BYTES:
        raise ManifestError([ManifestIssue(source, None, None, "file is over 1 MB")])
    document = _parse_yaml(text=text, source=source)
    try:
        values = plain_values(document)
    except RecursionError as exc:
        raise ManifestError([ManifestIssue(source, None, None, "nesting is too deep")]) from exc
    assert isinstance(values, dict)
    return document, values


def validation_issues(
    error: ValidationError, *, root: CommentedMap, source: str, model: type[BaseModel]
) -> list[ManifestIssue]:
    """Every error of a validation as issues naming ``source``, the field and its line."""
    return [_issue(item, root=root, source=source, model=model) for item in error.errors()]


def _parse_yaml(*, text: str, source: str) -> CommentedMap:
    try:
        document = parse_yaml(text)
    except YamlLinesError as exc:
        raise ManifestError([ManifestIssue(source, None, exc.line, exc.message)]) from exc
    if document is None:
        raise ManifestError(
            [ManifestIssue(source, None, None, "file is empty; expected a manifest mapping")]
        )
    if not isinstance(document, CommentedMap):
        kind = "a list" if isinstance(document, list) else f"a {type(document).__name__} value"
        raise ManifestError(
            [ManifestIssue(source, None, 1, f"top level is {kind}; expected a mapping of fields")]
        )
    return document


def _issue(
    error: ErrorDetails,
    *,
    root: CommentedMap,
    source: str,
    model: type[BaseModel] = Manifest,
) -> ManifestIssue:
    loc = tuple(error["loc"])
    ctx = error.get("ctx") or {}
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        loc = (*loc, str(ctx.get("discriminator", "")).strip("'"))
    path, line = locate(root, loc, missing=error["type"] != "union_tag_invalid")
    field = _dotted(path) or None
    message = _message(error, loc=loc, model=model)
    return ManifestIssue(source, field, line, message)


def _line_of(root: CommentedMap, loc: Sequence[str | int]) -> int | None:
    return locate(root, loc)[1]


def _dotted(path: Iterable[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _message(
    error: ErrorDetails, *, loc: Sequence[str | int], model: type[BaseModel] = Manifest
) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "union_tag_invalid":
        return f"must be one of {ctx.get('expected_tags')} (got {ctx.get('tag')!r})"
    if kind == "union_tag_not_found":
        return "required field is missing"
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        allowed = _allowed_fields(loc[:-1], model=model)
        hint = ""
        if allowed:
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = (
                f" (did you mean {close[0]!r}?)" if close else f" (allowed: {', '.join(allowed)})"
            )
        return f"unknown field{hint}"
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    if kind != "value_error" and (value is None or isinstance(value, bool | int | float | str)):
        message += f" (got {value!r})"
    return message


def _allowed_fields(loc: Sequence[str | int], *, model: type[BaseModel] = Manifest) -> list[str]:
    """Field names of the model at ``loc`` (best effort, for "did you mean")."""
    candidates: list[type[BaseModel]] = [model]
    for part in loc:
        if isinstance(part, int):
            continue
        owners = [model for model in candidates if part in model.model_fields]
        if owners:
            candidates = [
                found
                for owner in owners
                for found in _models_in(owner.model_fields[part].annotation)
            ]
            continue
        tagged = [model for model in candidates if _has_tag(model, part)]
        if tagged:
            candidates = tagged
        # otherwise ``part`` is a dict key (a metric name): stay on the same models
    return sorted(candidates[0].model_fields) if len(candidates) == 1 else []


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Annotated:
        args = args[:1]
    return [model for arg in args for model in _models_in(arg)]


def _has_tag(model: type[BaseModel], tag: str) -> bool:
    return any(
        typing.get_origin(info.annotation) is typing.Literal
        and tag in typing.get_args(info.annotation)
        for info in model.model_fields.values()
    )


def dump_issues(error: ManifestError) -> list[dict[str, Any]]:
    """One ``{"file", "field", "line", "message"}`` dict per issue (for ``--format json``)."""
    return [
        {"file": i.file, "field": i.field, "line": i.line, "message": i.message}
        for i in error.issues
    ]
