"""The one way Slipway reads settings from the environment.

Every area declares a pydantic-settings class; :func:`load_settings` builds it and turns a
validation failure into one :class:`~foundation.errors.SettingsError` that names each variable
at fault and never echoes its value (a value may be a secret).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import AliasChoices, ValidationError
from pydantic_settings import BaseSettings

from foundation.errors import SettingsError

S = TypeVar("S", bound=BaseSettings)


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Build ``cls`` from the environment; ``overrides`` that are not None win over it.

    Raises:
        SettingsError: A variable is invalid; the message names every such variable.
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return cls(**given)
    except ValidationError as exc:
        problems = "; ".join(
            f"{variable_name(cls, error['loc'])}: {error['msg']}"
            for error in exc.errors(include_input=False)
        )
        raise SettingsError(f"invalid settings: {problems}") from exc


def variable_name(cls: type[BaseSettings], loc: tuple[int | str, ...]) -> str:
    """The environment variable behind a validation error's location (its first alias, if any)."""
    if not loc:
        return cls.__name__
    field_name = str(loc[0])
    field = cls.model_fields.get(field_name)
    alias = field.validation_alias if field is not None else None
    if isinstance(alias, AliasChoices) and alias.choices:
        first = alias.choices[0]
        name = first if isinstance(first, str) else str(first)
    elif isinstance(alias, str):
        name = alias
    else:
        prefix = str(cls.model_config.get("env_prefix") or "")
        name = f"{prefix}{field_name}"
    rest = "_".join(str(part) for part in loc[1:])
    return (f"{name}_{rest}" if rest else name).upper()
