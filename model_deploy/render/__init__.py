"""Renderings of plans, apply results and statuses: text, markdown (plans) and JSON."""

from __future__ import annotations

import json
from typing import Literal

from model_deploy.apply import ApplyResult
from model_deploy.plan import Plan
from model_deploy.render.markdown import plan_markdown
from model_deploy.render.text import plan_text, result_text, status_text
from model_deploy.status import EnvStatus

Format = Literal["text", "markdown", "json"]


def render_plan(plan: Plan, *, fmt: Format) -> str:
    """Render a plan.

    Args:
        plan: The plan.
        fmt: ``text``, ``markdown`` or ``json``.

    Returns:
        The rendering.
    """
    if fmt == "markdown":
        return plan_markdown(plan)
    if fmt == "json":
        return plan.model_dump_json(indent=2) + "\n"
    return plan_text(plan)


def render_result(result: ApplyResult, *, fmt: Format) -> str:
    """Render an apply or rollback result (markdown falls back to text).

    Args:
        result: The result.
        fmt: Format.

    Returns:
        The rendering.
    """
    if fmt == "json":
        return result.model_dump_json(indent=2) + "\n"
    return result_text(result)


def render_status(statuses: list[EnvStatus], *, fmt: Format) -> str:
    """Render statuses (markdown falls back to text).

    Args:
        statuses: One per environment.
        fmt: Format.

    Returns:
        The rendering.
    """
    if fmt == "json":
        return json.dumps([s.model_dump(mode="json") for s in statuses], indent=2) + "\n"
    return status_text(statuses)


__all__ = ["Format", "plan_markdown", "render_plan", "render_result", "render_status"]
