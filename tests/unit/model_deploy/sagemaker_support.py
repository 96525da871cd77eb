"""What the SageMaker deploy tests need on top of the moto server kit (``kits.servers``).

The server (``moto_server``, with the ``update_endpoint`` patch) and its reset come from the
kit; here are the boto3 clients that record every ``update_endpoint`` and the canned answers of
``invoke_endpoint``. On moto, endpoints are ``InService`` at once and vanish at once on delete.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from kits.servers import moto_server, reset_moto

__all__ = [
    "IMAGE",
    "PACKAGE_ARN",
    "REGION",
    "ROLE",
    "Clients",
    "moto_server",
    "queue_answers",
    "reset_moto",
]

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/slipway-sagemaker"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/slipway-inference:1"
PACKAGE_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/driver-ranking/{}"


class Clients:
    """boto3 clients on the moto server; records the parameters of every update_endpoint."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.updates: list[dict[str, Any]] = []
        self._session: Any = None

    def __call__(self, service: str) -> Any:
        import boto3

        if self._session is None:
            self._session = boto3.session.Session(
                region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
            )
        client = self._session.client(service, endpoint_url=self.url)
        client.meta.events.register(
            "provide-client-params.sagemaker.UpdateEndpoint",
            lambda params, **_: self.updates.append(dict(params)),
        )
        return client


def queue_answers(url: str, *answers: list[float]) -> None:
    """Queue invoke_endpoint answers, one per distinct request body, in order."""
    results = [
        {
            "Body": json.dumps(
                {"predictions": [{"probability": p, "label": int(p >= 0.5)} for p in probs]}
            ),
            "ContentType": "application/json",
            "InvokedProductionVariant": "AllTraffic",
            "CustomAttributes": "",
        }
        for probs in answers
    ]
    httpx.post(
        f"{url}/moto-api/static/sagemaker/endpoint-results", json={"results": results}, timeout=10
    )


def use_hand_made_config(client: Any, *, endpoint: str, instance_count: int) -> None:
    """Point the endpoint at a config made by hand (as in the console): no slipway tags."""
    ours = client.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    client.create_endpoint_config(
        EndpointConfigName="hand-made",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": ours,
                             "InstanceType": "ml.m5.large",
                             "InitialInstanceCount": instance_count}],
    )  # fmt: skip
    client.update_endpoint(EndpointName=endpoint, EndpointConfigName="hand-made")
