"""What every template gets: the signed-in user and what they may do."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def caller(request: HttpRequest) -> dict[str, Any]:
    flx = getattr(request, "flx", None)
    return {
        "flx": flx,
        "can": _Abilities(flx),
        "viewer_zone": getattr(request, "viewer_zone", None),
    }


class _Abilities:
    """``{% if can.pipeline_run %}``: whether to show a control (the bus decides whether
    the action happens)."""

    def __init__(self, flx: Any) -> None:
        self._flx = flx

    def __getattr__(self, name: str) -> bool:
        if self._flx is None or name.startswith("_"):
            return False
        try:
            return bool(self._flx.can(name.replace("_", ":", 1)))
        except ValueError:  # no such permission: a typo in a template shows nothing
            return False
