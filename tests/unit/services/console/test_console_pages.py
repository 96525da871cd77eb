"""The models, version, compare and features pages, and links to the forge."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from kits.console_state import ConsoleState

from ci.settings import CiSettings
from services.console.readers import ConsoleContext, Readers


def test_models_page_names_each_environments_version(client: TestClient) -> None:
    html = client.get("/models").text
    assert 'href="/models/trip_fare"' in html
    assert 'href="/models/trip_fare/versions/3">v3</a>' in html
    assert 'href="/models/trip_fare/versions/1">v1</a>' in html


def test_model_page_lists_versions_newest_first_with_where_they_are_named(
    client: TestClient,
) -> None:
    html = client.get("/models/driver_ranking").text
    assert html.index('versions/3">v3') < html.index('versions/1">v1')
    assert "<td>dev</td>" in html
    assert "<td>prod</td>" in html
    assert 'action="/models/driver_ranking/compare"' in html


def test_compare_shows_both_versions_and_verdicts(client: TestClient) -> None:
    html = client.get("/models/trip_fare/compare?a=1&b=3").text
    assert "trip_fare: v1 against v3" in html
    assert 'badge-better">better' in html
    assert "Changed: artifact_digest" in html


def test_version_page_serves_its_plots_and_refuses_other_paths(
    state: ConsoleState, client: TestClient
) -> None:
    plots = state.runs / "run-trip_fare-2" / "plots"
    plots.mkdir(parents=True)
    (plots / "roc.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    (state.runs / "secret.png").write_bytes(b"no")
    html = client.get("/models/trip_fare/versions/2").text
    assert 'src="/runs/run-trip_fare-2/plots/roc.png"' in html
    assert "0000000000000000000000000000000000000002" in html, "the git SHA"
    image = client.get("/runs/run-trip_fare-2/plots/roc.png")
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    for path in ("/runs/run-trip_fare-2/plots/..%2F..%2Fsecret.png", "/runs/../plots/x.png",
                 "/runs/run-trip_fare-2/plots/missing.png"):  # fmt: skip
        assert client.get(path).status_code == 404, path


def test_features_page_without_registry_still_shows_validations(
    client: TestClient, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "trips_source.json").write_text(
        json.dumps(
            {
                "statistics": {"evaluated_expectations": 4, "successful_expectations": 3},
                "meta": {"slipway": {"source": "trips_source", "gate_passed": False}},
            }
        )
    )
    (reports / "broken.json").write_text("{not json")
    html = client.get("/features").text
    assert "The feature registry could not be read" in html
    assert "trips_source" in html
    assert 'badge-failure">failed' in html
    assert "3 / 4" in html


def test_pr_links_on_github_come_from_the_settings(context: ConsoleContext) -> None:
    assert Readers(context).pr_web_url(4) is None, "the local forge has no web address"
    context.ci = CiSettings(forge="github", github_repository="acme/gitops")
    assert Readers(context).pr_web_url(4) == "https://github.com/acme/gitops/pull/4"
    context.ci = CiSettings(
        forge="github", github_repository="acme/gitops", github_api_url="https://ghe.acme/api/v3"
    )
    assert Readers(context).pr_web_url(4) == "https://ghe.acme/acme/gitops/pull/4"


def test_data_docs_are_served_sandboxed(client: TestClient, tmp_path: Path) -> None:
    docs = tmp_path / "reports" / "data_docs"
    docs.mkdir(parents=True)
    (docs / "index.html").write_text("<html><script src='https://cdn.test/x.js'></script></html>")
    answer = client.get("/data-docs/index.html")
    assert answer.status_code == 200
    assert answer.headers["content-security-policy"].startswith("sandbox allow-scripts")
    assert "script-src 'self'" in client.get("/").headers["content-security-policy"]
    assert client.get("/data-docs/../../etc/passwd").status_code == 404
