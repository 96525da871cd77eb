"""Step 2 of a promotion: set the manifest's ``model`` block, changing nothing else.

The manifest is parsed with ruamel.yaml's round-trip loader, which knows the line and column
of every key and value; the edit is then spliced into the original text. (Dumping the
round-trip tree back would move the comments that follow ``model: null`` or the last key of
the block.) The result is verified: it must parse, everything but ``model`` must be equal to
before, and ``model`` must be exactly the requested block. So a promotion diff is the changed
value lines only: inline comments, blank lines, quoting and key order all stay.
"""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from ci.errors import ManifestEditError
from model_deploy.manifest.model import ModelRef

FIELDS = ("registry", "name", "version", "feature_service")
_SCALAR = re.compile(r"""("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"][^\s#]*)(?P<rest>\s*(#.*)?)$""")


def set_model(text: str, model: ModelRef | None, *, source: str) -> str:
    """Return ``text`` with its top-level ``model`` set to ``model`` (None: ``model: null``).

    Args:
        model: The model block to write, or None for "nothing deployed".
        source: File name for messages.

    Returns:
        The new text (``text`` itself when nothing changes).

    Raises:
        ManifestEditError: The YAML does not parse, has no top-level ``model`` key, or the
            edit could not be verified.
    """
    doc = _load(text, source)
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += newline
    value = doc["model"]
    key_line, key_col = doc.lc.key("model")
    if model is None:
        if value is None:
            return text
        end = _block_end(doc, value)
        lines[key_line : end + 1] = [" " * key_col + "model: null" + newline]
    elif isinstance(value, CommentedMap) and not value.fa.flow_style() and _plain_block(value):
        _edit_fields(lines, value, model, newline=newline)
    else:
        end = _block_end(doc, value)
        comment = _inline_comment(lines[key_line]) if end == key_line else ""
        child = key_col + _indent_step(doc)
        block = [" " * key_col + "model:" + (f"  {comment}" if comment else "") + newline]
        block += [f"{' ' * child}{name}: {getattr(model, name)}{newline}" for name in FIELDS]
        lines[key_line : end + 1] = block
    result = "".join(lines)
    if not text.endswith(("\n", "\r")):
        result = result.rstrip("\r\n")
    _verify(text, result, model, source)
    return result


def _load(text: str, source: str) -> CommentedMap:
    try:
        doc = YAML(typ="rt").load(text)
    except YAMLError as exc:
        raise ManifestEditError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(doc, CommentedMap) or "model" not in doc:
        raise ManifestEditError(f"{source}: no top-level `model` key to edit")
    return doc


def _plain_block(value: CommentedMap) -> bool:
    """Whether every key of the block sits on its own line with a one-line scalar value."""
    rows = [value.lc.key(key)[0] for key in value]
    return all(
        not isinstance(value[key], dict | list) and value.lc.value(key)[0] == value.lc.key(key)[0]
        for key in value
    ) and len(set(rows)) == len(rows)


def _block_end(doc: CommentedMap, value: Any) -> int:
    """Last line (0-based) holding the ``model`` value."""
    if isinstance(value, CommentedMap) and len(value) and not value.fa.flow_style():
        last = list(value)[-1]
        return int(value.lc.value(last)[0])
    return int(doc.lc.value("model")[0])


def _edit_fields(lines: list[str], value: CommentedMap, model: ModelRef, *, newline: str) -> None:
    keys = list(value)
    child = int(value.lc.key(keys[0])[1])
    inserts: list[str] = []
    for name in FIELDS:
        wanted = getattr(model, name)
        if name not in value:
            if not (name == "registry" and wanted == "local"):  # the default needs no line
                inserts.append(f"{' ' * child}{name}: {wanted}{newline}")
            continue
        if value[name] == wanted and type(value[name]) is type(wanted):
            continue
        row, col = value.lc.value(name)
        line = lines[row]
        ending = newline if line.endswith(("\n", "\r")) else ""
        body = line.rstrip("\r\n")
        match = _SCALAR.match(body, col)
        if match is None:
            raise ManifestEditError(f"cannot edit model.{name} on line {row + 1}: {body.strip()}")
        old = match.group(1)
        new = str(wanted)
        rest = match.group("rest")
        if rest.strip():  # keep an aligned inline comment in its column
            pad = max(1, len(old) + len(rest) - len(rest.lstrip()) - len(new))
            rest = " " * pad + rest.lstrip()
        lines[row] = body[:col] + new + rest + ending
    if inserts:
        last = int(value.lc.value(keys[-1])[0])
        lines[last + 1 : last + 1] = inserts


def _inline_comment(line: str) -> str:
    match = re.search(r"\s(#.*)$", line.rstrip("\r\n"))
    return match.group(1) if match else ""


def _indent_step(doc: CommentedMap) -> int:
    for key in doc:
        child = doc[key]
        if isinstance(child, CommentedMap) and len(child) and not child.fa.flow_style():
            step = int(child.lc.key(next(iter(child)))[1]) - int(doc.lc.key(key)[1])
            if step > 0:
                return step
    return 2


def _plain(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(StringIO(text))


def _verify(before: str, after: str, model: ModelRef | None, source: str) -> None:
    try:
        old, new = _plain(before), _plain(after)
    except YAMLError as exc:
        raise ManifestEditError(f"{source}: the edit produced invalid YAML ({exc})") from exc
    if not isinstance(new, dict) or {k: v for k, v in old.items() if k != "model"} != {
        k: v for k, v in new.items() if k != "model"
    }:
        raise ManifestEditError(f"{source}: the edit changed more than the model block")
    written = new.get("model")
    if model is None:
        ok = written is None
    else:
        ok = isinstance(written, dict) and ModelRef.model_validate(written) == model
    if not ok:
        raise ManifestEditError(f"{source}: the model block did not come out as intended")
