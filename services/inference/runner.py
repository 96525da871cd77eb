"""Run the inference server: as a local background process or as a SageMaker BYOC container.

Two ways to start it (``python -m services.inference ...``):

* ``--bundle DIR [--host 127.0.0.1] [--port 8080] [--model-ref REF]``: serve a bundle folder
  (what a local deploy target starts as a background process).
* ``serve``: SageMaker's container contract (``docker run <image> serve``). The model is read
  from ``/opt/ml/model`` (the bundle files, or a ``model.tar.gz`` that is unpacked first); the
  server listens on ``0.0.0.0`` and port ``SAGEMAKER_BIND_TO_PORT`` (default 8080). Optional
  environment: ``SAGEMAKER_MAX_PAYLOAD_IN_MB`` (body limit), ``SLIPWAY_MODEL_REF`` (model ref).

Data capture (off by default, either mode): ``--capture-dir DIR`` or ``SLIPWAY_CAPTURE_DIR``
turns it on; ``--capture-percent`` / ``SLIPWAY_CAPTURE_PERCENT`` (default 100),
``--endpoint-name`` / ``SLIPWAY_CAPTURE_ENDPOINT_NAME`` (default ``local``) and
``--variant-name`` / ``SLIPWAY_CAPTURE_VARIANT_NAME`` (default ``AllTraffic``) shape it (see
:mod:`services.inference.settings`).

One uvicorn worker, no access log. Loading problems are reported as one line and exit code 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from foundation.errors import SlipwayError
from model_bundle.bundle import META_FILE, BundleError, unpack_bundle
from services.errors import ServerConfigError
from services.inference.server import DEFAULT_MAX_BODY_BYTES, create_inference_app
from services.inference.settings import CaptureSettings, load_capture_settings

if TYPE_CHECKING:
    from model_monitor.writer import CaptureWriter

SAGEMAKER_MODEL_DIR: Final = Path("/opt/ml/model")
SAGEMAKER_ARCHIVE: Final = "model.tar.gz"
SAGEMAKER_PORT: Final = 8080
ALL_INTERFACES: Final = "0.0.0.0"  # noqa: S104 - a SageMaker container must listen on all interfaces
LOCAL_HOST: Final = "127.0.0.1"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeOptions:
    """Everything needed to start the server.

    Attributes:
        bundle_dir: The bundle folder.
        host: Interface to bind.
        port: TCP port.
        model_ref: Model reference shown to callers.
        max_body_bytes: Largest accepted request body.
    """

    bundle_dir: Path
    host: str
    port: int
    model_ref: str = ""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES


def serve_model(
    *,
    bundle_dir: Path,
    host: str,
    port: int,
    model_ref: str = "",
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    log_level: str = "info",
    capture: CaptureSettings | None = None,
) -> None:
    """Load a bundle and serve it with uvicorn until interrupted (SIGINT/SIGTERM).

    Args:
        bundle_dir: Folder holding ``model.joblib`` and ``bundle.json``.
        host: Interface to bind, e.g. ``127.0.0.1``.
        port: TCP port.
        model_ref: Model reference shown to callers, e.g. ``driver_ranking:3``.
        max_body_bytes: Largest accepted request body (413 above it).
        log_level: uvicorn log level.
        capture: Data capture settings (None or no folder: no capture).

    Raises:
        BundleError: The bundle is missing, unreadable or unusable (raised before binding).
        ServerConfigError: ``max_body_bytes`` is not positive.
        CaptureError: A capture setting is invalid.
    """
    import uvicorn

    writer = capture_writer(capture)
    try:
        app = create_inference_app(
            bundle_dir=bundle_dir,
            model_ref=model_ref,
            max_body_bytes=max_body_bytes,
            capture=writer,
        )
    except BaseException:
        if writer is not None:
            writer.close()
        raise
    uvicorn.run(
        app,
        host=host,
        port=port,
        workers=1,
        access_log=False,
        log_level=log_level,
        server_header=False,
    )


def capture_writer(settings: CaptureSettings | None) -> CaptureWriter | None:
    """Start the capture writer the settings ask for (None when capture is off).

    Raises:
        CaptureError: A capture setting is invalid.
    """
    if settings is None or settings.dir is None:
        return None
    from model_monitor.writer import CaptureWriter

    writer = CaptureWriter(
        destination=settings.dir,
        endpoint=settings.endpoint_name,
        variant=settings.variant_name,
        sampling_percentage=settings.percent,
        max_queue=settings.queue_size,
        max_file_bytes=settings.max_file_mb * 1024 * 1024,
    )
    logger.info("data capture on: %.4g%% of requests to %s", settings.percent, writer.root)
    return writer


def sagemaker_bundle_dir(
    *, model_dir: Path = SAGEMAKER_MODEL_DIR, unpack_to: Path | None = None
) -> Path:
    """Find the bundle SageMaker provided: the folder itself, or its unpacked ``model.tar.gz``.

    Args:
        model_dir: SageMaker's model folder (``/opt/ml/model``).
        unpack_to: Where to unpack an archive (default: a new temporary folder, since
            ``model_dir`` may be read-only).

    Returns:
        The folder holding the bundle files.

    Raises:
        BundleError: The folder holds neither the bundle files nor ``model.tar.gz``, or the
            archive cannot be unpacked.
    """
    if (model_dir / META_FILE).is_file():
        return model_dir
    archive = model_dir / SAGEMAKER_ARCHIVE
    if archive.is_file():
        target = unpack_to or Path(tempfile.mkdtemp(prefix="slipway-model-"))
        return unpack_bundle(archive=archive, directory=target)
    raise BundleError(f"{model_dir}: holds neither {META_FILE} nor {SAGEMAKER_ARCHIVE}")


def sagemaker_options(
    *,
    env: Mapping[str, str],
    model_dir: Path = SAGEMAKER_MODEL_DIR,
    host: str = ALL_INTERFACES,
    unpack_to: Path | None = None,
) -> ServeOptions:
    """Resolve the server options from SageMaker's container conventions.

    Args:
        env: The environment (``SAGEMAKER_BIND_TO_PORT``, ``SAGEMAKER_MAX_PAYLOAD_IN_MB``,
            ``SLIPWAY_MODEL_REF``).
        model_dir: SageMaker's model folder.
        host: Interface to bind.
        unpack_to: Where to unpack ``model.tar.gz`` if the folder holds one.

    Returns:
        The options.

    Raises:
        ServerConfigError: An environment variable is not a valid number; the message names it.
        BundleError: No bundle in ``model_dir``.
    """
    port = _env_int(env, "SAGEMAKER_BIND_TO_PORT", default=SAGEMAKER_PORT, low=1, high=65535)
    payload_mb = _env_int(env, "SAGEMAKER_MAX_PAYLOAD_IN_MB", default=0, low=0, high=100_000)
    return ServeOptions(
        bundle_dir=sagemaker_bundle_dir(model_dir=model_dir, unpack_to=unpack_to),
        host=host,
        port=port,
        model_ref=env.get("SLIPWAY_MODEL_REF", ""),
        max_body_bytes=payload_mb * 1024 * 1024 if payload_mb else DEFAULT_MAX_BODY_BYTES,
    )


def main(argv: Sequence[str] | None = None, *, env: Mapping[str, str] | None = None) -> int:
    """Command line entry point (``python -m services.inference``).

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).
        env: Environment (default: ``os.environ``).

    Returns:
        The exit code: 0 after a clean shutdown, 1 on a loading or configuration error, 2 on
        bad arguments.
    """
    args = _parser().parse_args(argv)
    environ = os.environ if env is None else env
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s: %(name)s: %(message)s")
    try:
        if args.command == "serve":
            options = sagemaker_options(
                env=environ,
                model_dir=args.bundle or SAGEMAKER_MODEL_DIR,
                host=args.host or ALL_INTERFACES,
            )
        elif args.bundle is None:
            print(
                "error: give --bundle DIR, or the 'serve' command in a container", file=sys.stderr
            )
            return 2
        else:
            options = ServeOptions(
                bundle_dir=args.bundle, host=args.host or LOCAL_HOST, port=SAGEMAKER_PORT
            )
        capture = load_capture_settings(
            dir=args.capture_dir,
            percent=args.capture_percent,
            endpoint_name=args.endpoint_name,
            variant_name=args.variant_name,
        )
        serve_model(
            bundle_dir=options.bundle_dir,
            host=options.host,
            port=args.port if args.port is not None else options.port,
            model_ref=args.model_ref if args.model_ref is not None else options.model_ref,
            max_body_bytes=args.max_body_bytes or options.max_body_bytes,
            log_level=args.log_level,
            capture=capture if capture.enabled else None,
        )
    except SlipwayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    """The argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m services.inference",
        description="Serve a Slipway model bundle over HTTP (SageMaker's container contract).",
    )
    parser.add_argument(
        "command",
        nargs="?",
        choices=["serve"],
        help="SageMaker container mode: model from /opt/ml/model, port SAGEMAKER_BIND_TO_PORT",
    )
    parser.add_argument(
        "--bundle",
        type=Path,
        help="bundle folder (model.joblib, bundle.json); with 'serve', the model folder "
        f"(default {SAGEMAKER_MODEL_DIR}, may hold {SAGEMAKER_ARCHIVE})",
    )
    parser.add_argument("--host", help=f"interface (default {LOCAL_HOST}; 'serve': all)")
    parser.add_argument("--port", type=int, help=f"TCP port (default {SAGEMAKER_PORT})")
    parser.add_argument("--model-ref", help="model reference shown to callers, e.g. name:3")
    parser.add_argument("--max-body-bytes", type=int, help="largest request body (default 6 MB)")
    parser.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    capture = parser.add_argument_group("data capture (off unless a folder is given)")
    capture.add_argument(
        "--capture-dir", type=Path, help="capture root folder (env SLIPWAY_CAPTURE_DIR)"
    )
    capture.add_argument(
        "--capture-percent",
        type=float,
        help="share of requests captured, 0-100 (env SLIPWAY_CAPTURE_PERCENT, default 100)",
    )
    capture.add_argument(
        "--endpoint-name",
        help="endpoint folder name (env SLIPWAY_CAPTURE_ENDPOINT_NAME, default local)",
    )
    capture.add_argument(
        "--variant-name",
        help="variant folder name (env SLIPWAY_CAPTURE_VARIANT_NAME, default AllTraffic)",
    )
    return parser


def _env_int(env: Mapping[str, str], name: str, *, default: int, low: int, high: int) -> int:
    """Read an integer environment variable within ``[low, high]``."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ServerConfigError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ServerConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value
