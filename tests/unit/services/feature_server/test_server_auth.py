"""API keys: hashed file, header parsing, scopes, reloads, and no key in any log line."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from services.errors import ServerConfigError
from services.feature_server.auth import (
    ApiKeyStore,
    check_scope,
    generate_key,
    hash_key,
    load_keys,
    may_read,
    token_from_headers,
)
from services.feature_server.errors import ForbiddenError, UnauthorizedError

RANKING_KEY = "ranking-secret-key"
OPS_KEY = "ops-secret-key"


def _write_keys(path: Path, *, as_json: bool = False) -> Path:
    data = {
        "keys": [
            {
                "name": "ranking",
                "sha256": hash_key(RANKING_KEY),
                "feature_services": ["driver_ranking_v1"],
            },
            {"name": "ops", "sha256": hash_key(OPS_KEY), "feature_services": ["*"]},
        ]
    }
    if as_json:
        path.write_text(json.dumps(data))
    else:
        import yaml

        path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("as_json", [False, True])
def test_keys_file_loads_as_yaml_or_json(tmp_path: Path, as_json: bool) -> None:
    keys = load_keys(_write_keys(tmp_path / "keys.txt", as_json=as_json))
    assert keys[hash_key(RANKING_KEY)].scopes == {"driver_ranking_v1"}
    assert keys[hash_key(OPS_KEY)].unrestricted


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("keys: [{name: a, sha256: nothex, feature_services: ['*']}]", "keys.0.sha256"),
        ("keys: [{name: a, sha256: " + "a" * 64 + ", feature_services: []}]", "feature_services"),
        ("keys: [{name: a, sha256: " + "a" * 64 + ", feature_services: ['*'], x: 1}]", "x"),
        ("- just a list", "(top level)"),
        ("keys: [", "not valid YAML"),
    ],
)
def test_bad_keys_files_name_the_problem(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(content)
    with pytest.raises(ServerConfigError) as err:
        load_keys(path)
    assert str(path) in str(err.value)
    assert fragment in str(err.value)


def test_duplicate_hashes_are_refused(tmp_path: Path) -> None:
    digest = hash_key("k")
    path = tmp_path / "keys.yaml"
    path.write_text(
        f"keys: [{{name: a, sha256: {digest}, feature_services: ['*']}},"
        f" {{name: b, sha256: {digest}, feature_services: ['*']}}]"
    )
    with pytest.raises(ServerConfigError, match="repeats"):
        load_keys(path)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ServerConfigError, match="cannot read"):
        ApiKeyStore(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([(b"authorization", b"Bearer abc")], "abc"),
        ([(b"authorization", b"bearer  abc ")], "abc"),
        ([(b"x-api-key", b"abc")], "abc"),
        ([(b"authorization", b"Basic abc")], None),
        ([(b"authorization", b"Bearer ")], None),
        ([], None),
    ],
)
def test_token_from_headers(headers: list[tuple[bytes, bytes]], expected: str | None) -> None:
    assert token_from_headers(headers) == expected


def test_authenticate_and_scope(tmp_path: Path) -> None:
    store = ApiKeyStore(_write_keys(tmp_path / "keys.yaml"))
    assert store.enabled
    with pytest.raises(UnauthorizedError, match="missing API key"):
        store.authenticate([])
    with pytest.raises(UnauthorizedError, match="invalid API key"):
        store.authenticate([(b"x-api-key", b"wrong")])
    ranking = store.authenticate([(b"authorization", f"Bearer {RANKING_KEY}".encode())])
    assert ranking is not None
    check_scope(ranking, service="driver_ranking_v1")
    with pytest.raises(ForbiddenError, match="driver_activity_v1"):
        check_scope(ranking, service="driver_activity_v1")
    with pytest.raises(ForbiddenError, match="raw feature lists"):
        check_scope(ranking, service=None)
    ops = store.authenticate([(b"x-api-key", OPS_KEY.encode())])
    check_scope(ops, service=None)
    check_scope(ops, service="anything")
    assert may_read(ranking, "driver_ranking_v1")
    assert not may_read(ranking, "driver_activity_v1")
    assert may_read(None, "x")


def test_auth_off_without_file() -> None:
    store = ApiKeyStore(None)
    assert not store.enabled
    assert store.authenticate([]) is None
    check_scope(None, service=None)


def test_keys_reload_when_the_file_changes(tmp_path: Path) -> None:
    path = _write_keys(tmp_path / "keys.yaml")
    store = ApiKeyStore(path)
    new_key, digest = generate_key()
    assert new_key.startswith("slw_")
    assert digest == hash_key(new_key)
    path.write_text(f"keys: [{{name: new, sha256: {digest}, feature_services: ['*']}}]")
    os.utime(path, (1, 1))
    store.reload_if_changed()
    assert store.authenticate([(b"x-api-key", new_key.encode())]) is not None
    with pytest.raises(UnauthorizedError):
        store.authenticate([(b"x-api-key", OPS_KEY.encode())])
    path.write_text("keys: [")  # a broken edit denies every key (fail closed, issue 13)
    os.utime(path, (2, 2))
    store.reload_if_changed()
    with pytest.raises(UnauthorizedError, match="keys file is missing or invalid"):
        store.authenticate([(b"x-api-key", new_key.encode())])
    path.write_text(f"keys: [{{name: new, sha256: {digest}, feature_services: ['*']}}]")
    store.reload_if_changed()  # fixed: accepted again
    assert store.authenticate([(b"x-api-key", new_key.encode())]) is not None


def test_no_key_is_ever_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    path = _write_keys(tmp_path / "keys.yaml")
    store = ApiKeyStore(path)
    with pytest.raises(ForbiddenError) as denied:
        check_scope(store.authenticate([(b"x-api-key", RANKING_KEY.encode())]), service="x")
    assert RANKING_KEY not in str(denied.value)
    with pytest.raises(UnauthorizedError) as refused:
        store.authenticate([(b"x-api-key", b"not-a-key")])
    assert "not-a-key" not in str(refused.value)
    os.utime(path, (3, 3))
    store.reload_if_changed()
    assert RANKING_KEY not in caplog.text
    assert OPS_KEY not in caplog.text
