"""The feature repo on disk: which ``feature_store*.yaml`` to use, loaded strictly.

Feast's own loader raises a multi-line pydantic dump; here every problem becomes one line that
names the file (and the field or line) so a newcomer can fix it.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from feature_store.errors import FeastOperationError, RepoConfigError
from feature_store.settings import FeatureEnv, FeatureStoreSettings
from feature_store.spark.session import INSTALL_PYSPARK, uses_spark, with_spark_settings
from foundation.settings import load_settings

if TYPE_CHECKING:
    from feast import FeatureStore
    from feast.repo_config import RepoConfig
    from feast.repo_contents import RepoContents

YAML_BY_ENV: dict[str, str] = {
    "local": "feature_store.yaml",
    "redis": "feature_store.redis.yaml",
    "redis_cluster": "feature_store.redis_cluster.yaml",
    "spark": "feature_store.spark.yaml",
    "aws": "feature_store.aws.yaml",
}
_ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class FeatureRepo:
    """A declarative Feast repo folder plus the store configuration chosen for it.

    Attributes:
        path: Absolute path of the repo folder.
        env: Store configuration name (a key of :data:`YAML_BY_ENV`).
    """

    path: Path
    env: FeatureEnv = "local"

    @classmethod
    def from_settings(
        cls, settings: FeatureStoreSettings | None = None, *, path: Path | None = None
    ) -> FeatureRepo:
        """A repo handle (nothing is read from disk yet); ``path`` overrides the settings' repo.

        ``settings`` are read from the environment (``SLIPWAY_FEATURE_*``) when omitted.
        """
        settings = settings or load_settings(FeatureStoreSettings)
        return cls(path=(path or settings.feature_repo).resolve(), env=settings.feature_env)

    @property
    def yaml_path(self) -> Path:
        """The ``feature_store*.yaml`` file for this environment."""
        return self.path / YAML_BY_ENV[self.env]

    @property
    def data_dir(self) -> Path:
        """Where the repo's Parquet sources and local stores live."""
        return self.path / "data"

    @cached_property
    def config(self) -> RepoConfig:
        """The validated Feast ``RepoConfig``.

        Raises:
            RepoConfigError: The file is missing, is not YAML, names an unset variable or has an
                invalid field. The message names the file and the field or line.
        """
        return load_repo_config(repo_path=self.path, yaml_path=self.yaml_path)

    def open_store(self) -> FeatureStore:
        """Open a Feast ``FeatureStore`` on this repo with the validated config.

        Returns:
            The feature store.

        Raises:
            RepoConfigError: The configuration is invalid.
            FeastOperationError: Feast could not open the store.
        """
        config = self.config
        from feast import FeatureStore

        try:
            return FeatureStore(repo_path=str(self.path), config=config)
        except (OSError, ValueError, RuntimeError) as exc:
            raise FeastOperationError(
                f"{self.yaml_path}: cannot open the feature store: {exc}"
            ) from exc

    def parse(self) -> RepoContents:
        """Import the repo's Python definitions and collect the Feast objects.

        Returns:
            The repo contents as Feast's ``parse_repo`` gives them.

        Raises:
            FeastOperationError: A definitions file fails to import; the message names it.
        """
        from feast.repo_operations import parse_repo

        with _inside(self.path):
            try:
                return parse_repo(self.path)
            except (ImportError, SyntaxError, NameError, TypeError, ValueError) as exc:
                where = _failing_file(exc, self.path)
                raise FeastOperationError(
                    f"{where}: cannot load feature definitions: {type(exc).__name__}: {exc}"
                ) from exc


def load_repo_config(*, repo_path: Path, yaml_path: Path) -> RepoConfig:
    """Read and validate a ``feature_store.yaml``.

    Args:
        repo_path: The repo folder; relative paths in the config resolve against it.

    Returns:
        Feast's validated ``RepoConfig``.

    Raises:
        RepoConfigError: One line naming the file and what is wrong with it.
    """
    raw = _read_yaml(yaml_path)
    if uses_spark(raw):
        raw = with_spark_settings(raw)
    from feast.errors import FeastError as FeastLibraryError
    from feast.repo_config import RepoConfig
    from pydantic import ValidationError

    known = {f.alias or name for name, f in RepoConfig.model_fields.items()} - {"repo_path"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise RepoConfigError(
            f"{yaml_path}: field '{unknown[0]}': unknown setting "
            f"(known: {', '.join(sorted(known))})"
        )
    try:
        config = RepoConfig(**raw)
        # Feast resolves store classes lazily; resolve them now so errors surface here.
        _ = (config.online_store, config.offline_store, config.registry)
        if "batch_engine" in raw:
            _ = config.batch_engine
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(top level)"
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise RepoConfigError(f"{yaml_path}: field '{field}': {first['msg']}{more}") from exc
    except ImportError as exc:
        raise _missing_package_error(yaml_path, exc) from exc
    except (FeastLibraryError, ValueError, TypeError, KeyError) as exc:
        missing = _import_error_cause(exc)  # Feast wraps a failed store import in its own error
        if missing is not None and _is_spark_package(missing):
            raise _missing_package_error(yaml_path, missing) from exc
        detail = " ".join(str(exc).split())
        kind = type(exc).__name__
        for section, marker in (("online_store", "OnlineStore"), ("offline_store", "OfflineStore")):
            if marker in kind:
                store_type = (raw.get(section) or {}).get("type")
                raise RepoConfigError(
                    f"{yaml_path}: field '{section}.type': unknown store type {store_type!r}"
                ) from exc
        raise RepoConfigError(f"{yaml_path}: invalid store configuration: {detail}") from exc
    config.repo_path = repo_path
    return config


def _import_error_cause(exc: BaseException) -> ImportError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ImportError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _is_spark_package(exc: ImportError) -> bool:
    return (exc.name or "").split(".")[0] in ("pyspark", "py4j")


def _missing_package_error(yaml_path: Path, exc: ImportError) -> RepoConfigError:
    name = exc.name or str(exc)
    if _is_spark_package(exc):
        return RepoConfigError(
            f"{yaml_path}: the Spark store configuration needs pyspark, which is not "
            f"installed: {INSTALL_PYSPARK}"
        )
    return RepoConfigError(
        f"{yaml_path}: the configured store needs a package that is not installed "
        f"({name}); install Slipway with its extras"
    )


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise RepoConfigError(f"{path}: file not found (is this a Slipway feature repo?)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RepoConfigError(f"{path}: cannot read: {exc}") from exc
    missing = sorted({m for m in _ENV_VAR.findall(text) if m not in os.environ})
    if missing:
        raise RepoConfigError(f"{path}: environment variable(s) not set: {', '.join(missing)}")
    text = _ENV_VAR.sub(lambda m: os.environ[m.group(1)], text)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RepoConfigError(f"{path}: {where}invalid YAML: {problem}") from exc
    if not isinstance(raw, dict):
        raise RepoConfigError(f"{path}: expected a mapping of settings, got {type(raw).__name__}")
    # An empty endpoint (e.g. SLIPWAY_DYNAMODB_ENDPOINT="") means "use the provider default".
    store = raw.get("online_store")
    if isinstance(store, dict) and store.get("endpoint_url") in ("", None):
        store.pop("endpoint_url", None)
    return raw


@contextmanager
def _inside(repo_path: Path) -> Iterator[None]:
    """Run Feast's repo import with the repo as cwd and import root, forgetting stale modules."""
    old_cwd = Path.cwd()
    root = str(repo_path)
    stems = {
        ".".join(p.relative_to(repo_path).with_suffix("").parts) for p in repo_path.glob("**/*.py")
    }
    for name in stems:
        sys.modules.pop(name, None)
    sys.path.insert(0, root)
    old_bytecode = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    os.chdir(repo_path)
    try:
        yield
    finally:
        os.chdir(old_cwd)
        sys.dont_write_bytecode = old_bytecode
        if root in sys.path:
            sys.path.remove(root)


def _failing_file(exc: BaseException, repo_path: Path) -> str:
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno}"
    tb = exc.__traceback__
    last = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.startswith(str(repo_path)):
            last = f"{filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return last or str(repo_path)
