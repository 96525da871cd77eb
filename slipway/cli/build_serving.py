"""What ``slipway build`` gates against, and how its warnings are said.

:func:`serving_from_manifest` finds the version of a model serving in an environment (prod by
default, :func:`default_serving_folder`) from that environment's manifest of the model,
whatever its file name, with ``model_deploy``'s loader; the build never parses manifests.
:func:`say_serving` and :func:`say_warning` print to stderr (stdout stays for JSON) and never
wrap a line, so a long path in a warning stays whole. Only the standard library is imported
at start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from model_build.pipeline.serving import ServingModel
    from model_build.pipeline.steps.gate import NoServingModel
    from model_build.registry.protocol import ModelRegistry

SERVING_ENV = "prod"
"""The environment whose serving version the gate compares with by default."""


def serving_from_manifest(
    *, registry: ModelRegistry, model_name: str, manifest: Path, compare: bool = True
) -> ServingModel | NoServingModel:
    """The version of ``model_name`` serving in the environment ``manifest`` stands for.

    ``manifest`` is an environment folder ``<manifests dir>/<env>`` (or a manifest file in
    it: its folder counts). The model's manifest there is found by
    ``model_deploy.manifest.sources.serving_manifest``: ``<env>/<model_name>.yaml``, else the
    manifest of ``<env>`` whose ``model.name`` is ``model_name``, whatever its file name; it
    is validated with the environment's rules like any deploy. No such folder, or no manifest
    of the model in it, is a :class:`NoServingModel` with a warning (the gate then runs its
    absolute checks only); ``model: null`` (nothing deployed yet) and ``compare=False`` are
    one without.

    Raises:
        ManifestError: The manifest or the environments file is invalid, or the folder is not
            a declared environment.
        PipelineError: It names a version the registry lacks.
    """
    from model_build.pipeline.serving import find_serving
    from model_build.pipeline.steps.gate import NoServingModel
    from model_deploy.manifest.sources import serving_manifest

    absolute = "the gate applies its absolute thresholds only"
    folder = manifest if manifest.is_dir() or manifest.suffix != ".yaml" else manifest.parent
    env = folder.name
    if not compare:
        return NoServingModel(reason=f"comparison with {env} is off; {absolute}")
    if not folder.is_dir() or (folder == manifest.parent and not manifest.is_file()):
        return NoServingModel(
            reason=f"{manifest} not found: no {env} version to compare with; {absolute}",
            warning=True,
        )
    loaded = serving_manifest(env, model_name, manifests_dir=folder.parent)
    if loaded is None:
        return NoServingModel(
            reason=f"{folder} has no manifest of {model_name}: no {env} version to compare "
            f"with; {absolute}",
            warning=True,
        )
    source = str(loaded.path)
    serving = loaded.manifest.model
    if serving is None:
        return NoServingModel(reason=f"{loaded.env} serves no model yet ({source}); {absolute}")
    if serving.name != model_name:
        return NoServingModel(
            reason=f"{source} serves model {serving.name!r}, not {model_name!r}; {absolute}",
            warning=True,
        )
    return find_serving(
        registry=registry,
        model_name=model_name,
        version=serving.version,
        environment=loaded.env,
        source=source,
    )


def default_serving_folder() -> Path:
    """``<SLIPWAY_DEPLOY_MANIFESTS_DIR>/prod``: the deploy settings' prod folder."""
    from foundation.settings import load_settings
    from model_deploy.settings import DeploySettings

    return load_settings(DeploySettings).deploy_manifests_dir / SERVING_ENV


def say_serving(serving: ServingModel | NoServingModel) -> None:
    """One line on what the gate compares with (a warning when it is a fallback)."""
    from rich.text import Text

    from model_build.pipeline.serving import ServingModel

    if isinstance(serving, ServingModel):
        where = f"Serving in {serving.environment}: "
        line = Text.assemble(where, (serving.version.ref, "bold"), f" (from {serving.source})")
    else:
        if serving.warning:
            say_warning(serving.reason)
            return
        line = Text(serving.reason, style="dim")
    console().print(line, highlight=False, soft_wrap=True)


def say_warning(line: str) -> None:
    """``warning: <line>`` on stderr, never wrapped: a path in it stays whole (and greppable)."""
    from rich.text import Text

    text = Text.assemble(("warning: ", "bold yellow"), line)
    console().print(text, highlight=False, soft_wrap=True)


def console() -> Any:
    """The console every progress and result line goes to: stderr (stdout stays for JSON)."""
    from rich.console import Console

    return Console(stderr=True)
