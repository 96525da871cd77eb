"""The manifest JSON Schema checked into the repo (``model_deploy/manifest.schema.json``).

Editors validate manifests with it (``# yaml-language-server: $schema=...``); a test keeps it
in sync with the pydantic models. Regenerate with ``python -m model_deploy.manifest.schema``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from model_deploy.manifest.model import Manifest

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "manifest.schema.json"
SCHEMA_ID = "https://slipway.dev/schemas/model-deploy/manifest.schema.json"


def manifest_json_schema() -> dict[str, Any]:
    """The JSON Schema of :class:`Manifest` (validation mode), with ``$schema`` and ``$id``."""
    schema = Manifest.model_json_schema(mode="validation")
    # The loader sets ``environment`` from the manifest's folder: files may leave it out.
    schema["required"] = [name for name in schema.get("required", []) if name != "environment"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
    }


def render_schema() -> str:
    """The schema file's exact text (sorted keys, 2-space indent, trailing newline)."""
    return json.dumps(manifest_json_schema(), indent=2, sort_keys=True) + "\n"


def write_schema(*, path: Path = SCHEMA_PATH) -> Path:
    """Write the schema file to ``path`` and return that path."""
    path.write_text(render_schema(), encoding="utf-8")
    return path


if __name__ == "__main__":  # pragma: no cover - developer entry point
    print(write_schema())
