"""This project's own checks, with Slipway's real loaders: no server, a few seconds.

* every model folder's ``model.yaml`` is a valid definition named after its folder;
* every manifest is valid under its environment's rules, and no two share a local port;
* every model reads a feature service and an entity source the feature repo defines;
* the example data has exactly the columns each expectation suite expects.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from model_build.definition.catalog import model_folders
from model_build.definition.loader import load_definition
from model_deploy.manifest.sources import ManifestFolder, conflicts

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "model_build" / "models"
MANIFESTS = ROOT / "model_deploy" / "environments"
REPO = ROOT / "feature_repo"


def _names_in_definitions() -> set[str]:
    """The ``name=`` keyword of every call in feature_repo/definitions.py (no Feast import)."""
    tree = ast.parse((REPO / "definitions.py").read_text(encoding="utf-8"))
    return {
        keyword.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for keyword in node.keywords
        if keyword.arg == "name"
        and isinstance(keyword.value, ast.Constant)
        and isinstance(keyword.value.value, str)
    }


def test_there_is_a_model() -> None:
    """The project has at least one model folder."""
    assert model_folders(root=MODELS), f"no model folder under {MODELS}"


@pytest.mark.parametrize("folder", model_folders(root=MODELS), ids=lambda p: p.name)
def test_model_definition_loads_and_names_what_the_repo_defines(folder: Path) -> None:
    """The definition loads; its feature service and entity source are in the repo."""
    definition = load_definition(path=folder)
    known = _names_in_definitions()
    assert definition.model.feature_service in known
    assert definition.data.entity_source in known


def test_every_model_has_a_manifest_in_every_environment() -> None:
    """Each model has <env>/<model>.yaml in every declared environment."""
    source = ManifestFolder(MANIFESTS)
    environments = source.environments().names
    keys = set(source.names())
    missing = [
        f"{env}/{folder.name}"
        for folder in model_folders(root=MODELS)
        for env in environments
        if f"{env}/{folder.name}" not in keys
    ]
    assert missing == []


def test_every_manifest_is_valid_and_ports_do_not_clash() -> None:
    """Every manifest loads under its environment's rules; no two share a local port."""
    source = ManifestFolder(MANIFESTS)
    for key in source.names():
        source.load(key)  # raises ManifestError naming file, field and line
        assert conflicts(source, key) == [], key


def test_example_data_matches_the_suites(tmp_path: Path) -> None:
    """The generator writes each suite's columns, and rows."""
    script = ROOT / "scripts" / "generate_data.py"
    end = "2026-01-31T00:00:00Z"
    subprocess.run(
        [sys.executable, str(script), "--end", end, "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    for suite_path in sorted((REPO / "expectations").glob("*.json")):
        suite = json.loads(suite_path.read_text(encoding="utf-8"))
        columns = next(
            e["kwargs"]["column_set"]
            for e in suite["expectations"]
            if e["type"] == "expect_table_columns_to_match_set"
        )
        frame = pd.read_parquet(tmp_path / f"{suite['name']}.parquet")
        assert sorted(frame.columns) == sorted(columns), suite_path.name
        assert len(frame) > 0
