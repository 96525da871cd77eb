"""The environments file (``model_deploy/environments.yaml``): names, order, rules, defaults.

Environments are declared here, never inferred from file names: which environments exist and
in what order versions travel through them (dev -> staging -> prod), which take only Approved
versions, which only versions built from a clean commit, which only versions deployed healthily
in another environment (the promotion path, from that environment's deploy history), which
only a version serving healthily upstream right now (the promotion order), and the policy
defaults (freeze windows, thresholds, regression limits, bake checks) every manifest of the
environment gets unless it sets its own. A manifest's environment is the folder it is in
(``model_deploy/environments/<env>/<model>.yaml``), and that folder must be declared here: so
every manifest in ``prod/`` gets prod's rules, whatever its file name.

Strict like the manifests: unknown keys, wrong types and references to undeclared or later
environments are errors, all reported at once, each naming the file, the field and the line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from model_deploy.errors import ManifestError, ManifestIssue
from model_deploy.manifest.checks import BakeChecks, FreezeWindow, PolicySettings

ENVIRONMENTS_FILE = "environments.yaml"
"""File name of the environments file, beside the manifests folder."""

_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)
_ENV = r"^[a-z][a-z0-9-]{0,31}$"


class EnvironmentDefaults(BaseModel):
    """Policy fields a manifest of the environment gets when it leaves them out.

    Attributes:
        freeze_windows: Periods when nothing may be applied.
        policy: Metric thresholds and regression limits.
        bake: What a new version must hold while it bakes.
    """

    model_config = _STRICT

    freeze_windows: list[FreezeWindow] | None = None
    policy: PolicySettings | None = None
    bake: BakeChecks | None = None

    def fills(self) -> dict[str, Any]:
        """Manifest fields to fill in (as JSON values) where a manifest leaves them out."""
        out: dict[str, Any] = {}
        for name in ("freeze_windows", "policy", "bake"):
            value = getattr(self, name)
            if value is not None:
                out[name] = (
                    [item.model_dump(mode="json") for item in value]
                    if isinstance(value, list)
                    else value.model_dump(mode="json")
                )
        return out


class EnvironmentRules(BaseModel):
    """One environment: what it takes and the defaults of its manifests.

    Attributes:
        name: The environment (the key in the file; also its manifests' folder).
        description: Free text.
        requires_approval: Takes only versions whose registry status is Approved (every
            environment refuses Rejected ones).
        requires_clean_build: Takes only versions built from a known, clean commit (no
            ``git unknown``, no dirty tree).
        promote_from: Takes only versions whose deploy in that environment succeeded (its
            deploy history): the promotion path. An earlier environment.
        upstream: Takes only the version serving, healthy, in that environment now: the
            promotion order. An earlier environment.
        defaults: Policy fields its manifests get unless they set them.
    """

    model_config = _STRICT

    name: str = Field(default="", pattern=r"^$|" + _ENV)
    description: str = Field(default="", max_length=500)
    requires_approval: bool = False
    requires_clean_build: bool = False
    promote_from: str | None = Field(default=None, pattern=_ENV)
    upstream: str | None = Field(default=None, pattern=_ENV)
    defaults: EnvironmentDefaults = EnvironmentDefaults()

    def fills(self) -> dict[str, Any]:
        """Manifest fields (JSON values) filled in where a manifest leaves them out.

        The defaults, and ``promotion`` from ``promote_from``.
        """
        out = self.defaults.fills()
        if self.promote_from is not None:
            out["promotion"] = {"from": self.promote_from}
        return out


class Environments(BaseModel):
    """Every environment, in promotion order (the order of the file).

    Attributes:
        environments: Environment name to its rules.
    """

    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, title="Slipway environments"
    )

    environments: dict[str, EnvironmentRules] = Field(min_length=1)

    @model_validator(mode="after")
    def _references(self) -> Environments:
        names = list(self.environments)
        problems = []
        for index, (name, rules) in enumerate(self.environments.items()):
            if not _valid_name(name):
                problems.append(f"{name!r} is not an environment name (like dev, staging, prod)")
            if rules.name and rules.name != name:
                problems.append(f"{name}.name is {rules.name!r}; leave it out or make it {name!r}")
            for field in ("promote_from", "upstream"):
                other = getattr(rules, field)
                if other is not None and other not in names[:index]:
                    problems.append(
                        f"{name}.{field} is {other!r}, which is not an environment declared "
                        f"before {name} ({', '.join(names[:index]) or 'none'})"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def names(self) -> list[str]:
        """Environment names in promotion order."""
        return list(self.environments)

    def rules(self, env: str) -> EnvironmentRules:
        """The rules of ``env`` (named).

        Raises:
            KeyError: ``env`` is not declared.
        """
        return self.environments[env].model_copy(update={"name": env})

    def order(self, names: list[str]) -> list[str]:
        """``names`` (environments or ``<env>/<name>`` keys) in promotion order, then sorted."""
        rank = {name: index for index, name in enumerate(self.environments)}
        return sorted(
            set(names),
            key=lambda key: (rank.get(key.split("/", 1)[0], len(rank)), key),
        )


def _valid_name(name: str) -> bool:
    import re

    return re.fullmatch(_ENV, name) is not None


def parse_environments(*, text: str, source: str) -> Environments:
    """Validate the environments file's text; ``source`` names it in messages.

    Raises:
        ManifestError: Not YAML, or invalid; every issue names the file, the field and the
            line.
    """
    from model_deploy.manifest.loader import parse_document, validation_issues

    document, plain = parse_document(text=text, source=source)
    try:
        return Environments.model_validate(plain)
    except ValidationError as exc:
        raise ManifestError(
            validation_issues(exc, root=document, source=source, model=Environments)
        ) from exc


def load_environments(*, path: Path) -> Environments:
    """Read and validate the environments file at ``path``.

    Raises:
        ManifestError: It is missing (environments are never guessed), unreadable or invalid.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ManifestError(
            [
                ManifestIssue(
                    str(path),
                    None,
                    None,
                    "file not found: the environments (dev, staging, prod...) and their rules "
                    "are declared there",
                )
            ]
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError([ManifestIssue(str(path), None, None, f"cannot read: {exc}")]) from exc
    return parse_environments(text=text, source=str(path))


def environments_path(manifests_dir: Path) -> Path:
    """Where the environments file of a manifests folder lives: beside it."""
    return manifests_dir.parent / ENVIRONMENTS_FILE


def environments_repo_path(manifests_dir: str) -> str:
    """The repository path (``/``-separated) of the environments file of ``manifests_dir``."""
    parent = manifests_dir.strip("/").rpartition("/")[0]
    return f"{parent}/{ENVIRONMENTS_FILE}" if parent else ENVIRONMENTS_FILE


def environments_schema() -> dict[str, Any]:
    """The JSON Schema of the environments file."""
    return Environments.model_json_schema(mode="validation")
