"""Freeze windows: nothing changes an environment during one of its freeze windows.

An emergency change (a recorded reason) is not refused: the window is ``waived``, and the plan
says it needs the owners' approval (the promotion tooling checks it).
"""

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
            frozen = f"{ctx.env} is frozen until {window.end.isoformat()} ({window.reason})"
            if ctx.emergency:
                return PolicyResult(
                    NAME,
                    "waived",
                    f"{frozen}; waived for an emergency ({ctx.emergency}), which needs the "
                    "owners' approval.",
                )
            return PolicyResult(NAME, "fail", f"{frozen}.")
    upcoming = sorted(w.start for w in windows if w.start > ctx.now)
    after = f" The next one starts {upcoming[0].isoformat()}." if upcoming else ""
    return PolicyResult(NAME, "pass", f"{ctx.env} is outside its freeze windows.{after}")
