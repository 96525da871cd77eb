"""``/invocations?explain=true``: SHAP contributions per row, bounded in rows and features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from inference_bundles import FEATURES, make_frame, records, write_bundle

from services.inference.server import MAX_EXPLAIN_ROWS, create_inference_app

ALL = len(FEATURES)


@pytest.fixture(scope="module")
def tree_client(hgb_bundle_dir: Path) -> TestClient:
    return TestClient(create_inference_app(bundle_dir=hgb_bundle_dir))


@pytest.fixture(scope="module")
def fallback_client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    folder = tmp_path_factory.mktemp("explain") / "logreg"
    write_bundle(folder, background=make_frame(60, seed=9))
    return TestClient(create_inference_app(bundle_dir=folder))


def _post(client: TestClient, rows: int, query: str, **headers: str) -> object:
    body = {"instances": records(make_frame(rows, seed=4))}
    return client.post(f"/invocations?{query}", json=body, headers=headers)


@pytest.mark.parametrize(
    ("query", "headers", "status", "code"),
    [
        ("explain=maybe", {}, 400, "bad_query"),
        ("explain=true&explain_top=0", {}, 400, "bad_query"),
        ("explain=true&explain_top=21", {}, 400, "bad_query"),
        ("explain=true", {"Accept": "text/csv"}, 406, "not_acceptable"),
    ],
)
def test_bad_explain_requests_are_refused(
    tree_client: TestClient, query: str, headers: dict[str, str], status: int, code: str
) -> None:
    answer = _post(tree_client, 2, query, **headers)
    assert answer.status_code == status, answer.text  # type: ignore[attr-defined]
    assert answer.json()["error"] == code  # type: ignore[attr-defined]


def test_more_rows_than_the_cap_are_refused(tree_client: TestClient) -> None:
    answer = _post(tree_client, MAX_EXPLAIN_ROWS + 1, "explain=true")
    assert answer.status_code == 422  # type: ignore[attr-defined]
    assert answer.json()["details"]["max_rows"] == MAX_EXPLAIN_ROWS  # type: ignore[attr-defined]


def test_a_model_without_trees_or_background_cannot_be_explained(client: TestClient) -> None:
    answer = _post(client, 2, "explain=true")
    assert answer.status_code == 501  # type: ignore[attr-defined]
    assert answer.json()["error"] == "explain_unavailable"  # type: ignore[attr-defined]
    assert _post(client, 2, "explain=false").status_code == 200  # type: ignore[attr-defined]


def test_tree_contributions_add_up_to_the_log_odds_of_the_answer(
    tree_client: TestClient,
) -> None:
    answer = _post(tree_client, 5, f"explain=true&explain_top={ALL}").json()  # type: ignore[attr-defined]
    explanation = answer["explanation"]
    assert (explanation["method"], explanation["kind"], explanation["top"]) == (
        "tree",
        "raw_score",
        ALL,
    )
    for prediction, (row,) in zip(answer["predictions"], explanation["rows"], strict=True):
        p = prediction["probability"]
        total = row["expected_value"] + sum(c["shap"] for c in row["contributions"])
        assert total == pytest.approx(np.log(p / (1 - p)), abs=1e-6)
        assert {c["feature"] for c in row["contributions"]} == set(FEATURES)
    top = _post(tree_client, 3, "explain=true").json()["explanation"]  # type: ignore[attr-defined]
    first = top["rows"][0][0]["contributions"]
    assert len(first) == 5
    sizes = [abs(c["shap"]) for c in first]
    assert sizes == sorted(sizes, reverse=True)


def test_the_fallback_explains_the_served_probability(fallback_client: TestClient) -> None:
    answer = _post(fallback_client, 4, f"explain=true&explain_top={ALL}").json()  # type: ignore[attr-defined]
    assert answer["explanation"]["method"] == "permutation"
    assert answer["explanation"]["kind"] == "probability"
    for prediction, (row,) in zip(
        answer["predictions"], answer["explanation"]["rows"], strict=True
    ):
        total = row["expected_value"] + sum(c["shap"] for c in row["contributions"])
        assert total == pytest.approx(prediction["probability"], abs=1e-12)
