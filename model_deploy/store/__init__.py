"""Deploy state: the lock, the deployment history and the in-flight intent of each environment.

``protocol`` (the :class:`StateStore` every store implements), ``records`` (what is stored),
``local`` (files, the embedded default), ``s3`` (conditional writes, for real runners) and
``factory`` (picked by ``SLIPWAY_DEPLOY_STATE``).
"""

from model_deploy.store.protocol import LockHandle, StateStore, holding_lock
from model_deploy.store.records import (
    DeployHistory,
    DeployIntent,
    DeploymentRecord,
    IntentRead,
    Lease,
    LockOwner,
)

__all__ = [
    "DeployHistory",
    "DeployIntent",
    "DeploymentRecord",
    "IntentRead",
    "Lease",
    "LockHandle",
    "LockOwner",
    "StateStore",
    "holding_lock",
]
