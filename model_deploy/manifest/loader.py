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
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from model_deploy.errors import ManifestError, ManifestIssue
from model_deploy.manifest.model import Manifest

if typing.TYPE_CHECKING:
    from model_deploy.manifest.environments import EnvironmentRules

_MAX_BYTES = 1_000_000
_MAX_DEPTH = 64


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
        plain = _plain(document)
    except RecursionError as exc:
        raise ManifestError([ManifestIssue(source, None, None, "nesting is too deep")]) from exc
    assert isinstance(plain, dict)
    return document, plain


def validation_issues(
    error: ValidationError, *, root: CommentedMap, source: str, model: type[BaseModel]
) -> list[ManifestIssue]:
    """Every error of a validation as issues naming ``source``, the field and its line."""
    return [_issue(item, root=root, source=source, model=model) for item in error.errors()]


def _too_deep(text: str) -> bool:
    """Whether brackets or indentation nest deeper than any manifest needs (parsing would crawl)."""
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(0, depth - 1)
    indent = max((len(line) - len(line.lstrip(" ")) for line in text.splitlines()), default=0)
    return deepest > _MAX_DEPTH or indent > 2 * _MAX_DEPTH


def _parse_yaml(*, text: str, source: str) -> CommentedMap:
    if _too_deep(text):
        issue = ManifestIssue(source, None, None, f"nesting is deeper than {_MAX_DEPTH} levels")
        raise ManifestError([issue])
    yaml = YAML(typ="rt")
    try:
        document = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ManifestError(
            [ManifestIssue(source, None, line, f"YAML syntax error: {problem}")]
        ) from exc
    except (YAMLError, RecursionError, ValueError, TypeError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ManifestError([ManifestIssue(source, None, None, f"YAML error: {detail}")]) from exc
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


def _plain(node: object) -> object:
    """Turn ruamel round-trip nodes into plain Python values (no int-subclass booleans)."""
    if isinstance(node, CommentedMap):
        return {_plain_key(key): _plain(value) for key, value in node.items()}
    if isinstance(node, CommentedSeq | list | tuple):
        return [_plain(item) for item in node]
    if isinstance(node, TaggedScalar):
        return node.value
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, datetime):
        return datetime(
            node.year, node.month, node.day, node.hour, node.minute, node.second,
            node.microsecond, tzinfo=node.tzinfo,
        )  # fmt: skip
    if isinstance(node, date):
        return date(node.year, node.month, node.day)
    return str(node)


def plain_yaml(node: object) -> object:
    """A ruamel round-trip document as plain Python values (what the manifest model validates)."""
    return _plain(node)


def _plain_key(key: object) -> object:
    value = _plain(key)
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


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
    path, line = _locate(root, loc, missing=error["type"] != "union_tag_invalid")
    field = _dotted(path) or None
    message = _message(error, loc=loc, model=model)
    return ManifestIssue(source, field, line, message)


def _locate(
    root: CommentedMap, loc: Sequence[str | int], *, missing: bool
) -> tuple[list[str | int], int | None]:
    """Follow a pydantic error location through the YAML tree.

    Parts that are not keys of the YAML (discriminated-union tags) are skipped; a missing field's
    name is kept and the line is its parent's.
    """
    node: object = root
    path: list[str | int] = []
    line: int | None = None
    for position, part in enumerate(loc):
        if isinstance(node, CommentedMap) and _has_key(node, part):
            key = _find_key(node, part)
            line = node.lc.key(key)[0] + 1
            path.append(part)
            node = node[key]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            line = node.lc.item(part)[0] + 1
            path.append(part)
            node = node[part]
        elif part == "[key]":
            continue
        elif missing and position == len(loc) - 1:
            path.append(part)
            if line is None and isinstance(node, CommentedMap):
                line = node.lc.line + 1
    return path, line


def _has_key(node: CommentedMap, part: str | int) -> bool:
    try:
        return _find_key(node, part) is not None
    except KeyError:
        return False


def _find_key(node: CommentedMap, part: str | int) -> object:
    for key in node:
        if key == part or str(_plain_key(key)) == str(part):
            return key
    raise KeyError(part)


def _line_of(root: CommentedMap, loc: Sequence[str | int]) -> int | None:
    return _locate(root, loc, missing=False)[1]


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
