"""The runner: SageMaker container conventions and the command line (no server is started)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from model_bundle.bundle import MODEL_FILE, BundleError, pack_bundle
from services.errors import ServerConfigError
from services.inference import runner
from services.inference.runner import (
    ALL_INTERFACES,
    SAGEMAKER_PORT,
    main,
    sagemaker_bundle_dir,
    sagemaker_options,
)
from services.inference.server import DEFAULT_MAX_BODY_BYTES


@pytest.fixture
def archive_dir(bundle_dir: Path, tmp_path: Path) -> Path:
    """A SageMaker model folder holding only model.tar.gz."""
    model_dir = tmp_path / "opt_ml_model"
    pack_bundle(directory=bundle_dir, archive=model_dir / "model.tar.gz")
    return model_dir


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record serve_model calls instead of starting uvicorn."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(runner, "serve_model", lambda **kwargs: calls.append(kwargs))
    return calls


def test_model_folder_is_used_as_is(bundle_dir: Path) -> None:
    assert sagemaker_bundle_dir(model_dir=bundle_dir) == bundle_dir


def test_model_archive_is_unpacked(archive_dir: Path, tmp_path: Path) -> None:
    unpacked = sagemaker_bundle_dir(model_dir=archive_dir, unpack_to=tmp_path / "unpacked")
    assert (unpacked / "bundle.json").is_file()
    assert (unpacked / MODEL_FILE).is_file()


def test_empty_model_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"neither bundle.json nor model.tar.gz"):
        sagemaker_bundle_dir(model_dir=tmp_path)


def test_sagemaker_defaults(bundle_dir: Path) -> None:
    options = sagemaker_options(env={}, model_dir=bundle_dir)
    assert (options.host, options.port) == (ALL_INTERFACES, SAGEMAKER_PORT)
    assert options.max_body_bytes == DEFAULT_MAX_BODY_BYTES
    assert options.model_ref == ""


def test_sagemaker_environment(bundle_dir: Path) -> None:
    env = {
        "SAGEMAKER_BIND_TO_PORT": "9091",
        "SAGEMAKER_MAX_PAYLOAD_IN_MB": "20",
        "SLIPWAY_MODEL_REF": "driver_ranking:7",
    }
    options = sagemaker_options(env=env, model_dir=bundle_dir)
    assert options.port == 9091
    assert options.max_body_bytes == 20 * 1024 * 1024
    assert options.model_ref == "driver_ranking:7"


@pytest.mark.parametrize("port", ["http", "0", "70000"])
def test_bad_port_variable_is_named(bundle_dir: Path, port: str) -> None:
    with pytest.raises(ServerConfigError, match="SAGEMAKER_BIND_TO_PORT"):
        sagemaker_options(env={"SAGEMAKER_BIND_TO_PORT": port}, model_dir=bundle_dir)


def test_cli_serves_a_bundle_on_localhost(bundle_dir: Path, served: list[dict[str, Any]]) -> None:
    code = main(["--bundle", str(bundle_dir), "--port", "9100", "--model-ref", "m:1"], env={})
    assert code == 0
    assert served == [
        {
            "bundle_dir": bundle_dir,
            "host": "127.0.0.1",
            "port": 9100,
            "model_ref": "m:1",
            "max_body_bytes": DEFAULT_MAX_BODY_BYTES,
            "log_level": "info",
            "capture": None,
        }
    ]


def test_cli_serve_follows_sagemaker_conventions(
    archive_dir: Path, served: list[dict[str, Any]]
) -> None:
    env = {"SAGEMAKER_BIND_TO_PORT": "8089", "SLIPWAY_MODEL_REF": "driver_ranking:2"}
    assert main(["serve", "--bundle", str(archive_dir)], env=env) == 0
    (call,) = served
    assert (call["host"], call["port"], call["model_ref"]) == (
        ALL_INTERFACES,
        8089,
        "driver_ranking:2",
    )
    assert (call["bundle_dir"] / "bundle.json").is_file()


def test_cli_serve_defaults_to_opt_ml_model(served: list[dict[str, Any]], capsys: Any) -> None:
    if Path("/opt/ml/model").exists():
        pytest.skip("a real /opt/ml/model exists here")
    assert main(["serve"], env={}) == 1
    assert "/opt/ml/model" in capsys.readouterr().err
    assert served == []


def test_cli_errors(tmp_path: Path, capsys: Any) -> None:
    assert main([], env={}) == 2
    assert "--bundle" in capsys.readouterr().err
    assert main(["--bundle", str(tmp_path / "nope")], env={}) == 1  # fails before binding
    assert "file not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--port", "x"], env={})
