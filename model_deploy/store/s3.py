"""The S3 state store: locks, histories and intents every runner sees (GitHub-hosted runners).

Layout under ``s3://<bucket>/<prefix>/``::

    <env>/lock.json                 the lock note; taken with ``put_object(IfNoneMatch="*")``,
                                    refreshed, taken over and released with ``IfMatch=<ETag>``
    <env>/history/<ns>-<id>.json    one DeploymentRecord per object (created, never replaced);
                                    the key's nanosecond time orders the history
    <env>/intent.json               the intent of the run in progress

Conditional writes make the lock safe between runners: of two runs taking a free (or stale)
lock at once, exactly one write succeeds. Every other AWS failure is a ``StateStoreError``
naming the operation (through :class:`foundation.aws.AwsCalls`).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from foundation.aws import AwsCalls, ClientFactory
from model_deploy.errors import LockedError, StateStoreError
from model_deploy.store.records import (
    DeployHistory,
    DeployIntent,
    DeploymentRecord,
    IntentRead,
    Lease,
    LockNote,
    LockOwner,
    new_note,
    parse_intent,
    parse_records,
)

_CONFLICT_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})


class S3StateStore:
    """Locks, histories and intents as objects under ``s3://<bucket>/<prefix>/<env>/``."""

    kind = "s3"

    def __init__(
        self, *, clients: ClientFactory, bucket: str, prefix: str = "slipway/deploy-state"
    ) -> None:
        self._aws = AwsCalls(clients, error=StateStoreError)
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def location(self, env: str) -> str:
        """``s3://<bucket>/<prefix>/<env>``."""
        return f"s3://{self.bucket}/{self._key(env, '')}".rstrip("/")

    # -- lock ----------------------------------------------------------------------------------

    def acquire(self, env: str, *, owner: LockOwner, ttl: float) -> Lease:
        """Take the lock (see :meth:`StateStore.acquire`)."""
        key = self._key(env, "lock.json")
        note = new_note(owner, token=uuid.uuid4().hex, ttl=ttl)
        body = note.model_dump_json()
        for _ in range(3):  # the lock may be released between our two calls
            etag = self._put_if(key, body, IfNoneMatch="*")
            if etag is not None:
                return Lease(env=env, note=note, version=etag)
            found = self._get(key)
            if found is None:
                continue
            text, current_etag = found
            current = LockNote.parse(text)
            if current is None:
                took_over = "took over a corrupt lock"
            else:
                stale = current.stale(now=datetime.now(UTC))
                if stale is None:
                    raise _locked(env, current, where=f"s3://{self.bucket}/{key}")
                took_over = f"took over the stale lock of {current.owner.describe()}: {stale}"
            etag = self._put_if(key, body, IfMatch=current_etag)
            if etag is not None:
                return Lease(env=env, note=note, version=etag, took_over=took_over)
        holder = self.holder(env)
        raise LockedError(
            f"{env}: another run took the lock first"
            + (f" ({holder.describe()})" if holder else ""),
            holder=holder.describe() if holder else None,
        )

    def refresh(self, lease: Lease, *, ttl: float) -> Lease:
        """Extend the lease (see :meth:`StateStore.refresh`)."""
        key = self._key(lease.env, "lock.json")
        note = new_note(lease.note.owner, token=lease.note.token, ttl=ttl)
        etag = self._put_if(key, note.model_dump_json(), IfMatch=lease.version or "*")
        if etag is None:
            holder = self.holder(lease.env)
            by = holder.describe() if holder else "nobody"
            raise LockedError(f"{lease.env}: the lock was lost (it is now held by {by})", holder=by)
        return Lease(env=lease.env, note=note, version=etag)

    def release(self, lease: Lease) -> None:
        """Give the lease back (see :meth:`StateStore.release`)."""
        key = self._key(lease.env, "lock.json")
        found = self._get(key)
        if found is None:
            return
        current = LockNote.parse(found[0])
        if current is None or current.token != lease.note.token:
            return
        self._conditional("delete_object", Key=key, IfMatch=found[1])

    def holder(self, env: str) -> LockOwner | None:
        """The live holder, if any."""
        found = self._get(self._key(env, "lock.json"))
        current = LockNote.parse(found[0]) if found else None
        if current is None or current.stale(now=datetime.now(UTC)) is not None:
            return None
        return current.owner

    # -- history -------------------------------------------------------------------------------

    def append_history(self, env: str, record: DeploymentRecord) -> None:
        """Create one object named after the time in nanoseconds."""
        key = self._key(env, f"history/{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json")
        if self._put_if(key, record.model_dump_json(), IfNoneMatch="*") is None:
            raise StateStoreError(f"s3://{self.bucket}/{key} already exists")

    def read_history(self, env: str) -> DeployHistory:
        """Every readable record object, oldest first."""
        prefix = self._key(env, "history/")
        keys: list[str] = []
        token: str | None = None
        while True:
            extra = {"ContinuationToken": token} if token else {}
            page = self._aws.call(
                "s3", "list_objects_v2", Bucket=self.bucket, Prefix=prefix, **extra
            )
            keys += [str(item["Key"]) for item in page.get("Contents") or []]
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                break
        items = []
        for key in sorted(keys):
            found = self._get(key)
            if found is not None:
                items.append((key.rsplit("/", 1)[-1], found[0]))
        return parse_records(items, where=f"s3://{self.bucket}/{prefix}")

    # -- intent --------------------------------------------------------------------------------

    def write_intent(self, env: str, intent: DeployIntent) -> None:
        """Replace ``intent.json``."""
        self._aws.call(
            "s3",
            "put_object",
            Bucket=self.bucket,
            Key=self._key(env, "intent.json"),
            Body=intent.model_dump_json().encode(),
            ContentType="application/json",
        )

    def read_intent(self, env: str) -> IntentRead:
        """``intent.json``, if any."""
        key = self._key(env, "intent.json")
        found = self._get(key)
        if found is None:
            return IntentRead(None, False, [])
        return parse_intent(found[0], where=f"s3://{self.bucket}/{key}")

    def clear_intent(self, env: str) -> None:
        """Delete ``intent.json``."""
        self._aws.call("s3", "delete_object", Bucket=self.bucket, Key=self._key(env, "intent.json"))

    # -- plumbing ------------------------------------------------------------------------------

    def _key(self, env: str, name: str) -> str:
        return f"{self.prefix}/{env}/{name}" if self.prefix else f"{env}/{name}"

    def _get(self, key: str) -> tuple[str, str] | None:
        answer = self._aws.call_or_none("s3", "get_object", Bucket=self.bucket, Key=key)
        if answer is None:
            return None
        body = answer["Body"].read()
        return body.decode("utf-8", "replace"), str(answer.get("ETag", ""))

    def _put_if(self, key: str, body: str, **condition: str) -> str | None:
        answer = self._conditional(
            "put_object",
            Key=key,
            Body=body.encode(),
            ContentType="application/json",
            **condition,
        )
        return None if answer is None else str(answer.get("ETag", ""))

    def _conditional(self, operation: str, **kwargs: Any) -> dict[str, Any] | None:
        """A conditional write: None when its precondition does not hold.

        ``AwsCalls`` maps every failure to one error; a failed precondition is an answer here
        (another runner won the race), so this one call reads the error code itself.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = getattr(self._aws.client("s3"), operation)(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            failure = exc.response.get("Error", {})
            code = str(failure.get("Code", ""))
            if code in _CONFLICT_CODES:
                return None
            raise StateStoreError(
                f"s3 {operation} {kwargs.get('Key')} failed: {code}: {failure.get('Message', '')}"
            ) from exc
        except BotoCoreError as exc:
            raise StateStoreError(f"s3 {operation} failed: {exc}") from exc
        return dict(answer) if isinstance(answer, dict) else {}


def _locked(env: str, note: LockNote, *, where: str) -> LockedError:
    holder = note.owner.describe()
    return LockedError(
        f"{env}: another {holder} is running; wait for it to finish (lock: {where})",
        holder=holder,
    )
