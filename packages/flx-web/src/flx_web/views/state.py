"""State: every state id with its current version; one state with its history, the
difference between two versions, and restore with confirmation."""

from __future__ import annotations

import difflib
import json
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from flx_core.domain.ports import StateVersion
from flx_meltano import ListStates, RestoreState, StateHistory
from flx_web.views.base import caller_of, error_page, page

HISTORY = 100


@page
async def state_list(request: HttpRequest) -> HttpResponse:
    states = await caller_of(request)(ListStates())
    return render(request, "flx_web/state/list.html", {"section": "state", "states": states})


def _text(version: StateVersion) -> list[str]:
    return json.dumps(version.value, indent=2, sort_keys=True).splitlines()


def diff_lines(older: StateVersion, newer: StateVersion) -> list[tuple[str, str]]:
    """The unified difference of two versions' JSON, as (kind, line) with kind ``add``,
    ``del``, ``hunk`` or ``same``."""
    out = []
    for line in difflib.unified_diff(
        _text(older),
        _text(newer),
        f"version {older.version}",
        f"version {newer.version}",
        lineterm="",
    ):
        if line.startswith(("---", "+++")):
            continue
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")
        out.append((kind, line))
    return out


def _version(raw: str | None, versions: dict[int, StateVersion]) -> StateVersion | None:
    if raw and raw.isdigit():
        return versions.get(int(raw))
    return None


@page
async def state_detail(request: HttpRequest, state_id: str) -> HttpResponse:
    bus = caller_of(request)
    history: list[StateVersion] = await bus(StateHistory(state_id=state_id, limit=HISTORY))
    if not history:
        return error_page(request, 404, f"no state {state_id!r}")
    by_number = {v.version: v for v in history}
    current = history[0]
    context: dict[str, Any] = {
        "section": "state",
        "state_id": state_id,
        "current": current,
        "history": history,
        "diff": None,
    }
    a, b = request.GET.get("a"), request.GET.get("b")
    if a or b:
        older, newer = _version(a, by_number), _version(b, by_number)
        if older is None or newer is None:
            return error_page(
                request, 404, f"state {state_id!r} has no version {a if older is None else b}"
            )
        if older.version > newer.version:
            older, newer = newer, older
        context.update(diff=diff_lines(older, newer), older=older, newer=newer)
    return render(request, "flx_web/state/detail.html", context)


@require_http_methods(["GET", "POST"])
@page
async def state_restore(request: HttpRequest, state_id: str) -> HttpResponse:
    """GET asks which version to make current again; POST with ``confirmed`` restores it."""
    bus = caller_of(request)
    raw = request.POST.get("version") or request.GET.get("version") or ""
    if not raw.isdigit() or not 1 <= int(raw) < 2**31:
        return error_page(request, 422, "version must be a version number of the state")
    version = int(raw)
    if request.method == "POST" and request.POST.get("confirmed") == "yes":
        saved = await bus(RestoreState(state_id=state_id, version=version))
        messages.success(request, f"Version {version} restored as version {saved.version}.")
        return HttpResponseRedirect(f"/state/{state_id}/")
    context = {
        "title": f"Restore version {version} of {state_id}?",
        "question": "It becomes the current state, as a new version (the history keeps every "
        "version). The next run of the pipeline starts from it.",
        "action": f"/state/{state_id}/restore/",
        "fields": {"version": version},
        "button": "Restore",
        "cancel": f"/state/{state_id}/",
    }
    return render(request, "flx_web/confirm.html", context)
