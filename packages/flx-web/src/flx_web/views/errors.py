"""Django's own errors (an unknown URL, a refused CSRF token, a crash) as pages."""

from __future__ import annotations

from typing import Any

import structlog
from django.http import HttpRequest, HttpResponse

from flx_web.views.base import error_page

log = structlog.get_logger(__name__)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_page(request, 404, f"no page at {request.path}")


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_page(request, 400, "the request could not be read")


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_page(request, 403, "you are not allowed to do this")


def server_error(request: HttpRequest) -> HttpResponse:
    log.error("web_page_failed", path=request.path)
    return error_page(request, 500, "the page failed; the server log has the details")


def csrf_failure(request: HttpRequest, reason: str = "", **_: Any) -> HttpResponse:
    return error_page(
        request,
        403,
        "the form's security token is missing or stale (CSRF): reload the page and send "
        "the form again",
    )
