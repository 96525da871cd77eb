"""Freeze windows: nothing changes an environment during one of its freeze windows."""

from __future__ import annotations

from model_deploy.policies.result import PolicyContext, PolicyResult

NAME = "freeze-window"


def check_freeze_windows(ctx: PolicyContext) -> PolicyResult:
    """Check ``now`` against the manifest's freeze windows."""
    windows = ctx.manifest.freeze_windows
    if not windows:
        return PolicyResult(NAME, "skip", f"The {ctx.env} manifest has no freeze windows.")
    for window in windows:
        if window.start <= ctx.now < window.end:
            return PolicyResult(
                NAME,
                "fail",
                f"{ctx.env} is frozen until {window.end.isoformat()} ({window.reason}).",
            )
    upcoming = sorted(w.start for w in windows if w.start > ctx.now)
    after = f" The next one starts {upcoming[0].isoformat()}." if upcoming else ""
    return PolicyResult(NAME, "pass", f"{ctx.env} is outside its freeze windows.{after}")
