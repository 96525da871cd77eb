"""What ``slipway monitor`` looks at for each deployment: manifest, version, capture, labels.

A deployment is one manifest ``model_deploy/environments/<env>/<name>.yaml`` (the folder is
``SLIPWAY_DEPLOY_MANIFESTS_DIR``), selected the way ``slipway deploy`` selects them
(:meth:`model_deploy.service.Deployer.select`). The version monitored is the one that serves:
the last successful deployment in the deploy history (``apply`` or ``rollback``, from the
state store), else the manifest's ``model:`` (the desired state, which a converged deployment
serves). When the two differ (a deployment in progress, a rollback not yet reverted in git)
the run says so in a warning.

Where the capture is:

* a **local** target: the router of the deployment writes SageMaker's layout under
  ``<SLIPWAY_DEPLOY_STATE_DIR>/<env>/<name>/capture/`` (endpoint ``<env>-<name>``, variant
  ``AllTraffic``); every ``<endpoint>/<variant>/yyyy/mm/dd/hh/`` folder there is read;
* a **SageMaker** target: ``data_capture.destination`` (an ``s3://`` prefix), in SageMaker's
  layout ``<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl``.

Ground truth is kept per endpoint: ``<ground-truth root>/<endpoint>/yyyy/mm/dd/hh/*.jsonl``,
the endpoint being the SageMaker endpoint name, or ``<env>-<name>`` for a local target.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from model_deploy.manifest.model import Manifest, ModelRef, SageMakerTargetSpec
from model_deploy.manifest.sources import split_key

if TYPE_CHECKING:
    from model_deploy.service import Deployer

CAPTURE_FOLDER = "capture"


@dataclass(frozen=True)
class CaptureSource:
    """Where one deployment's captured requests are.

    Attributes:
        kind: ``local`` (files on this machine) or ``s3``.
        destination: The capture root: a folder (local) or an ``s3://`` prefix.
        endpoint: First folder of SageMaker's layout under ``destination``.
        variant: Second folder (the production variant).
    """

    kind: Literal["local", "s3"]
    destination: str
    endpoint: str
    variant: str

    def describe(self) -> str:
        """Where the capture is, in a few words."""
        if self.kind == "s3":
            return f"{self.destination.rstrip('/')}/{self.endpoint}/{self.variant}/"
        return self.destination


@dataclass(frozen=True)
class MonitoredDeployment:
    """One deployment as ``slipway monitor`` sees it.

    Attributes:
        key: ``<env>/<name>``.
        env: The environment.
        model: The manifest's name (its file name): the ``--model`` it answers to.
        manifest: The validated manifest.
        capture: Where its capture is.
        endpoint: Its ground-truth folder name.
        served: The version serving per the deploy history (None: the manifest's is used).
        notes: What the run must say about the version (history unreadable, or it differs
            from the manifest's).
    """

    key: str
    env: str
    model: str
    manifest: Manifest
    capture: CaptureSource
    endpoint: str
    served: ModelRef | None = None
    notes: tuple[str, ...] = ()

    @property
    def ref(self) -> ModelRef | None:
        """The version monitored (None: nothing deployed)."""
        return self.served or self.manifest.model

    @property
    def version(self) -> str | None:
        """``<name>:<version>`` of the version monitored."""
        return None if self.ref is None else self.ref.ref


def select_deployments(
    deployer: Deployer, env: str, *, model: str | None = None
) -> list[MonitoredDeployment]:
    """The deployments ``env`` (and ``model``) mean, each with its capture and endpoint.

    Raises:
        ManifestError: The environment is not declared, has no manifest, or has none of
            ``model``; or a manifest is invalid.
    """
    from model_deploy.errors import ManifestError, ManifestIssue

    keys = deployer.select(env, model=model)
    if not keys:
        raise ManifestError([ManifestIssue(env, None, None, f"{env} has no manifest")])
    found = []
    for key in keys:
        manifest = deployer.manifests.load(key).manifest
        plain = deployment_of(key, manifest, state_dir=deployer.state_dir)
        served, notes = served_version(deployer, key, manifest.model)
        found.append(replace(plain, served=served, notes=notes))
    return found


def served_version(
    deployer: Deployer, key: str, desired: ModelRef | None
) -> tuple[ModelRef | None, tuple[str, ...]]:
    """The version the deploy history says serves (None: use ``desired``), and notes.

    A history that cannot be read is a note, not an error (the manifest's version is used).
    """
    from foundation.errors import SlipwayError

    try:
        history = deployer.store.read_history(key)
    except SlipwayError as exc:
        return None, (f"deploy history not read ({exc}): monitoring the manifest's version",)
    last = next((r for r in reversed(history.records) if r.outcome == "succeeded"), None)
    if last is None or desired is None:
        return None, ()
    if last.action == "teardown" or last.version is None:
        return None, (f"the last deployment of {key} tore it down; monitoring {desired.ref}",)
    name = (last.model_ref or desired.ref).partition(":")[0]
    if (name, last.version) == (desired.name, desired.version):
        return None, ()
    served = desired.model_copy(update={"name": name, "version": last.version})
    note = (
        f"{served.ref} serves (last deployment {last.at:%Y-%m-%d %H:%M} UTC), the manifest "
        f"names {desired.ref}: monitoring {served.ref}"
    )
    return served, (note,)


def deployment_of(key: str, manifest: Manifest, *, state_dir: Path) -> MonitoredDeployment:
    """The monitored view of one loaded manifest (``state_dir``: the deploy state root)."""
    env, name = split_key(key)
    model = name or (manifest.model.name if manifest.model else env)
    target = manifest.target
    if isinstance(target, SageMakerTargetSpec):
        capture = CaptureSource(
            kind="s3" if (manifest.data_capture.destination or "").startswith("s3://") else "local",
            destination=manifest.data_capture.destination or "",
            endpoint=target.endpoint_name,
            variant=target.variant_name,
        )
        endpoint = target.endpoint_name
    else:
        root = state_dir / env / model / CAPTURE_FOLDER
        endpoint = f"{env}-{model}"
        capture = CaptureSource(
            kind="local",
            destination=str(root),
            endpoint=endpoint,
            variant="AllTraffic",
        )
    return MonitoredDeployment(key, env, model, manifest, capture, endpoint)
