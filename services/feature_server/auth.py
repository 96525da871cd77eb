"""API keys: a file of SHA-256 hashes, each key scoped to feature services.

File format (YAML, or the same structure as JSON)::

    keys:
      - name: ranking-service            # label used in logs, never the key
        sha256: 9f86d081884c7d65...      # hex digest of the key
        feature_services: [driver_ranking_v1]
      - name: ops
        sha256: 60303ae22b998861...
        feature_services: ["*"]          # every service, and raw feature lists
        roles: [read, write, admin]      # default [read]; write: push and
                                         # write-to-online-store; admin: materialize

Keys arrive as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. Only their hashes are
stored or compared; no key is ever logged. The file is reloaded when it changes.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.errors import ServerConfigError
from services.feature_server.errors import ForbiddenError, UnauthorizedError

logger = logging.getLogger(__name__)

ALL = "*"


class _KeyEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    feature_services: list[str] = Field(min_length=1)
    roles: list[Literal["read", "write", "admin"]] = Field(default=["read"], min_length=1)


class _KeyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: list[_KeyEntry]


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An accepted key: its label, the feature services it may read and its roles."""

    name: str
    scopes: frozenset[str]
    roles: frozenset[str] = field(default=frozenset({"read"}))

    @property
    def unrestricted(self) -> bool:
        """Whether the key may read everything, including raw feature lists."""
        return ALL in self.scopes


def hash_key(key: str) -> str:
    """Return the hex SHA-256 digest stored for a key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def generate_key() -> tuple[str, str]:
    """Create a random key.

    Returns:
        ``(key, sha256 hex digest)``: hand out the key, put the digest in the keys file.
    """
    key = "slw_" + secrets.token_urlsafe(32)
    return key, hash_key(key)


def load_keys(path: Path) -> dict[str, ApiKey]:
    """Read a keys file.

    Returns:
        Accepted keys by digest.

    Raises:
        ServerConfigError: The file is missing or malformed; the message names it and the field.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ServerConfigError(f"{path}: cannot read API keys file: {type(exc).__name__}") from exc
    except yaml.YAMLError as exc:
        raise ServerConfigError(f"{path}: API keys file is not valid YAML/JSON") from exc
    try:
        parsed = _KeyFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ServerConfigError(f"{path}: field '{where}': {first['msg']}") from exc
    keys: dict[str, ApiKey] = {}
    for entry in parsed.keys:
        digest = entry.sha256.lower()
        if digest in keys:
            raise ServerConfigError(f"{path}: key '{entry.name}' repeats the hash of another key")
        keys[digest] = ApiKey(
            name=entry.name, scopes=frozenset(entry.feature_services), roles=frozenset(entry.roles)
        )
    return keys


RELOAD_SECONDS: Final = 0.5
"""How often a request checks the keys file for a change (one ``stat``)."""


class ApiKeyStore:
    """The accepted keys, reloaded within ``RELOAD_SECONDS`` of a change to the file.

    A keys file that disappears or turns malformed while the server runs denies every key
    (fail closed) until it is fixed, with one error line in the log per change; the file
    must be valid at start-up.

    Attributes:
        path: The keys file, or None when auth is off.
        problem: Why every key is denied now (file missing or malformed), or None.
    """

    def __init__(self, path: Path | None) -> None:
        """Load the keys file (if any).

        ``path`` None turns auth off.

        Raises:
            ServerConfigError: The file is missing or malformed.
        """
        self.path = path
        self.problem: str | None = None
        self._keys: dict[str, ApiKey] = {}
        self._ident: tuple[int, int, int, int] | None = None
        self._checked = time.monotonic()
        if path is not None:
            self._keys = load_keys(path)
            try:
                self._ident = _ident(path)
            except OSError as exc:  # removed between the read and the stat
                raise ServerConfigError(f"{path}: cannot read API keys file") from exc

    @property
    def enabled(self) -> bool:
        """Whether requests need a key."""
        return self.path is not None

    def reload_if_changed(self) -> None:
        """Reload the file when it changed (identity, size or mtime); fail closed if bad."""
        if self.path is None:
            return
        self._checked = time.monotonic()
        try:
            ident = _ident(self.path)
        except OSError:
            self._deny("API keys file is missing")
            return
        if ident == self._ident and self.problem is None:
            return
        self._ident = ident
        try:
            self._keys = load_keys(self.path)
        except ServerConfigError as exc:
            self._deny(str(exc))
            return
        self.problem = None
        logger.info("API keys reloaded: %d keys", len(self._keys))

    def _deny(self, problem: str) -> None:
        self._keys = {}
        self._ident = None
        if problem != self.problem:
            logger.error("%s; every API key is refused until it is fixed", problem)
        self.problem = problem

    def authenticate(self, headers: Iterable[tuple[bytes, bytes]]) -> ApiKey | None:
        """Find the key a request presents.

        ``headers`` are raw ASGI headers (lower-case names).

        Returns:
            The key, or None when auth is off.

        Raises:
            UnauthorizedError: Auth is on and no accepted key was presented (or the keys file
                is missing or malformed: then no key is accepted).
        """
        if self.path is None:
            return None
        if time.monotonic() - self._checked >= RELOAD_SECONDS:
            self.reload_if_changed()
        token = token_from_headers(headers)
        if token is None:
            raise UnauthorizedError(
                "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
            )
        key = self._keys.get(hash_key(token))
        if key is None:
            if self.problem is not None:
                raise UnauthorizedError(
                    "API key refused: the server's keys file is missing or invalid"
                )
            raise UnauthorizedError("invalid API key")
        return key


def _ident(path: Path) -> tuple[int, int, int, int]:
    stat = path.stat()
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def token_from_headers(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """Extract the presented key from ``Authorization: Bearer`` or ``X-API-Key``."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
        elif name == b"x-api-key" and value.strip():
            return value.decode("latin-1").strip()
    return None


def check_scope(key: ApiKey | None, *, service: str | None) -> None:
    """Refuse requests outside the key's scope.

    ``key`` is None when auth is off; ``service`` is None for a raw feature list.

    Raises:
        ForbiddenError: The key may not read this service, or raw lists need a ``*`` key.
    """
    if key is None or key.unrestricted:
        return
    if service is None:
        raise ForbiddenError(
            f"API key '{key.name}' may read only its feature services; raw feature lists "
            "need a key scoped to '*'"
        )
    if service not in key.scopes:
        raise ForbiddenError(f"API key '{key.name}' may not read feature service {service!r}")


def may_read(key: ApiKey | None, service: str) -> bool:
    """Whether a key (None: auth off) may read a feature service."""
    return key is None or key.unrestricted or service in key.scopes


def check_role(key: ApiKey | None, role: Literal["write", "admin"], *, action: str) -> None:
    """Refuse a write (``write``) or a materialization (``admin``) the key may not do.

    ``key`` is None when auth is off: every route is then open, as in ``feast serve``
    without auth. ``admin`` implies ``write``.

    Raises:
        ForbiddenError: The key lacks the role; the message names the key, action and role.
    """
    if key is None or role in key.roles or "admin" in key.roles:
        return
    raise ForbiddenError(f"API key '{key.name}' may not {action}: it needs the '{role}' role")
