"""``/plugins``."""

from fastapi import APIRouter

router = APIRouter(prefix="/plugins", tags=["plugins"])
