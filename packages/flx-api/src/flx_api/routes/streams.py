"""``/streams``."""

from fastapi import APIRouter

router = APIRouter(prefix="/streams", tags=["streams"])
