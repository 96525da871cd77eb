"""Pieces of the read path that trade work for memory: key memo, picked rows, body fragments,
metric tallies. Each is checked against the straightforward computation it replaces."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
from feast.protos.feast.types.Value_pb2 import Value
from feast.value_type import ValueType
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client import values as prometheus_values

from services.feature_server.encoding import (
    KEY_ENCODERS,
    EntityValueError,
    encode_keys,
    key_prefix,
)
from services.feature_server.metrics import LATENCY_BUCKETS, Metrics
from services.feature_server.response import ResponseBody, all_epoch, all_present, dumps
from services.feature_server.stores import MISSING, Partial, Row, SqliteReader

PREFIX = key_prefix(["driver_id"])
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


def _double(value: float) -> bytes:
    return bytes(Value(double_val=value).SerializeToString())


@given(st.lists(INT64, min_size=1, max_size=30))
@settings(max_examples=60, deadline=None)
def test_encode_keys_matches_the_encoder_on_first_and_memoized_calls(values: list[int]) -> None:
    expected = [PREFIX + KEY_ENCODERS[ValueType.INT64](v) for v in values]
    assert encode_keys(PREFIX, ValueType.INT64, values) == expected
    assert encode_keys(PREFIX, ValueType.INT64, values) == expected  # served from the memo


@pytest.mark.parametrize("bad", [True, 1.0, "1", None])
def test_memo_never_lends_a_key_to_a_value_of_another_type(bad: Any) -> None:
    encode_keys(PREFIX, ValueType.INT64, [1, 1, 1])  # 1 == True == 1.0 as dict keys
    with pytest.raises(EntityValueError):
        encode_keys(PREFIX, ValueType.INT64, [bad])
    with pytest.raises(EntityValueError):
        encode_keys(PREFIX, ValueType.INT64, [1, bad])


def test_memo_keeps_key_types_apart() -> None:
    as_int32 = encode_keys(PREFIX, ValueType.INT32, [7])
    as_int64 = encode_keys(PREFIX, ValueType.INT64, [7])
    assert as_int32 != as_int64
    assert as_int32 == [PREFIX + KEY_ENCODERS[ValueType.INT32](7)]
    with pytest.raises(EntityValueError):
        encode_keys(PREFIX, ValueType.INT32, [2**40])


def test_pick_separates_missing_features_from_stored_nulls() -> None:
    row = Row("2026-10-31T23:00:00Z", {"a": _double(0.5), "b": None, "c": b""})
    features = ("c", "a", "b")
    full = row.pick(features)
    assert full == (None, 0.5, None, "2026-10-31T23:00:00Z")
    assert type(full) is tuple
    partial = row.pick(("a", "zzz"))
    assert isinstance(partial, Partial)
    assert partial[0] == 0.5
    assert partial[1] is MISSING
    assert partial[2] == "2026-10-31T23:00:00Z"
    assert row.pick(features) is full  # remembered per feature tuple
    assert row.pick(("c", "a", "b")) == full  # an equal tuple gives the same values


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False,
    allow_infinity=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=6,
)  # fmt: skip


@given(
    st.lists(
        st.tuples(st.text(max_size=8), st.lists(json_values, min_size=3, max_size=3)), max_size=6
    ),
    st.booleans(),
)
@settings(max_examples=80, deadline=None)
def test_body_fragments_render_exactly_like_one_orjson_dump(
    columns: list[tuple[str, list[Any]]], with_metadata: bool
) -> None:
    body = ResponseBody()
    results = []
    stamps = ["2026-10-31T23:00:00Z", "1970-01-01T00:00:00Z", "2026-10-31T23:00:00.250Z"]
    for name, values in columns:
        statuses = ["PRESENT", "NOT_FOUND", "PRESENT"]
        body.add(name, dumps(values), dumps(statuses), dumps(stamps))
        results.append({"values": values, "statuses": statuses, "event_timestamps": stamps})
    extra = {"feature_view_metadata": [{"name": "v"}]} if with_metadata else None
    metadata = {"feature_names": [name for name, _ in columns], **(extra or {})}
    assert body.render(extra) == orjson.dumps({"results": results, "metadata": metadata})


@pytest.mark.parametrize("rows", [1, 2, 100, 1000])
def test_repeated_lists(rows: int) -> None:
    assert orjson.loads(all_present(rows)) == ["PRESENT"] * rows
    assert orjson.loads(all_epoch(rows)) == ["1970-01-01T00:00:00Z"] * rows
    assert all_present(rows) is all_present(rows)


@pytest.fixture(autouse=True)
def in_process_metric_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """Feast's import may set PROMETHEUS_MULTIPROC_DIR, which would make every metric of this
    process share files; each test here wants its own values."""
    monkeypatch.setattr(prometheus_values, "ValueClass", prometheus_values.MutexValue)


def _samples(text: str, name: str) -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and "_created" not in line
    }


@given(st.lists(st.floats(min_value=0, max_value=5), max_size=40))
@example([0.0, 0.0005, 0.001, 0.0010001, 2.5, 2.6])  # on and next to bucket bounds
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_metric_tallies_equal_prometheus_observe(latencies: list[float]) -> None:
    metrics = Metrics()
    reference = CollectorRegistry()
    histogram = Histogram(
        "slipway_feature_server_request_seconds",
        "x",
        ["route", "feature_service"],
        buckets=LATENCY_BUCKETS,
        registry=reference,
    )
    for seconds in latencies:
        metrics.observe("/get-online-features", "(features)", 200, seconds)
        histogram.labels("/get-online-features", "(features)").observe(seconds)
    ours = _samples(metrics.render().decode(), "slipway_feature_server_request_seconds")
    theirs = _samples(generate_latest(reference).decode(), "slipway_feature_server_request_seconds")
    assert ours.keys() == theirs.keys()
    for sample, value in theirs.items():
        assert ours[sample] == pytest.approx(value)
    requests = _samples(metrics.render().decode(), "slipway_feature_server_requests_total")
    assert sum(requests.values()) == len(latencies)


def test_metric_tallies_flush_by_themselves(monkeypatch: pytest.MonkeyPatch) -> None:
    """Other workers read the shared files, so tallies reach them without a local scrape."""
    metrics = Metrics()
    metrics.observe("/healthz", "(none)", 200, 0.001)
    child = metrics.latency.labels("/healthz", "(none)")
    assert child._sum.get() == 0  # still tallied locally
    clock = [0.0]
    monkeypatch.setattr("services.feature_server.metrics.time.monotonic", lambda: clock[0])
    metrics._flushed = 0.0
    clock[0] = 2.0
    metrics.observe("/healthz", "(none)", 200, 0.002)
    assert child._sum.get() == pytest.approx(0.003)


@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_data_version_sees_every_commit_of_another_connection(tmp_path: Path, journal: str) -> None:
    """The row cache's freshness check: the header change counter in rollback-journal mode,
    PRAGMA data_version in WAL mode (where the counter is not maintained)."""
    path = tmp_path / "online.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute(f"PRAGMA journal_mode={journal}")
    writer.execute("CREATE TABLE t (k BLOB PRIMARY KEY, v BLOB)")
    reader = SqliteReader(path=path, timeout=1.0, cache_entries=100)
    reader._conn()
    uses_header = journal == "delete"
    assert (type(reader._data_version()) is bytes) is uses_header
    seen = {reader._data_version()}
    for i in range(5):
        assert reader._data_version() in seen  # nothing committed: unchanged
        writer.execute("INSERT INTO t VALUES (?, ?)", (bytes([i]), b"x"))
        version = reader._data_version()
        assert version not in seen, f"commit {i} not seen"
        seen.add(version)
    writer.execute("BEGIN")
    writer.execute("UPDATE t SET v = ?", (b"y",))
    during = reader._data_version()
    assert during in seen  # uncommitted work is not a new version
    writer.execute("COMMIT")
    assert reader._data_version() not in seen
    writer.close()
    asyncio.run(reader.close())
