"""Statuses within the TTL are served as read; older ones are served while read again."""

from __future__ import annotations

import time

from model_deploy.status import EnvStatus
from services.console.status_cache import StatusCache


def test_fresh_stale_and_ttl_zero() -> None:
    calls: list[str] = []
    version = {"n": 1}

    def read(key: str) -> EnvStatus:
        calls.append(key)
        return EnvStatus(env=key, desired_ref=f"m:{version['n']}")

    cache = StatusCache(ttl=0.2)
    first = cache.get(["dev/m", "prod/m"], read)
    assert [first[k].status.desired_ref for k in first] == ["m:1", "m:1"]
    assert calls == ["dev/m", "prod/m"]
    version["n"] = 2
    assert cache.get(["dev/m"], read)["dev/m"].status.desired_ref == "m:1", "fresh: no read"
    assert calls == ["dev/m", "prod/m"]
    time.sleep(0.25)
    stale = cache.get(["dev/m"], read)["dev/m"]
    assert stale.status.desired_ref == "m:1", "stale is served while it is read again"
    deadline = time.monotonic() + 5
    while cache.get(["dev/m"], read)["dev/m"].status.desired_ref != "m:2":
        assert time.monotonic() < deadline, "the background refresh never landed"
        time.sleep(0.02)
    never = StatusCache(ttl=0)
    never.get(["a/m"], read)
    never.get(["a/m"], read)
    assert calls.count("a/m") == 2
