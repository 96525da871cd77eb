"""feature_store.yaml loading: each configuration loads, every bad file gives one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from feature_store.errors import RepoConfigError
from feature_store.repo import YAML_BY_ENV, FeatureRepo, load_repo_config

ROOT = Path(__file__).resolve().parents[3]


def test_local_config_is_sqlite_and_file(feature_repo_copy: Path) -> None:
    config = FeatureRepo(path=feature_repo_copy).config
    assert config.project == "slipway"
    assert config.online_store.type == "sqlite"
    assert config.offline_store.type == "file"
    assert Path(config.repo_path) == feature_repo_copy


def test_redis_config_reads_connection_from_env(
    feature_repo_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLIPWAY_REDIS_URL", "127.0.0.1:6390")
    config = FeatureRepo(path=feature_repo_copy, env="redis").config
    assert config.online_store.type == "redis"
    assert config.online_store.connection_string == "127.0.0.1:6390"


def test_aws_config_uses_dynamodb_and_s3_registry(
    feature_repo_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLIPWAY_AWS_REGION", "eu-west-1")
    monkeypatch.setenv("SLIPWAY_REGISTRY_S3_URI", "s3://bucket/slipway/registry.db")
    monkeypatch.setenv("SLIPWAY_DYNAMODB_ENDPOINT", "")
    config = FeatureRepo(path=feature_repo_copy, env="aws").config
    assert config.online_store.type == "dynamodb"
    assert config.online_store.region == "eu-west-1"
    assert config.online_store.endpoint_url is None
    assert config.registry.path == "s3://bucket/slipway/registry.db"


def test_unset_variable_is_named(feature_repo_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLIPWAY_REDIS_URL", raising=False)
    with pytest.raises(RepoConfigError, match=r"feature_store\.redis\.yaml: .*SLIPWAY_REDIS_URL"):
        _ = FeatureRepo(path=feature_repo_copy, env="redis").config


def test_every_env_has_a_config_file() -> None:
    for name in YAML_BY_ENV.values():
        assert (ROOT / "feature_repo" / name).is_file(), name


BAD_YAML = {
    "missing": (None, "file not found"),
    "empty": ("", "expected a mapping"),
    "syntax": ("project: slipway\nonline_store: {type: sqlite\n", "line 3: invalid YAML"),
    "list": ("- a\n- b\n", "expected a mapping"),
    "unknown_key": ("project: slipway\nregistry: r.db\nprovider: local\nbogus: 1\n", "bogus"),
    "bad_store": (
        "project: slipway\nregistry: r.db\nprovider: local\nonline_store: {type: nosuchdb}\n",
        "online_store",
    ),
    "no_project": ("registry: r.db\nprovider: local\n", "project"),
}


@pytest.mark.parametrize("case", sorted(BAD_YAML))
def test_bad_yaml_gives_one_line_naming_the_file(tmp_path: Path, case: str) -> None:
    text, needle = BAD_YAML[case]
    path = tmp_path / "feature_store.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(RepoConfigError) as caught:
        load_repo_config(repo_path=tmp_path, yaml_path=path)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert needle in message
    assert "\n" not in message
