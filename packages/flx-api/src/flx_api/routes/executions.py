"""``/executions``."""

from fastapi import APIRouter

router = APIRouter(prefix="/executions", tags=["executions"])
