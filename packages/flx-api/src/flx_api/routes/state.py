"""``/state``."""

from fastapi import APIRouter

router = APIRouter(prefix="/state", tags=["state"])
