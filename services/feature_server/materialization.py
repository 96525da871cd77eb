"""``POST /materialize`` and ``/materialize-incremental``: Feast's own materialization, for admins.

The bodies are Feast's (``start_ts``, ``end_ts``, ``feature_views``,
``disable_event_timestamp``, ``full_feature_names``, ``version``) and the work is Feast's
``FeatureStore.materialize`` / ``materialize_incremental`` in a worker thread; the reply is
Feast's (200, ``null``). With API keys on, the key needs the ``admin`` role. Feast's
``?async=true`` (a 202 and a background job) is not served: a request asking for it is
refused with 422 rather than run synchronously behind the client's back.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from services.feature_server.auth import check_role
from services.feature_server.errors import NotFoundError, UnavailableError, ValidationError
from services.feature_server.request import check_content_type, flag, load_json

_VERSION: Final = re.compile(r"^(?:[vV]\d+|latest)$")
_EARLIEST: Final = datetime(1678, 1, 1, tzinfo=UTC)
_LATEST: Final = datetime(2262, 1, 1, tzinfo=UTC)
MATERIALIZE_ROUTE: Final = "/materialize"
INCREMENTAL_ROUTE: Final = "/materialize-incremental"


@dataclass(frozen=True, slots=True)
class MaterializeRequest:
    """A parsed materialization body (``start`` is None for an incremental one)."""

    start: datetime | None
    end: datetime
    views: list[str] | None
    disable_event_timestamp: bool
    full_feature_names: bool
    version: str | None


def _timestamp(data: dict[str, Any], name: str) -> datetime:
    value = data.get(name)
    if type(value) is not str or not value:
        raise ValidationError(f"{name!r} must be a timestamp string (ISO 8601)")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(f"{name!r} is not a timestamp: {value[:64]!r}") from exc
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    if not _EARLIEST <= moment <= _LATEST:
        raise ValidationError(f"{name!r} is outside the years pandas timestamps hold (1678-2261)")
    return moment


def parse_materialize(body: bytes, *, incremental: bool) -> MaterializeRequest:
    """Parse a materialization body.

    Raises:
        ValidationError: A field is missing or wrong; the message names it.
    """
    data = load_json(body)
    if type(data) is not dict:
        raise ValidationError("request body must be a JSON object")
    views = data.get("feature_views")
    if views is not None and (type(views) is not list or any(type(v) is not str for v in views)):
        raise ValidationError("'feature_views' must be a list of feature view names")
    version = data.get("version")
    if version is not None:
        if type(version) is not str or not _VERSION.match(version):
            raise ValidationError("'version' must be a version such as 'v2'")
        if views is None or len(views) != 1:
            raise ValidationError("'version' needs 'feature_views' with exactly one view")
    disable = (
        False
        if incremental
        else flag("disable_event_timestamp", data.get("disable_event_timestamp", False))
    )
    start: datetime | None = None
    if incremental:
        end = _timestamp(data, "end_ts")
    elif disable:
        start, end = datetime(1970, 1, 1, tzinfo=UTC), datetime.now(UTC)
    else:
        start, end = _timestamp(data, "start_ts"), _timestamp(data, "end_ts")
        if start >= end:
            raise ValidationError(f"'start_ts' ({start}) must be before 'end_ts' ({end})")
    return MaterializeRequest(
        start=start,
        end=end,
        views=views,
        disable_event_timestamp=disable,
        full_feature_names=flag("full_feature_names", data.get("full_feature_names", False)),
        version=version,
    )


def feast_materialize(store: Any, request: MaterializeRequest) -> None:
    """Run Feast's materialization (in a worker thread)."""
    if request.start is None:
        store.materialize_incremental(
            request.end,
            request.views,
            full_feature_names=request.full_feature_names,
            version=request.version,
        )
    else:
        store.materialize(
            request.start,
            request.end,
            request.views,
            disable_event_timestamp=request.disable_event_timestamp,
            full_feature_names=request.full_feature_names,
            version=request.version,
        )


async def handle_materialize(
    state: Any,
    *,
    incremental: bool,
    headers: Iterable[tuple[bytes, bytes]],
    query: bytes,
    body: Callable[[], Awaitable[bytes]],
) -> bytes:
    """Serve a materialization; the reply body (``null``).

    Raises:
        ApiError: Refused (auth, role, shape, unknown view, ``?async=true``).
    """
    key = state.keys.authenticate(headers)
    check_role(key, "admin", action="materialize")
    if b"async=true" in query.lower():
        raise ValidationError(
            "async materialization (?async=true) is not served; call without it",
            code="async_not_served",
        )
    check_content_type(headers)
    request = parse_materialize(await body(), incremental=incremental)
    snapshot = state.watcher.snapshot
    store = state.watcher.store
    if snapshot is None or store is None:
        raise UnavailableError("feature registry not loaded yet", code="registry_unavailable")
    if request.version is not None and not getattr(
        state.config.registry, "enable_online_feature_view_versioning", False
    ):
        raise ValidationError(
            "'version' needs enable_online_feature_view_versioning in the repo config",
            code="versioning_off",
        )
    for name in request.views or []:
        if name not in snapshot.views:
            raise NotFoundError(
                f"feature view {name!r} not found",
                code="unknown_feature_view",
                feast_class="FeatureViewNotFoundException",
            )
    async with state.write_lock:
        try:
            await asyncio.to_thread(feast_materialize, store, request)
        except ValueError as exc:  # Feast's refusal of the arguments (a client error)
            raise ValidationError(
                f"Feast refused the materialization: {type(exc).__name__}", code="feast_refused"
            ) from exc
    return b"null"
