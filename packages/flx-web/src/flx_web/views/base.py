"""What every page does: ask for a login, turn a refused message into an error page, render."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from flx_core.domain import mask_inline_secrets
from flx_web import runtime
from flx_web.bus import Caller, Refused

View = Callable[..., Awaitable[HttpResponse]]

TITLES = {
    400: "Bad request",
    401: "Signed out",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    422: "Invalid request",
    424: "Failed dependency",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Unavailable",
}


def error_page(request: HttpRequest, status: int, message: str) -> HttpResponse:
    """An error as a page of the dashboard: what went wrong, in one line, no traceback."""
    context = {
        "status": status,
        "title": TITLES.get(status, "Error"),
        "message": mask_inline_secrets(message),
    }
    return render(request, "flx_web/error.html", context, status=status)


def caller_of(request: HttpRequest) -> Caller:
    flx: Caller | None = getattr(request, "flx", None)
    assert flx is not None, "a page view runs for a signed-in user only"
    return flx


def to_login(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect("/login/?" + urlencode({"next": request.get_full_path()}))


def page(view: View) -> View:
    """A page for signed-in users: others go to the login page; a message the bus refuses
    is an error page with its status and message."""

    @functools.wraps(view)
    async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if getattr(request, "starting", False):
            return error_page(request, 503, "the server is starting; retry in a moment")
        if getattr(request, "flx", None) is None:
            return to_login(request)
        try:
            return await view(request, *args, **kwargs)
        except Refused as exc:
            if exc.code == "unauthenticated":
                return to_login(request)
            return error_page(request, exc.status, exc.message)
        except runtime.Starting as exc:
            return error_page(request, 503, str(exc))

    return wrapper


def back(request: HttpRequest, fallback: str) -> HttpResponseRedirect:
    """Where a form sends the user after an action: the page named by ``next`` when it is
    one of the dashboard's own, else ``fallback``."""
    target = request.POST.get("next") or ""
    if target.startswith("/") and not target.startswith("//"):
        return HttpResponseRedirect(target)
    return HttpResponseRedirect(fallback)
