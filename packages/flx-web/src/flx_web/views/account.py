"""Logging in and out, and the signed-in user's own account and sessions."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST
from pydantic import SecretStr, ValidationError

from flx_auth import (
    CurrentUser,
    ListOwnSessions,
    Login,
    RevokeOwnSession,
    TokenPair,
    normalize_email,
)
from flx_core.application import describe_validation_error
from flx_core.domain import Principal
from flx_web import login_limits, runtime, sessions
from flx_web.views.base import caller_of, error_page, page


def _safe_next(target: str) -> str:
    return target if target.startswith("/") and not target.startswith("//") else "/"


@require_http_methods(["GET", "POST"])
async def login(request: HttpRequest) -> HttpResponse:
    """The login form. A wrong password, a locked or disabled account: the reason is shown
    as the bus gives it."""
    next_url = _safe_next(request.POST.get("next") or request.GET.get("next") or "/")
    context = {"next": next_url, "email": "", "error": None}
    if request.method == "GET":
        if getattr(request, "flx", None) is not None:
            return HttpResponseRedirect(next_url)
        return render(request, "flx_web/login.html", context)
    email = (request.POST.get("email") or "").strip()
    context["email"] = email
    try:
        message = Login(
            email=email,
            password=SecretStr(request.POST.get("password") or ""),
            user_agent=sessions.user_agent(request),
            address=sessions.client_address(request),
        )
    except ValidationError as exc:
        context["error"] = describe_validation_error(exc)
        return render(request, "flx_web/login.html", context, status=422)
    try:
        app = runtime.current().app
    except runtime.Starting as exc:
        return error_page(request, 503, str(exc))
    limits = login_limits.current()
    address = sessions.client_address(request) or "unknown"
    refusal = await limits.check(address, email) if limits is not None else None
    if refusal is not None:
        context["error"] = refusal.message
        response = render(request, "flx_web/login.html", context, status=429)
        response.headers["Retry-After"] = str(refusal.retry_after)
        return response
    result = await app.execute(message, principal=Principal.anonymous())
    pair: TokenPair | None = result.value
    if not result.ok or pair is None:
        context["error"] = result.message or "login refused"
        return render(request, "flx_web/login.html", context, status=401)
    request.session.cycle_key()
    sessions.keep(request, normalize_email(email), pair)
    return HttpResponseRedirect(next_url)


@require_POST
async def logout(request: HttpRequest) -> HttpResponse:
    try:
        await sessions.end(request)
    except runtime.Starting:
        request.session.flush()
    return HttpResponseRedirect("/login/")


@page
async def profile(request: HttpRequest) -> HttpResponse:
    """The signed-in user's account and sessions (one per login), with revoke."""
    bus = caller_of(request)
    user = await bus(CurrentUser())
    found = await bus(ListOwnSessions(include_revoked=False))
    current = (request.session.get(sessions.SESSION_KEY) or {}).get("session_id")
    context = {"section": "profile", "user": user, "sessions": found, "current": current}
    return render(request, "flx_web/profile.html", context)


@require_POST
@page
async def revoke_session(request: HttpRequest, session_id: str) -> HttpResponse:
    bus = caller_of(request)
    await bus(RevokeOwnSession(session_id=session_id))
    messages.success(request, "Session ended: its tokens no longer work.")
    return HttpResponseRedirect("/profile/")
