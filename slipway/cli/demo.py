"""``slipway demo``: the main job, the whole loop on the embedded default."""

from __future__ import annotations

from typing import Annotated

import typer


def demo_command(
    workdir: Annotated[
        str, typer.Option(help="Folder for the demo's state (git forge, registry, reports).")
    ] = ".slipway/demo",
    keep_running: Annotated[
        bool,
        typer.Option(help="Leave the dev/staging/prod endpoints running after the demo."),
    ] = False,
) -> None:
    """Run the whole loop on the embedded default, with no cloud at all.

    Data -> gate -> features apply/materialize -> build -> register -> approve -> promote to
    dev, staging and prod by local pull requests (plan comment, approval, merge, deploy) ->
    online features from the feature service -> a prediction from the prod endpoint.
    """
    from slipway.demo.run import run_demo

    run_demo(workdir=workdir, keep_running=keep_running)
