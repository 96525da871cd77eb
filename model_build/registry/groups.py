"""SageMaker model package groups: the one way Slipway finds and creates a model's group.

Both the registry (on its first registration of a model) and the pipeline client (before the
RegisterModel step can run) need the group to exist, with Slipway's description naming the
model. :func:`ensure_group` is race-safe: when two builds create the same group at once, the
loser's "already exists" is success, as long as the group belongs to the same model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from model_build.errors import BuildError, RegistryError
from model_build.registry.sagemaker_metadata import group_description, group_name, owner_of_group

if TYPE_CHECKING:
    from foundation.aws import AwsCalls


@dataclass(frozen=True)
class Group:
    """A model package group as Slipway sees it.

    Attributes:
        name: The group name (``driver-ranking`` for model ``driver_ranking``).
        arn: Its ARN.
        owner: The model it holds: the name in Slipway's description, else the group name.
    """

    name: str
    arn: str
    owner: str | None


def find_group(aws: AwsCalls, *, model_name: str) -> Group | None:
    """The group that would hold ``model_name``, or None when it does not exist.

    Raises:
        RegistryError: The name cannot be a group name, or AWS failed (other than "not found").
    """
    name = group_name(model_name)
    answer = aws.call_or_none(
        "sagemaker", "describe_model_package_group", ModelPackageGroupName=name
    )
    if answer is None:
        return None
    return Group(name=name, arn=str(answer["ModelPackageGroupArn"]), owner=owner_of_group(answer))


def ensure_group(aws: AwsCalls, *, model_name: str) -> Group:
    """Make sure the model's group exists and belongs to it; create it when missing.

    A create that fails because the group appeared meanwhile (another build won the race) is
    success; any other failure is raised.

    Raises:
        BuildError: AWS refused (the error class of ``aws``).
        RegistryError: The group holds another model (``driver-ranking`` and
            ``driver_ranking`` map to the same group name).
    """
    group = find_group(aws, model_name=model_name)
    if group is None:
        name = group_name(model_name)
        try:
            aws.call(
                "sagemaker",
                "create_model_package_group",
                ModelPackageGroupName=name,
                ModelPackageGroupDescription=group_description(model_name),
            )
        except BuildError:  # the caller's AwsCalls may raise a RegistryError or PipelineError
            group = find_group(aws, model_name=model_name)
            if group is None:  # not a lost race: the create itself failed
                raise
        else:
            group = find_group(aws, model_name=model_name)
        if group is None:
            raise RegistryError(f"SageMaker group {name} was created but cannot be described")
    if group.owner != model_name:
        raise RegistryError(
            f"cannot register {model_name!r}: SageMaker group {group.name} belongs to model "
            f"{group.owner!r}; choose another model name"
        )
    return group
