"""Operations on the Feast feature store: plan, apply and gated materialization."""

from services.store.history import get_training_frame
from services.store.materialization import MaterializeResult, materialize
from services.store.registry_sync import ObjectChange, PlanResult, apply, plan

__all__ = [
    "MaterializeResult",
    "ObjectChange",
    "PlanResult",
    "apply",
    "get_training_frame",
    "materialize",
    "plan",
]
