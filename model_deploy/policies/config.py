"""Which environments each rule applies to: governance lives in code, reviewed like code.

A manifest cannot switch these rules off; changing them is a code change to this file.
"""

from __future__ import annotations

#: Environments that only take versions whose registry status is Approved.
APPROVAL_REQUIRED: frozenset[str] = frozenset({"staging", "prod"})

#: Environment -> environment that must already serve the same version, healthy.
UPSTREAM: dict[str, str] = {"prod": "staging"}
