"""The inference app through FastAPI's TestClient: SageMaker's contract, validation, equality."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from inference_bundles import (
    FEATURES,
    REF,
    expected_probabilities,
    make_frame,
    records,
    write_bundle,
)

from model_bundle.bundle import bundle_digest
from services.errors import ServerConfigError
from services.inference.server import DEFAULT_MAX_BODY_BYTES, create_inference_app

CSV_HEADERS = {"content-type": "text/csv"}


def _csv(frame: pd.DataFrame, *, header: bool = False) -> str:
    return frame[FEATURES].to_csv(header=header, index=False)


def _csv_answer(text: str) -> tuple[np.ndarray, list[int]]:
    pairs = [line.split(",") for line in text.splitlines()]
    assert all(len(pair) == 2 for pair in pairs)
    return np.array([float(p) for p, _ in pairs]), [int(label) for _, label in pairs]


def _probabilities(body: dict[str, Any]) -> np.ndarray:
    return np.array([p["probability"] for p in body["predictions"]])


# --- health, metadata ----------------------------------------------------------------------


def test_ping_and_healthz(client: TestClient, bundle_dir: Path) -> None:
    assert client.get("/ping").status_code == 200
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["model"] == {"ref": REF, "digest": bundle_digest(directory=bundle_dir)}


def test_metadata_describes_the_model(client: TestClient, bundle_dir: Path) -> None:
    body = client.get("/metadata").json()
    assert body["features"] == FEATURES
    assert body["threshold"] == 0.5
    assert body["model"] == {"ref": REF, "digest": bundle_digest(directory=bundle_dir)}
    assert body["feature_types"]["customer_segment"] == "category"
    assert body["feature_types"]["rating"] == "number"
    assert body["max_body_bytes"] == DEFAULT_MAX_BODY_BYTES
    params = client.get("/execution-parameters").json()
    assert params["MaxPayloadInMB"] == 6


def test_model_ref_defaults_to_bundle_metadata(bundle_dir: Path) -> None:
    client = TestClient(create_inference_app(bundle_dir=bundle_dir))
    assert client.get("/healthz").json()["model"]["ref"] == "driver_ranking:3"


# --- JSON ----------------------------------------------------------------------------------


def test_json_instances_match_in_process_model(client: TestClient, bundle_dir: Path) -> None:
    frame = make_frame(25, seed=11)
    response = client.post("/invocations", json={"instances": records(frame)})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-model-ref"] == REF
    body = response.json()
    assert body["model"] == {"ref": REF, "digest": bundle_digest(directory=bundle_dir)}
    probabilities = _probabilities(body)
    np.testing.assert_allclose(
        probabilities, expected_probabilities(bundle_dir, frame), rtol=0, atol=1e-12
    )
    assert [p["label"] for p in body["predictions"]] == [int(p >= 0.5) for p in probabilities]


def test_all_json_shapes_agree(client: TestClient) -> None:
    frame = make_frame(7, seed=12)
    rows = records(frame)
    columns = {f: [row[f] for row in rows] for f in FEATURES}
    arrays = [[row[f] for f in FEATURES] for row in rows]
    answers = [
        client.post("/invocations", json=payload).json()["predictions"]
        for payload in ({"instances": rows}, {"inputs": columns}, rows, {"instances": arrays})
    ]
    assert all(answer == answers[0] for answer in answers)
    assert len(answers[0]) == 7


def test_json_key_order_does_not_matter(client: TestClient) -> None:
    rows = records(make_frame(3, seed=13))
    shuffled = [dict(reversed(list(row.items()))) for row in rows]
    first = client.post("/invocations", json={"instances": rows}).json()
    second = client.post("/invocations", json={"instances": shuffled}).json()
    assert first == second


def test_json_can_answer_csv(client: TestClient) -> None:
    rows = records(make_frame(4, seed=14))
    as_json = client.post("/invocations", json={"instances": rows}).json()
    response = client.post("/invocations", json={"instances": rows}, headers={"accept": "text/csv"})
    assert response.headers["content-type"].startswith("text/csv")
    probabilities, labels = _csv_answer(response.text)
    assert probabilities.tolist() == _probabilities(as_json).tolist()
    assert labels == [p["label"] for p in as_json["predictions"]]


@pytest.mark.parametrize("fixture", ["bundle_dir", "hgb_bundle_dir"])
def test_prediction_equality_json_and_csv(fixture: str, request: pytest.FixtureRequest) -> None:
    directory: Path = request.getfixturevalue(fixture)
    client = TestClient(create_inference_app(bundle_dir=directory))
    frame = make_frame(300, seed=15)
    expected = expected_probabilities(directory, frame)
    from_json = _probabilities(client.post("/invocations", json=records(frame)).json())
    csv_response = client.post("/invocations", content=_csv(frame), headers=CSV_HEADERS)
    from_csv, _ = _csv_answer(csv_response.text)
    np.testing.assert_allclose(from_json, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(from_csv, expected, rtol=0, atol=1e-12)


def test_threshold_sets_labels(tmp_path: Path) -> None:
    directory = write_bundle(tmp_path / "b", threshold=0.9)
    client = TestClient(create_inference_app(bundle_dir=directory))
    body = client.post("/invocations", json=records(make_frame(50, seed=16))).json()
    assert [p["label"] for p in body["predictions"]] == [
        int(p["probability"] >= 0.9) for p in body["predictions"]
    ]
    assert client.get("/metadata").json()["threshold"] == 0.9


# --- CSV -----------------------------------------------------------------------------------


def test_csv_without_and_with_exact_header(client: TestClient, bundle_dir: Path) -> None:
    frame = make_frame(10, seed=17)
    plain = client.post("/invocations", content=_csv(frame), headers=CSV_HEADERS)
    headed = client.post("/invocations", content=_csv(frame, header=True), headers=CSV_HEADERS)
    assert plain.status_code == headed.status_code == 200
    assert plain.headers["content-type"].startswith("text/csv")
    assert plain.text == headed.text
    assert len(plain.text.splitlines()) == 10
    probabilities, _ = _csv_answer(plain.text)
    np.testing.assert_allclose(
        probabilities, expected_probabilities(bundle_dir, frame), rtol=0, atol=1e-12
    )


def test_csv_can_answer_json(client: TestClient) -> None:
    frame = make_frame(3, seed=18)
    response = client.post(
        "/invocations",
        content=_csv(frame),
        headers={**CSV_HEADERS, "accept": "application/json"},
    )
    assert response.headers["content-type"] == "application/json"
    assert len(response.json()["predictions"]) == 3


def test_large_csv_is_scored_off_the_event_loop(client: TestClient, bundle_dir: Path) -> None:
    frame = make_frame(3000, seed=19)
    body = _csv(frame)
    assert len(body) > 64 * 1024
    response = client.post("/invocations", content=body, headers=CSV_HEADERS)
    probabilities, _ = _csv_answer(response.text)
    np.testing.assert_allclose(
        probabilities, expected_probabilities(bundle_dir, frame), rtol=0, atol=1e-12
    )


def test_csv_empty_fields_are_missing_values(hgb_bundle_dir: Path) -> None:
    client = TestClient(create_inference_app(bundle_dir=hgb_bundle_dir))
    cells = _csv(make_frame(1, seed=20)).strip().split(",")
    cells[FEATURES.index("rating")] = ""
    response = client.post("/invocations", content=",".join(cells), headers=CSV_HEADERS)
    assert response.status_code == 200


# --- feature mismatch ----------------------------------------------------------------------


def test_missing_and_unexpected_features_are_named(client: TestClient) -> None:
    rows = records(make_frame(3, seed=21))
    del rows[2]["rating"]
    rows[2]["surge"] = 1.0
    response = client.post("/invocations", json={"instances": rows})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "feature_mismatch"
    assert body["details"]["missing"] == ["rating"]
    assert body["details"]["unexpected"] == ["surge"]
    assert body["details"]["row"] == 2
    assert "instances[2]" in body["message"]
    assert "rating" in body["message"]
    assert "surge" in body["message"]


def test_columnar_inputs_mismatch(client: TestClient) -> None:
    rows = records(make_frame(2, seed=22))
    columns = {f: [row[f] for row in rows] for f in FEATURES if f != "tenure_days"}
    response = client.post("/invocations", json={"inputs": columns})
    assert response.status_code == 422
    assert response.json()["details"]["missing"] == ["tenure_days"]
    columns["tenure_days"] = [1]
    response = client.post("/invocations", json={"inputs": columns})
    assert response.status_code == 422
    assert response.json()["error"] == "bad_shape"


def test_array_rows_of_wrong_length(client: TestClient) -> None:
    response = client.post("/invocations", json={"instances": [[1.0, 2.0]]})
    assert response.status_code == 422
    assert response.json()["error"] == "feature_mismatch"
    assert "expected 14" in response.json()["message"]


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        (list(reversed(FEATURES)), "different order"),
        ([*FEATURES[:-1], "surge"], "unexpected: surge"),
    ],
)
def test_csv_header_must_equal_the_feature_list(
    client: TestClient, header: list[str], fragment: str
) -> None:
    body = ",".join(header) + "\n" + _csv(make_frame(2, seed=23))
    response = client.post("/invocations", content=body, headers=CSV_HEADERS)
    assert response.status_code == 400
    assert response.json()["error"] == "csv_header"
    assert fragment in response.json()["message"]
    assert response.json()["details"]["expected_order"] == FEATURES


def test_csv_wrong_column_count(client: TestClient) -> None:
    lines = _csv(make_frame(3, seed=24)).splitlines()
    lines[1] = lines[1] + ",9.9"
    response = client.post("/invocations", content="\n".join(lines), headers=CSV_HEADERS)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "csv_columns"
    assert "line 2 has 15 columns, expected 14" in body["message"]
    assert ", ".join(FEATURES) in body["message"]
    assert body["details"]["expected_order"] == FEATURES


# --- types ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("feature", "value", "fragment"),
    [
        ("rating", "4.5", "expected a number, got string '4.5'"),
        ("online_hours", True, "expected a number, got boolean true"),
        ("conv_rate", {"x": 1}, "expected a number, got an object"),
        ("customer_segment", 3, "expected a string, got number 3"),
    ],
)
def test_wrong_json_types_name_feature_and_row(
    client: TestClient, feature: str, value: Any, fragment: str
) -> None:
    rows = records(make_frame(4, seed=25))
    rows[3][feature] = value
    response = client.post("/invocations", json={"instances": rows})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_value"
    assert body["details"] == {"row": 3, "feature": feature}
    assert body["message"].startswith(f"instances[3].{feature}: ")
    assert fragment in body["message"]


def test_wrong_csv_type_names_line_and_feature(client: TestClient) -> None:
    lines = _csv(make_frame(3, seed=26)).splitlines()
    cells = lines[2].split(",")
    cells[FEATURES.index("rating")] = "high"
    lines[2] = ",".join(cells)
    response = client.post("/invocations", content="\n".join(lines), headers=CSV_HEADERS)
    assert response.status_code == 422
    body = response.json()
    assert body["details"] == {"row": 2, "feature": "rating"}
    assert body["message"] == (
        "CSV line 3, column 4 (rating): expected a number, got string 'high'"
    )


def test_csv_infinity_is_refused(client: TestClient) -> None:
    cells = _csv(make_frame(1, seed=27)).strip().split(",")
    cells[0] = "inf"
    response = client.post("/invocations", content=",".join(cells), headers=CSV_HEADERS)
    assert response.status_code == 422
    assert "finite" in response.json()["message"]


def test_unknown_category_with_strict_encoder(strict_bundle_dir: Path) -> None:
    client = TestClient(create_inference_app(bundle_dir=strict_bundle_dir))
    assert client.get("/metadata").json()["categories"]["customer_segment"] == [
        "business",
        "plus",
        "standard",
    ]
    rows = records(make_frame(2, seed=28))
    rows[1]["customer_segment"] = "gold"
    response = client.post("/invocations", json={"instances": rows})
    assert response.status_code == 422
    assert (
        "unknown category 'gold', expected one of: business, plus, standard"
        in (response.json()["message"])
    )


def test_missing_values_the_model_cannot_score(client: TestClient, hgb_bundle_dir: Path) -> None:
    rows = records(make_frame(3, seed=29))
    rows[1]["rating"] = None
    response = client.post("/invocations", json={"instances": rows})
    assert response.status_code == 422
    assert response.json()["error"] == "missing_values"
    assert response.json()["details"] == {"row": 1, "feature": "rating"}
    hgb = TestClient(create_inference_app(bundle_dir=hgb_bundle_dir))
    assert hgb.post("/invocations", json={"instances": rows}).status_code == 200


# --- empty, shape, media types, size -------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"", "application/json"),
        (b'{"instances": []}', "application/json"),
        (b"[]", "application/json"),
        (b'{"inputs": {}}', "application/json"),
        (b"", "text/csv"),
        (b"\n\n", "text/csv"),
        (",".join(FEATURES).encode() + b"\n", "text/csv"),
    ],
)
def test_empty_input_is_422(client: TestClient, content: bytes, content_type: str) -> None:
    response = client.post("/invocations", content=content, headers={"content-type": content_type})
    assert response.status_code == 422, response.text
    assert response.json()["error"] in {"empty_input", "feature_mismatch"}


def test_empty_columnar_inputs(client: TestClient) -> None:
    response = client.post("/invocations", json={"inputs": {f: [] for f in FEATURES}})
    assert response.status_code == 422
    assert response.json()["error"] == "empty_input"


@pytest.mark.parametrize(
    "payload", [{"rows": []}, {"instances": {"a": 1}}, "text", {"instances": [1, 2]}]
)
def test_unknown_json_shapes_are_422(client: TestClient, payload: Any) -> None:
    response = client.post("/invocations", json=payload)
    assert response.status_code == 422
    assert response.json()["error"] == "bad_shape"


def test_bare_record_gets_a_hint(client: TestClient) -> None:
    response = client.post("/invocations", json=records(make_frame(1, seed=34))[0])
    assert response.status_code == 422
    assert '{"instances": [record]}' in response.json()["message"]


def test_malformed_bodies_are_400(client: TestClient) -> None:
    bad_json = client.post(
        "/invocations", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    assert bad_json.json()["error"] == "malformed_json"
    bad_csv = client.post("/invocations", content=b"\xff\xfe\x00", headers=CSV_HEADERS)
    assert bad_csv.status_code == 400


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_unsupported_content_type_is_415(client: TestClient, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/invocations", content=b"1,2,3", headers=headers)
    assert response.status_code == 415
    assert response.json()["details"]["supported"] == ["application/json", "text/csv"]


def test_content_type_parameters_are_ignored(client: TestClient) -> None:
    response = client.post(
        "/invocations",
        content=orjson.dumps(records(make_frame(1, seed=30))),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200


def test_unsupported_accept_is_406(client: TestClient) -> None:
    response = client.post(
        "/invocations", json=records(make_frame(1, seed=31)), headers={"accept": "application/xml"}
    )
    assert response.status_code == 406


def test_oversize_body_is_413(client: TestClient, bundle_dir: Path) -> None:
    big = b"[" + b" " * DEFAULT_MAX_BODY_BYTES + b"]"
    response = client.post(
        "/invocations", content=big, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["details"]["max_body_bytes"] == DEFAULT_MAX_BODY_BYTES
    small = TestClient(create_inference_app(bundle_dir=bundle_dir, max_body_bytes=1000))
    body = _csv(make_frame(20, seed=32))
    assert small.post("/invocations", content=body, headers=CSV_HEADERS).status_code == 413

    def chunks() -> Any:  # no Content-Length: the limit applies while streaming
        yield body.encode()

    assert small.post("/invocations", content=chunks(), headers=CSV_HEADERS).status_code == 413
    with pytest.raises(ServerConfigError):
        create_inference_app(bundle_dir=bundle_dir, max_body_bytes=0)


# --- server faults -------------------------------------------------------------------------


class _Exploding:
    def predict_proba(self, frame: Any) -> Any:
        raise RuntimeError("secret internal detail /etc/passwd")


def test_500_never_carries_exception_text(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(app.state.predictor, "_estimator", _Exploding())
    client = TestClient(app, raise_server_exceptions=False)
    response = client.post("/invocations", json=records(make_frame(1, seed=33)))
    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"
    assert "secret" not in response.text
    assert "RuntimeError" not in response.text
    assert "secret internal detail" in caplog.text  # the log keeps the traceback


def test_unknown_routes_use_the_error_shape(client: TestClient) -> None:
    assert client.get("/nope").json()["error"] == "not_found"
    assert client.get("/invocations").status_code == 405
