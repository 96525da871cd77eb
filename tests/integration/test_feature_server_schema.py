"""schemathesis against the service's OpenAPI schema on a live server: no 5xx, conforming answers.

Every operation gets up to 60 generated cases (valid and invalid bodies, headers, methods);
the checks are: no server error, documented status codes, content types, response schemas and
headers, and rejection of schema-invalid data. "Valid data must be accepted" is left out on
purpose: a schema-valid body may still name an unknown feature (404) or entity column (422).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from kits.feature_repos import demo_repo
from kits.feature_servers import service_process
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from feature_store.demo_data import DemoSizes

pytestmark = pytest.mark.integration

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("schema")
    sizes = DemoSizes(drivers=4, customers=4, days=2, trips=20)
    repo = demo_repo(base / "feature_repo", sizes=sizes, seed=3)
    with service_process(repo=repo.path, log=base / "server.log") as server:
        server.wait_http("/readyz")
        yield server.url


def _registry_schema(url: str) -> dict[str, Any]:
    """The published schema with request values narrowed to this registry's names and keys.

    Generated bodies then reach the store and the on-demand view instead of stopping at
    validation; responses are still checked against the published response schemas.
    """
    raw: dict[str, Any] = httpx.get(f"{url}/openapi.json").json()
    services = httpx.get(f"{url}/v1/feature-services").json()["feature_services"]
    refs = sorted({f for s in services for f in s["features"]})
    one = {"minItems": 1, "maxItems": 1}
    body = raw["paths"]["/get-online-features"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    body["properties"]["features"] = {
        "type": "array",
        "items": {"enum": refs},
        "minItems": 1,
        "maxItems": 4,
        "uniqueItems": True,
    }
    body["properties"]["feature_service"] = {"enum": [s["name"] for s in services]}
    body["anyOf"] = [{"required": ["features"]}, {"required": ["feature_service"]}]
    body["properties"]["entities"] = {
        "type": "object",
        "properties": {
            "driver_id": {"type": "array", "items": {"enum": [1001, 1002, 5]}, **one},
            "customer_id": {"type": "array", "items": {"enum": [201, 9]}, **one},
            "trip_distance_km": {"type": "array", "items": {"type": "number"}, **one},
        },
        "required": ["driver_id", "customer_id", "trip_distance_km"],
        "additionalProperties": False,
    }
    return raw


@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    ("variant", "mode"),
    [
        ("published", GenerationMode.POSITIVE),
        ("published", GenerationMode.NEGATIVE),
        ("registry", GenerationMode.POSITIVE),
    ],
)
def test_api_conforms_to_its_schema(server_url: str, variant: str, mode: GenerationMode) -> None:
    if variant == "published":
        api_schema = schemathesis.openapi.from_url(f"{server_url}/openapi.json")
    else:
        api_schema = schemathesis.openapi.from_dict(_registry_schema(server_url))
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/get-online-features", "/readyz", "/metrics"}
    statuses: Counter[int] = Counter()
    for operation in operations:
        if mode == GenerationMode.NEGATIVE and operation.method.upper() != "POST":
            continue  # nothing to break in a GET without parameters
        if mode == GenerationMode.POSITIVE and operation.path.startswith("/materialize"):
            continue  # a valid case runs a real materialization (test_feature_server_sdk)

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=60,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: schemathesis.Case) -> None:
            response = case.call_and_validate(base_url=server_url, checks=CHECKS)
            statuses[response.status_code] += 1

        check()
    assert not any(status >= 500 for status in statuses)
    if variant == "registry":
        assert statuses[200] >= 40, statuses  # the read path itself was exercised
