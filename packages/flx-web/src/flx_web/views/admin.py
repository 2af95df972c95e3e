"""Schedules, the audit log, and users and roles (administrators)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from pydantic import SecretStr

from flx_auth import CreateUser, ListUsers, UpdateUser
from flx_core.application import ListAuditEvents
from flx_core.domain.ports import EventFilter
from flx_meltano import ListSchedules
from flx_web.bus import Refused
from flx_web.forms import UserForm, refused_into
from flx_web.views.base import caller_of, error_page, page

AUDIT_PAGE = 50
AUDIT_SIZES = (50, 200, 500)


@page
async def schedules(request: HttpRequest) -> HttpResponse:
    views = await caller_of(request)(ListSchedules(next_count=3))
    return render(
        request, "flx_web/admin/schedules.html", {"section": "schedules", "schedules": views}
    )


def _day(raw: str) -> datetime:
    """A date typed in a filter (YYYY-MM-DD), as the start of that day in the viewer's zone."""
    parsed = datetime.strptime(raw, "%Y-%m-%d")
    return parsed.replace(tzinfo=timezone.get_current_timezone())


@page
async def audit(request: HttpRequest) -> HttpResponse:
    """Who did what, newest first; filtered by event type, actor, aggregate and days."""
    bus = caller_of(request)
    keys = ("type", "actor", "id", "since", "until")
    chosen = {k: (request.GET.get(k) or "").strip() for k in keys}
    try:
        since = _day(chosen["since"]) if chosen["since"] else None
        until = _day(chosen["until"]) if chosen["until"] else None
    except ValueError:
        return error_page(request, 422, "since and until are days: YYYY-MM-DD")
    sizes = {str(n): n for n in AUDIT_SIZES}
    limit = sizes.get(request.GET.get("limit") or "", AUDIT_PAGE)
    flt = EventFilter(
        event_type=chosen["type"] or None,
        actor=chosen["actor"] or None,
        aggregate_id=chosen["id"] or None,
        since=since,
        until=until + timedelta(days=1) if until else None,
    )
    events = await bus(ListAuditEvents(filter=flt, limit=limit))
    context: dict[str, Any] = {
        "section": "audit",
        "events": events,
        "chosen": chosen,
        "limit": limit,
        "sizes": AUDIT_SIZES,
    }
    return render(request, "flx_web/admin/audit.html", context)


@page
async def users(request: HttpRequest) -> HttpResponse:
    found = await caller_of(request)(ListUsers())
    return render(
        request,
        "flx_web/admin/users.html",
        {"section": "users", "users": found, "roles": ("viewer", "operator", "admin")},
    )


@require_http_methods(["GET", "POST"])
@page
async def user_new(request: HttpRequest) -> HttpResponse:
    bus = caller_of(request)
    form = UserForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            data = form.cleaned_data
            try:
                user = await bus(
                    CreateUser(
                        email=data["email"],
                        password=SecretStr(data["password"]),
                        roles=frozenset(data["roles"]),
                    )
                )
            except Refused as exc:
                if exc.code in ("permission_denied", "unauthenticated"):
                    raise
                refused_into(form, exc)
                status = exc.status
            else:
                messages.success(request, f"User {user.email} created.")
                return HttpResponseRedirect("/users/")
    return render(
        request, "flx_web/admin/user_form.html", {"section": "users", "form": form}, status=status
    )


@require_POST
@page
async def user_change(request: HttpRequest, email: str) -> HttpResponse:
    """Change a user's roles or enable or disable them (the last admin stays an admin: the
    bus refuses otherwise)."""
    bus = caller_of(request)
    roles = request.POST.getlist("roles")
    active = {"yes": True, "no": False}.get(request.POST.get("active", ""))
    await bus(UpdateUser(email=email, roles=frozenset(roles) if roles else None, active=active))
    messages.success(request, f"User {email} updated.")
    return HttpResponseRedirect("/users/")
