"""Real servers for tests, on 127.0.0.1 and a free port, bounded in time and always stopped.

- :func:`redis_server`: a throw-away ``redis-server`` (no persistence); skips when not installed.
- :func:`moto_server`: moto's threaded server (S3, SageMaker, DynamoDB...), with the
  ``update_endpoint`` patch SageMaker deploy tests need (moto 5.2.5 lacks the operation).
- :data:`AWS_TEST_ENV`: fake credentials so boto3 never looks for real ones.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from foundation.ports import LOOPBACK, free_port

AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def wait_for_port(port: int, *, timeout: float = 10.0, what: str = "server") -> None:
    """Return once ``port`` accepts TCP connections; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((LOOPBACK, port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"{what} did not accept connections on port {port} within {timeout:.0f} s")


@contextmanager
def redis_server(*extra_args: str) -> Iterator[int]:
    """A fresh ``redis-server`` on a free port; yields the port."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--bind",
            LOOPBACK,
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            *extra_args,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, what="redis-server")
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _update_endpoint(self: Any) -> Any:
    """``update_endpoint`` for moto 5.2.5 (see ../shared/reference/offline-testing.md)."""
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow

    backend = self.sagemaker_backend
    name = self._get_param("EndpointName")
    backend.describe_endpoint(name)  # unknown name -> ValidationException
    config_name = self._get_param("EndpointConfigName")
    config = backend.describe_endpoint_config(config_name)
    endpoint = backend.endpoints[name]
    endpoint.endpoint_config_name = config_name
    endpoint.production_variants = endpoint._process_production_variants(
        config["ProductionVariants"]
    )
    endpoint.data_capture_config = config.get("DataCaptureConfig")
    endpoint.last_modified_time = utcnow()
    return ActionResult({"EndpointArn": endpoint.arn})


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's server on a free port (with ``update_endpoint``), empty; yields its URL.

    moto keeps its resources in the process, not in the server: a bucket an earlier server of
    the same test process created would still be there, so the new server starts by forgetting
    them (``reset_moto``). Do not open a second one while another is in use in the process.
    """
    from moto.sagemaker.responses import SageMakerResponse
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    original = getattr(SageMakerResponse, "update_endpoint", None)
    SageMakerResponse.update_endpoint = _update_endpoint  # type: ignore[attr-defined]
    port = free_port()
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    server.start()
    try:
        url = f"http://{LOOPBACK}:{port}"
        reset_moto(url)
        yield url
    finally:
        server.stop()
        if original is None:
            del SageMakerResponse.update_endpoint  # type: ignore[attr-defined]
        else:
            SageMakerResponse.update_endpoint = original  # type: ignore[attr-defined]


def reset_moto(url: str) -> None:
    """Forget every resource the moto server holds (between tests sharing one server)."""
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
