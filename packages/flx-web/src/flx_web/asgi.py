"""The dashboard as an ASGI application: Django for the pages, the package's own static
files served from memory (a handful of small files, with an ETag and an hour of caching)."""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flx_core.config import FlxSettings
from flx_web import config, login_limits, runtime

STATIC_PREFIX = "/static/"
STATIC_DIR = Path(__file__).resolve().parent / "static"

Scope = dict[str, Any]


@dataclass(frozen=True)
class _File:
    body: bytes
    content_type: str
    etag: str


def _static_files() -> dict[str, _File]:
    files = {}
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            body = path.read_bytes()
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if kind.startswith("text/") or kind.endswith("javascript"):
                kind += "; charset=utf-8"
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            files[STATIC_PREFIX + path.relative_to(STATIC_DIR).as_posix()] = _File(body, kind, etag)
    return files


class WebApp:
    """Static files under ``/static/``, every other path to Django."""

    def __init__(self, django_app: Any) -> None:
        self.django = django_app
        self.files = _static_files()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith(STATIC_PREFIX):
            await self._static(scope, send)
            return
        if scope["type"] == "lifespan":
            return
        await self.django(scope, receive, send)

    async def _static(self, scope: Scope, send: Any) -> None:
        found = self.files.get(scope["path"])
        headers = [(b"x-content-type-options", b"nosniff")]
        if found is None or scope["method"] not in ("GET", "HEAD"):
            status, body = (404, b"not found") if found is None else (405, b"")
            headers.append((b"content-type", b"text/plain; charset=utf-8"))
        else:
            sent = dict(scope["headers"]).get(b"if-none-match", b"").decode()
            headers += [
                (b"etag", found.etag.encode()),
                (b"cache-control", b"public, max-age=3600"),
                (b"content-type", found.content_type.encode()),
            ]
            status, body = (304, b"") if sent == found.etag else (200, found.body)
        if scope["method"] == "HEAD":
            body = b""
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def create_web_app(settings: FlxSettings, source: runtime.RuntimeSource) -> WebApp:
    """The dashboard of one server process. ``source`` returns the process's runtime
    (None while it starts or stops); Django is configured here, from ``settings``."""
    config.configure(settings)
    runtime.install(source)
    login_limits.install(login_limits.LoginLimits(settings))
    from django.core.handlers.asgi import ASGIHandler

    return WebApp(ASGIHandler())
