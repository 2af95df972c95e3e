"""The dashboard's own middlewares: security headers, the FLX session, and error pages for
what Django answers itself (the views' own errors are pages already, see ``views.base``).

Each is async only: the views run on the server's event loop, beside the API.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from flx_web import runtime
from flx_web.sessions import signed_in_caller

Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]

#: Scripts, styles and images come from the dashboard itself; nothing is inline, nothing
#: is loaded from elsewhere, no page may frame it and forms post only to it.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Resource-Policy": "same-origin",
}
#: The cookie the dashboard's script sets to the browser's time zone (IANA name).
TZ_COOKIE = "flx_tz"


def _async(factory: Callable[[Handler], Handler]) -> Any:
    factory.async_capable = True  # type: ignore[attr-defined]
    factory.sync_capable = False  # type: ignore[attr-defined]
    return factory


@_async
def security_headers(get_response: Handler) -> Handler:
    async def middleware(request: HttpRequest) -> HttpResponse:
        response = await get_response(request)
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        # Pages show a user's data: never kept by a shared cache or the back button.
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    return middleware


def viewer_zone(request: HttpRequest) -> ZoneInfo:
    """The viewer's time zone, as their browser reported it; UTC until it has."""
    name = unquote(request.COOKIES.get(TZ_COOKIE, ""))
    if name and len(name) <= 64:
        with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
            return ZoneInfo(name)
    return ZoneInfo("UTC")


@_async
def flx_session(get_response: Handler) -> Handler:
    """``request.flx``: the signed-in user (a :class:`flx_web.bus.Caller`) or None; the
    access token is refreshed here when it expired. Times render in the viewer's zone."""

    async def middleware(request: HttpRequest) -> HttpResponse:
        zone = viewer_zone(request)
        request.viewer_zone = zone
        timezone.activate(zone)
        try:
            request.flx = await signed_in_caller(request)
        except runtime.Starting:
            request.flx = None
            request.starting = True
        try:
            return await get_response(request)
        finally:
            timezone.deactivate()

    return middleware


@_async
def error_pages(get_response: Handler) -> Handler:
    """Django's own 404 and 405 answers as dashboard pages."""

    async def middleware(request: HttpRequest) -> HttpResponse:
        response = await get_response(request)
        if response.status_code == 405 and not response.content:
            from flx_web.views.base import error_page

            return error_page(request, 405, f"{request.method} is not allowed here")
        return response

    return middleware
