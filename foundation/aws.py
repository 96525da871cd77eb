"""The one way Slipway talks to AWS: lazy boto3 clients and one error mapping.

Every area passes its own error classes, so an AWS failure surfaces as that area's error (a
``RegistryError``, a ``TargetError``...) naming the service, the operation, AWS's error code and
message. Credentials come from boto3's default chain and never appear in a message.
boto3 is imported on the first call, never at import time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

ClientFactory = Callable[[str], Any]
"""Makes a boto3 client for a service name (``"sagemaker"``, ``"s3"``, ``"sagemaker-runtime"``)."""

_NOT_FOUND_CODES = frozenset(
    {
        "ResourceNotFound",
        "NoSuchKey",
        "NoSuchBucket",
        "404",
        "NotFound",
        "ResourceNotFoundException",
    }
)


def boto3_clients(*, region: str, endpoint_url: str | None = None) -> ClientFactory:
    """A client factory on the default credential chain; ``endpoint_url`` serves every service.

    With an ``endpoint_url`` (a moto server, a VPC endpoint) S3 uses path-style addressing.
    """

    def make(service: str) -> Any:
        import boto3
        from botocore.config import Config

        config = Config(s3={"addressing_style": "path"}) if endpoint_url else None
        session = boto3.session.Session(region_name=region)
        return session.client(service, endpoint_url=endpoint_url, config=config)

    return make


def is_not_found(code: str, message: str) -> bool:
    """Whether an AWS error code and message mean "no such resource"."""
    text = message.lower()
    return code in _NOT_FOUND_CODES or (
        code == "ValidationException"
        and ("not found" in text or "does not exist" in text or "could not find" in text)
    )


def split_s3(uri: str) -> tuple[str, str] | None:
    """``s3://bucket/key`` as (bucket, key); None when ``uri`` is not an S3 URI with a key."""
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        return None
    bucket, key = uri[5:].split("/", 1)
    return (bucket, key) if bucket and key else None


class AwsCalls:
    """Calls AWS through clients made on first use, mapping failures to the caller's errors.

    ``error`` is raised for every failure; ``not_found_error`` (default: ``error``) when the
    caller passed ``not_found=`` and AWS said the resource does not exist.
    """

    def __init__(
        self,
        factory: ClientFactory,
        *,
        error: type[Exception],
        not_found_error: type[Exception] | None = None,
        page_size: int = 100,
    ) -> None:
        self._factory = factory
        self._error = error
        self._not_found_error = not_found_error or error
        self.page_size = page_size
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        """The client for ``service``, made on first use."""
        if service not in self._clients:
            self._clients[service] = self._factory(service)
        return self._clients[service]

    def call(
        self, service: str, operation: str, *, not_found: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Call ``operation`` on the ``service`` client; an empty dict when it returns None.

        A missing resource raises ``not_found_error(not_found)`` when ``not_found`` is given;
        every other failure raises ``error`` naming the service, operation, code and message.
        """
        answer = self._call(service, operation, kwargs)
        if answer is not None:
            return answer
        if not_found is not None:
            raise self._not_found_error(not_found)
        raise self._error(f"{service} {operation} failed: the resource does not exist")

    def call_or_none(self, service: str, operation: str, **kwargs: Any) -> dict[str, Any] | None:
        """Like :meth:`call`, but None when AWS says the resource does not exist."""
        return self._call(service, operation, kwargs)

    def _call(self, service: str, operation: str, kwargs: dict[str, Any]) -> dict[str, Any] | None:
        import boto3.exceptions
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = getattr(self.client(service), operation)(**kwargs)
        except ClientError as exc:
            failure = exc.response.get("Error", {})
            code, message = str(failure.get("Code", "")), str(failure.get("Message", ""))
            if is_not_found(code, message):
                return None
            raise self._error(f"{service} {operation} failed: {code}: {message}") from exc
        except (BotoCoreError, boto3.exceptions.Boto3Error) as exc:
            raise self._error(f"{service} {operation} failed: {exc}") from exc
        return cast(dict[str, Any], answer) if isinstance(answer, dict) else {}

    def paged(
        self, operation: str, items: str, *, service: str = "sagemaker", **kwargs: Any
    ) -> Iterator[dict[str, Any]]:
        """Yield the ``items`` of every page of a list operation (``NextToken`` paging)."""
        token: str | None = None
        while True:
            extra = {"NextToken": token} if token else {}
            page = self.call(service, operation, MaxResults=self.page_size, **kwargs, **extra)
            yield from page.get(items) or []
            token = page.get("NextToken")
            if not token:
                return

    def upload_file(self, path: Path, *, bucket: str, key: str) -> str:
        """Upload a file (multipart when large) and return its ``s3://`` URI."""
        self.call("s3", "upload_file", Filename=str(path), Bucket=bucket, Key=key)
        return f"s3://{bucket}/{key}"

    def put_json(self, doc: dict[str, Any], *, bucket: str, key: str) -> str:
        """Write a JSON document and return its ``s3://`` URI."""
        body = json.dumps(doc, indent=2, allow_nan=False).encode()
        self.call(
            "s3", "put_object", Bucket=bucket, Key=key, Body=body, ContentType="application/json"
        )
        return f"s3://{bucket}/{key}"

    def get_json(self, uri: str, *, ref: str) -> dict[str, Any]:
        """Read a JSON object from S3; ``ref`` names what it belongs to in the error message."""
        bucket, key = self._split(uri)
        answer = self.call_or_none("s3", "get_object", Bucket=bucket, Key=key)
        if answer is None:
            raise self._error(f"{ref}: {uri} not found")
        try:
            doc = json.loads(answer["Body"].read())
        except ValueError as exc:
            raise self._error(f"{ref}: {uri} is not valid JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise self._error(f"{ref}: {uri} is not a JSON object")
        return cast(dict[str, Any], doc)

    def download(self, uri: str, *, path: Path, ref: str) -> Path:
        """Download an S3 object to ``path``; ``ref`` names it in the error message."""
        bucket, key = self._split(uri)
        answer = self.call_or_none(
            "s3", "download_file", Bucket=bucket, Key=key, Filename=str(path)
        )
        if answer is None:
            raise self._error(f"{ref}: {uri} not found")
        return path

    def _split(self, uri: str) -> tuple[str, str]:
        parts = split_s3(uri)
        if parts is None:
            raise self._error(f"not an s3:// URI: {uri!r}")
        return parts
