"""``/extensions``."""

from fastapi import APIRouter

router = APIRouter(prefix="/extensions", tags=["extensions"])
