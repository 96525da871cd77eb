"""The model folders of a repository: ``<models dir>/<name>/model.yaml``, found by name or path.

``slipway build run`` with no ``--model`` builds every folder; ``--model NAME`` picks
``<models dir>/NAME``; ``--model PATH`` takes a model folder or its ``model.yaml`` anywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from model_build.definition.loader import MODEL_FILE, DefinitionError, DefinitionIssue

MODELS_DIR: Final = Path(__file__).resolve().parents[1] / "models"
"""The checked-in model folders, ``model_build/models/``."""


def model_folders(*, root: Path = MODELS_DIR) -> list[Path]:
    """Every model folder under ``root`` (a folder holding ``model.yaml``), sorted by name."""
    if not root.is_dir():
        return []
    return sorted(
        entry
        for entry in root.iterdir()
        if entry.is_dir()
        and not entry.name.startswith((".", "_"))
        and (entry / MODEL_FILE).is_file()
    )


def find_models(selectors: list[str] | None = None, *, root: Path = MODELS_DIR) -> list[Path]:
    """The ``model.yaml`` files to build: every model under ``root`` when ``selectors`` is empty.

    A selector is a model name (a folder of ``root``) or a path to a model folder or a
    ``model.yaml``. Duplicates are dropped, order kept.

    Raises:
        DefinitionError: A selector names no model (the message lists the known ones), or
            there is no model at all.
    """
    if not selectors:
        found = [folder / MODEL_FILE for folder in model_folders(root=root)]
        if not found:
            issue = DefinitionIssue(
                str(root), None, None, f"no model folders (<name>/{MODEL_FILE})"
            )
            raise DefinitionError([issue])
        return found
    files: list[Path] = []
    for selector in selectors:
        files.append(_resolve(selector, root=root))
    return list(dict.fromkeys(files))


def _resolve(selector: str, *, root: Path) -> Path:
    path = Path(selector)
    if path.is_file():
        return path
    if (path / MODEL_FILE).is_file():
        return path / MODEL_FILE
    if "/" not in selector and (root / selector / MODEL_FILE).is_file():
        return root / selector / MODEL_FILE
    known = ", ".join(folder.name for folder in model_folders(root=root)) or "none"
    message = (
        f"no model {selector!r} (no {MODEL_FILE} there or in {root}/{selector}); known: {known}"
    )
    raise DefinitionError([DefinitionIssue(selector, None, None, message)])
