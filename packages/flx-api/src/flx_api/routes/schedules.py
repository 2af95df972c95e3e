"""``/schedules``."""

from fastapi import APIRouter

router = APIRouter(prefix="/schedules", tags=["schedules"])
