"""Capture records to a monitoring frame: every body shape, bad bodies counted, types kept."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path

import numpy as np
import orjson
import pytest
from monitor_kit import SAGEMAKER_SAMPLE, T0, frame_records, json_record, window, write_records

from model_monitor.capture import CapturedPayload, CaptureRecord, Encoding, variant_folder
from model_monitor.columns import (
    EVENT_ID,
    INFERENCE_ID,
    INFERENCE_TIME,
    PREDICTED_LABEL,
    PREDICTION,
    ROW,
    ColumnSpec,
    InferredType,
    Schema,
    Task,
)
from model_monitor.frame import frame_from_records, load_window
from model_monitor.reader import capture_files

SCHEMA = Schema(
    Task.CLASSIFICATION,
    (
        ColumnSpec("a", InferredType.FRACTIONAL),
        ColumnSpec("b", InferredType.INTEGRAL),
        ColumnSpec("seg", InferredType.STRING),
        ColumnSpec(PREDICTION, InferredType.FRACTIONAL, prediction=True),
        ColumnSpec(PREDICTED_LABEL, InferredType.INTEGRAL, prediction=True),
    ),
)


def _record(
    data: str,
    encoding: Encoding,
    content_type: str,
    out: str | None = None,
    out_type: str = "text/csv",
) -> CaptureRecord:
    return CaptureRecord(
        event_id="e",
        inference_time=T0,
        endpoint_input=CapturedPayload(data, encoding, content_type, "INPUT"),
        endpoint_output=None
        if out is None
        else CapturedPayload(out, Encoding.CSV, out_type, "OUTPUT"),
    )


def test_empty_window_is_an_empty_frame_with_a_warning() -> None:
    result = frame_from_records([], schema=SCHEMA)
    assert result.rows == 0
    assert result.warnings() == ["the capture window holds no records"]
    assert {"a", PREDICTION, EVENT_ID}.issubset(result.frame.columns)


def test_unparseable_bodies_are_counted_not_hidden() -> None:
    records = [
        _record("{oops", Encoding.JSON, "application/json"),
        _record('{"instances": 3}', Encoding.JSON, "application/json"),
        _record("!!!", Encoding.BASE64, "application/json"),
        _record("1,2,plus", Encoding.CSV, "text/csv", out="not-a-number"),
        _record("1,2,plus\n3,4,basic", Encoding.CSV, "text/csv", out="0.5,1"),  # 2 rows, 1 answer
    ]
    result = frame_from_records(records, schema=SCHEMA)
    assert (result.bad_inputs, result.bad_outputs) == (3, 2)
    assert result.rows == 3  # rows of the last two records, kept without predictions
    assert result.frame[PREDICTION].isna().all()
    assert any("could not be parsed" in w for w in result.warnings())
    assert any("without predictions" in w for w in result.warnings())


def test_wrong_types_are_kept_for_the_type_check() -> None:
    rows = [{"a": 1.5, "b": 2, "seg": "plus"}, {"a": "high", "b": 3.5, "seg": 7}]
    result = frame_from_records(
        [json_record(rows, [{"probability": 0.1}, {"probability": 0.2}])], schema=SCHEMA
    )
    frame = result.frame
    assert frame["a"].dtype == object
    assert frame["a"].tolist() == [1.5, "high"]
    assert frame["b"].dtype == np.float64
    assert frame["seg"].tolist() == ["plus", 7]


def test_missing_and_extra_keys_become_missing_values_and_extra_columns() -> None:
    rows = [{"a": 1.0, "seg": "plus", "new": 1}, {"a": None, "seg": None}]
    frame = frame_from_records([json_record(rows, None)], schema=SCHEMA).frame
    assert "b" not in frame.columns
    assert frame["new"].tolist()[0] == 1.0
    assert np.isnan(frame["new"].tolist()[1])
    assert np.isnan(frame["a"].iloc[1])
    assert frame["seg"].tolist() == ["plus", None]


def test_the_documented_sagemaker_record_becomes_one_row(tmp_path: Path) -> None:
    path = variant_folder(tmp_path, endpoint="ep", variant="v") / "2022/02/14/17/x.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(SAGEMAKER_SAMPLE + b"\n")
    schema = Schema(
        Task.REGRESSION, tuple(ColumnSpec(f"f{i}", InferredType.FRACTIONAL) for i in range(5))
    )
    result = load_window(files=[path], schema=schema)
    row = result.frame.iloc[0]
    assert [row[f"f{i}"] for i in range(5)] == [69.0, 0.0, 153.7, 109.0, 194.0]
    assert row[PREDICTION] == pytest.approx(0.0254)
    assert (row[INFERENCE_ID], row[INFERENCE_TIME]) == ("caller-1", "2022-02-14T17:25:49Z")
    assert result.warnings() == []


def test_csv_bodies_follow_the_feature_order_header_and_extra_fields() -> None:
    records = [
        _record("a,b,seg\n0.5,2,plus\n", Encoding.CSV, "text/csv", out="0.3,1\n0.4,0"),
        _record("1.5,,basic,99\n", Encoding.CSV, "text/csv", out="0.9,1"),
    ]
    # the first body has a header and one row but two answers: its predictions are dropped
    frame = frame_from_records(records, schema=SCHEMA).frame
    assert frame["a"].tolist() == [0.5, 1.5]
    assert np.isnan(frame["b"].iloc[1])
    assert frame["seg"].tolist() == ["plus", "basic"]
    assert frame["_c3"].tolist()[1] == "99"  # unknown columns keep their text
    assert frame[PREDICTED_LABEL].tolist()[1] == 1.0


def test_every_json_shape_and_base64_give_the_same_rows() -> None:
    rows = [{"a": 0.5, "b": 2, "seg": "plus"}, {"a": 1.5, "b": 3, "seg": "basic"}]
    bodies = [
        {"instances": rows},
        {"instances": [[0.5, 2, "plus"], [1.5, 3, "basic"]]},
        {"inputs": {"a": [0.5, 1.5], "b": [2, 3], "seg": ["plus", "basic"]}},
        {"inputs": rows},
        rows,
    ]
    out = orjson.dumps(
        {"predictions": [{"probability": 0.1, "label": 0}, {"score": 0.9, "class": 1}]}
    )
    records = [
        CaptureRecord(
            event_id=f"e{i}",
            inference_time=T0,
            endpoint_input=CapturedPayload(
                orjson.dumps(b).decode(), Encoding.JSON, "application/json", "INPUT"
            ),
            endpoint_output=CapturedPayload(
                out.decode(), Encoding.JSON, "application/json", "OUTPUT"
            ),
        )
        for i, b in enumerate(bodies)
    ]
    records.append(
        CaptureRecord(
            event_id="b64",
            inference_time=T0,
            endpoint_input=CapturedPayload(
                base64.b64encode(orjson.dumps(bodies[0])).decode(),
                Encoding.BASE64,
                "application/json",
                "INPUT",
            ),
            endpoint_output=CapturedPayload(
                base64.b64encode(b"0.1,0\n0.9,1").decode(), Encoding.BASE64, "text/csv", "OUTPUT"
            ),
        )
    )
    frame = frame_from_records(records, schema=SCHEMA).frame
    assert len(frame) == 12
    for i in range(0, 12, 2):
        assert frame["a"].iloc[i : i + 2].tolist() == [0.5, 1.5]
        assert frame["seg"].iloc[i : i + 2].tolist() == ["plus", "basic"]
        assert frame[PREDICTION].iloc[i : i + 2].tolist() == [0.1, 0.9]
        assert frame[PREDICTED_LABEL].iloc[i : i + 2].tolist() == [0.0, 1.0]
        assert frame[ROW].iloc[i : i + 2].tolist() == [0, 1]


def test_load_window_reads_files_and_keeps_the_window(tmp_path: Path) -> None:
    source = window(50, seed=3)
    records = frame_records(source)
    root = variant_folder(tmp_path, endpoint="ep", variant="v")
    write_records(root, records[:25], name="a.jsonl")
    write_records(root, records[25:], name="b.jsonl")
    files = capture_files(destination=tmp_path, endpoint="ep", variant="v")
    since, until = T0 + timedelta(seconds=10), T0 + timedelta(seconds=40)
    from monitor_kit import training_baseline

    schema = training_baseline(rows=500).schema
    result = load_window(files=files, schema=schema, since=since, until=until)
    assert result.rows == result.requests == 30
    assert result.report.outside_window == 20
    expected = source.iloc[10:40].reset_index(drop=True)
    np.testing.assert_allclose(
        result.frame["conv_rate"].to_numpy(), expected["conv_rate"].to_numpy()
    )
    assert result.frame["city"].tolist() == expected["city"].tolist()
    np.testing.assert_allclose(result.frame[PREDICTION].to_numpy(), expected[PREDICTION].to_numpy())
    assert result.frame["current_balance"].dtype == np.float64
    assert result.frame[EVENT_ID].tolist() == [f"e-{i}" for i in range(10, 40)]


def test_workers_must_be_positive(tmp_path: Path) -> None:
    from model_monitor.errors import CaptureError

    with pytest.raises(CaptureError, match="workers must be at least 1"):
        load_window(files=[], schema=SCHEMA, workers=0)


def test_parallel_loading_gives_the_same_frame(tmp_path: Path) -> None:
    import pandas as pd
    from monitor_kit import training_baseline

    source = window(400, seed=8)
    source.loc[source.index[:5], "city"] = None
    records = frame_records(source)
    root = variant_folder(tmp_path, endpoint="ep", variant="v")
    for part in range(4):
        write_records(root, records[part * 100 : (part + 1) * 100], name=f"{part}.jsonl")
    files = capture_files(destination=tmp_path, endpoint="ep", variant="v")
    schema = training_baseline(rows=500).schema
    serial = load_window(files=files, schema=schema)
    parallel = load_window(files=files, schema=schema, workers=2)
    pd.testing.assert_frame_equal(serial.frame, parallel.frame)
    assert serial.report.to_json() == parallel.report.to_json()
    assert serial.frame["city"].iloc[:5].isna().all()
    assert serial.frame[EVENT_ID].tolist() == [f"e-{i}" for i in range(400)]


def test_a_multiclass_csv_answer_is_read_as_label_then_probabilities() -> None:
    record = _record("0.5,2,plus", Encoding.CSV, "text/csv", out="2,0.1,0.2,0.7")  # multiclass
    result = frame_from_records([record], schema=SCHEMA)
    assert result.bad_outputs == 0
    assert result.frame[PREDICTION].tolist() == [0.7]  # the top-class probability
    assert result.frame[PREDICTED_LABEL].tolist() == [2]


def test_csv_answers_with_more_fields_that_are_not_probabilities_are_not_misread() -> None:
    record = _record("0.5,2,plus", Encoding.CSV, "text/csv", out="0.5,1,extra")
    result = frame_from_records([record], schema=SCHEMA)
    assert result.bad_outputs == 1
    assert result.frame[PREDICTION].isna().all()
