"""Thin boto3 plumbing for the SageMaker registry: lazy clients, error mapping, S3 helpers.

Every AWS failure becomes a ``RegistryError`` (or ``VersionNotFoundError`` where the caller says
a missing resource means "not found") with the operation, the error code and AWS's message;
credentials never appear in messages.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

from model_build.errors import RegistryError, VersionNotFoundError

ClientFactory = Callable[[str], Any]
"""Makes a boto3 client for a service name (``"sagemaker"``, ``"s3"``)."""

_NOT_FOUND_CODES = frozenset({"ResourceNotFound", "NoSuchKey", "NoSuchBucket", "404", "NotFound"})


def boto3_clients(*, region: str, endpoint_url: str | None = None) -> ClientFactory:
    """A client factory using the default AWS credential chain.

    Args:
        region: AWS region.
        endpoint_url: Endpoint for every service (e.g. a moto server), or None for AWS.

    Returns:
        A function making one boto3 client per service name.
    """

    def make(service: str) -> Any:
        import boto3
        from botocore.config import Config

        config = Config(s3={"addressing_style": "path"}) if endpoint_url else None
        session = boto3.session.Session(region_name=region)
        return session.client(service, endpoint_url=endpoint_url, config=config)

    return make


class AwsCalls:
    """Calls AWS through clients made on first use.

    Args:
        factory: Makes a boto3 client per service name.
        page_size: Items per page of SageMaker list operations (1-100).
    """

    def __init__(self, factory: ClientFactory, *, page_size: int = 100) -> None:
        self._factory = factory
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
        """Call one client method and map its errors.

        Args:
            service: ``sagemaker`` or ``s3``.
            operation: The boto3 method name, e.g. ``describe_model_package``.
            not_found: If given, a missing resource raises ``VersionNotFoundError`` with this text.
            **kwargs: The method's arguments.

        Returns:
            The answer (an empty dict for methods returning None).

        Raises:
            VersionNotFoundError: The resource is missing and ``not_found`` was given.
            RegistryError: Any other AWS or transport failure.
        """
        import boto3.exceptions
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = getattr(self.client(service), operation)(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = str(error.get("Code", "")), str(error.get("Message", ""))
            if not_found is not None and is_not_found(code, message):
                raise VersionNotFoundError(not_found) from exc
            raise RegistryError(f"{service} {operation} failed: {code}: {message}") from exc
        except (BotoCoreError, boto3.exceptions.Boto3Error) as exc:
            raise RegistryError(f"{service} {operation} failed: {exc}") from exc
        return cast(dict[str, Any], answer) if isinstance(answer, dict) else {}

    def paged(self, operation: str, items: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Yield the ``items`` of every page of a SageMaker list operation."""
        token: str | None = None
        while True:
            extra = {"NextToken": token} if token else {}
            page = self.call("sagemaker", operation, MaxResults=self.page_size, **kwargs, **extra)
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
        """Read a JSON document.

        Raises:
            RegistryError: The object is missing or not a JSON object.
        """
        bucket, key = split_s3(uri)
        try:
            answer = self.call("s3", "get_object", not_found="missing", Bucket=bucket, Key=key)
        except VersionNotFoundError as exc:
            raise RegistryError(f"{ref}: {uri} not found") from exc
        try:
            doc = json.loads(answer["Body"].read())
        except ValueError as exc:
            raise RegistryError(f"{ref}: {uri} is not valid JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise RegistryError(f"{ref}: {uri} is not a JSON object")
        return cast(dict[str, Any], doc)

    def download(self, uri: str, *, path: Path, ref: str) -> Path:
        """Download an object to ``path``.

        Raises:
            RegistryError: The object is missing.
        """
        bucket, key = split_s3(uri)
        try:
            self.call(
                "s3",
                "download_file",
                not_found="missing",
                Bucket=bucket,
                Key=key,
                Filename=str(path),
            )
        except VersionNotFoundError as exc:
            raise RegistryError(f"{ref}: {uri} not found") from exc
        return path


def is_not_found(code: str, message: str) -> bool:
    """Whether an AWS error code and message mean "no such resource"."""
    text = message.lower()
    return code in _NOT_FOUND_CODES or (
        code == "ValidationException" and ("not found" in text or "does not exist" in text)
    )


def split_s3(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into bucket and key.

    Raises:
        RegistryError: Not an ``s3://`` URI with a key.
    """
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise RegistryError(f"not an s3:// URI: {uri!r}")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key
