"""Renderings of plans, apply results and statuses for people: terminal text and markdown.

JSON is the CLI's one renderer's job (``slipway.cli.output.emit``): every result here is a
pydantic model, dumped as it is.
"""

from __future__ import annotations

from model_deploy.render.markdown import plan_markdown
from model_deploy.render.text import plan_text, result_text, status_text

__all__ = ["plan_markdown", "plan_text", "result_text", "status_text"]
