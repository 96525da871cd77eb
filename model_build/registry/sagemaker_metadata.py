"""Lineage in SageMaker ``CustomerMetadataProperties``, within the API's limits.

The API allows at most 50 entries; keys of 1-128 and values of 1-256 characters drawn from
letters, digits, spaces and ``_.:/=+-@`` (moto checks none of this, real SageMaker does). So a
field whose text fits those rules is stored as ``slipway.<field>``; any other text (JSON, text
longer than 256 characters or with other characters) is base64-encoded, whose alphabet is allowed,
and split into 256-character chunks ``slipway.<field>.b64.0``, ``.1``, ... Empty fields are left
out. When the entries do not fit in 50, the metrics are left to the statistics document on S3,
then features, params and description move to a lineage document on S3 (``slipway.lineage_uri``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from model_build.errors import RegistryError
from model_build.registry.protocol import NewVersion

MAX_ENTRIES = 50
MAX_KEY_CHARS = 128
MAX_VALUE_CHARS = 256
PREFIX = "slipway."
FORMAT_KEY = f"{PREFIX}format"
FORMAT = "1"
#: Fields that identify a version; always kept in the properties.
CORE_FIELDS = (
    "model_name", "task", "artifact_digest", "git_sha", "data_hash", "feature_service", "run_id",
    "tracking",
)  # fmt: skip
#: Fields that may move to a lineage document on S3 when the properties run out of room.
BULK_FIELDS = ("features", "params", "description", "bias")
METRICS_FIELD = "metrics"
LINEAGE_URI_FIELD = "lineage_uri"
_EXTRA_CHARS = frozenset("_.:/=+-@")
_CHUNK = re.compile(r"^(?P<field>[a-z_]+)\.b64\.(?P<index>\d+)$")
_GROUP_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_GROUP_MARK = "Slipway model "


def is_plain(text: str) -> bool:
    """Whether ``text`` can be a metadata value as it is (1-256 allowed characters)."""
    if not 1 <= len(text) <= MAX_VALUE_CHARS:
        return False
    return all(ch in _EXTRA_CHARS or unicodedata.category(ch)[0] in ("L", "N", "Z") for ch in text)


def version_fields(new: NewVersion) -> dict[str, str]:
    """Every field of a new version as text (JSON for lists, dicts, metrics), core fields first."""
    return {
        "model_name": new.model_name,
        "task": str(new.task),
        "artifact_digest": new.artifact_digest,
        "git_sha": new.git_sha,
        "data_hash": new.data_hash,
        "feature_service": new.feature_service,
        "run_id": new.run_id,
        "features": json.dumps(new.features),
        "params": json.dumps(new.params, allow_nan=False),
        "description": new.description,
        "tracking": new.tracking.model_dump_json() if new.tracking else "",
        "bias": new.bias.model_dump_json() if new.bias else "",
        METRICS_FIELD: json.dumps(new.metrics, allow_nan=False),
    }


def encode_properties(fields: Mapping[str, str]) -> dict[str, str]:
    """Encode fields as metadata properties (plain, or base64 chunks), plus a format marker.

    Field names are lowercase letters and ``_``. The result may exceed ``MAX_ENTRIES`` (the
    caller decides what to move out).
    """
    props = {FORMAT_KEY: FORMAT}
    for name, text in fields.items():
        if not text:
            continue
        if is_plain(text):
            props[f"{PREFIX}{name}"] = text
            continue
        encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
        for index, start in enumerate(range(0, len(encoded), MAX_VALUE_CHARS)):
            props[f"{PREFIX}{name}.b64.{index}"] = encoded[start : start + MAX_VALUE_CHARS]
    return props


def decode_properties(props: Mapping[str, str]) -> dict[str, str]:
    """Reassemble the fields :func:`encode_properties` wrote into ``CustomerMetadataProperties``.

    Fields that were empty are absent.

    Raises:
        RegistryError: Chunks are missing or not valid base64.
    """
    fields: dict[str, str] = {}
    chunks: dict[str, dict[int, str]] = {}
    for key, value in props.items():
        if not key.startswith(PREFIX) or key == FORMAT_KEY:
            continue
        name = key[len(PREFIX) :]
        match = _CHUNK.match(name)
        if match is None:
            fields[name] = value
        else:
            chunks.setdefault(match["field"], {})[int(match["index"])] = value
    for name, parts in chunks.items():
        if sorted(parts) != list(range(len(parts))):
            raise RegistryError(f"metadata field {name!r}: chunks missing: have {sorted(parts)}")
        encoded = "".join(parts[index] for index in range(len(parts)))
        try:
            fields[name] = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise RegistryError(f"metadata field {name!r}: not valid base64: {exc}") from exc
    return fields


def check_limits(props: Mapping[str, str]) -> None:
    """Check properties against the SageMaker API limits.

    Raises:
        RegistryError: Too many entries, or a key or value out of bounds.
    """
    if len(props) > MAX_ENTRIES:
        raise RegistryError(
            f"lineage needs {len(props)} metadata entries, SageMaker allows {MAX_ENTRIES}"
        )
    for key, value in props.items():
        if len(key) > MAX_KEY_CHARS or not is_plain(key) or not is_plain(value):
            raise RegistryError(f"metadata entry {key!r} breaks the SageMaker key/value rules")


def sanitize_text(text: str, *, limit: int = 1024, allow_symbols: bool = True) -> str:
    """Make free text acceptable to a SageMaker description field (lossy).

    Control and other disallowed characters become spaces (punctuation and symbols stay with
    ``allow_symbols``, as descriptions allow them), and the text is cut to ``limit``.
    """
    allowed = ("L", "M", "Z", "S", "N", "P") if allow_symbols else ("L", "N", "Z")
    cleaned = "".join(ch if unicodedata.category(ch)[0] in allowed else " " for ch in text)
    return cleaned[:limit]


def group_name(model_name: str) -> str:
    """The SageMaker model package group holding a model (``_`` becomes ``-``).

    Raises:
        RegistryError: The name cannot be a group name (e.g. it ends with ``_``).
    """
    group = model_name.replace("_", "-")
    if len(group) > 63 or not _GROUP_NAME.match(group):
        raise RegistryError(
            f"model name {model_name!r} cannot be a SageMaker model package group name "
            "(letters, digits, '-' and '_', not ending with '-' or '_', at most 63 characters)"
        )
    return group


def group_description(model_name: str) -> str:
    """The description of a group Slipway creates; it records the model name."""
    return f"{_GROUP_MARK}{model_name}"


def is_slipway_group(group: Mapping[str, Any]) -> bool:
    """Whether a group (description or summary) was created by Slipway."""
    return str(group.get("ModelPackageGroupDescription") or "").startswith(_GROUP_MARK)


def owner_of_group(group: Mapping[str, Any]) -> str | None:
    """The model a group holds: the name in Slipway's description, else the group name."""
    if is_slipway_group(group):
        return str(group["ModelPackageGroupDescription"])[len(_GROUP_MARK) :].strip()
    name = group.get("ModelPackageGroupName")
    return str(name) if name else None
