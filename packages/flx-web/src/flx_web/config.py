"""Django configured from FLX's settings, once per process, with no database.

Django is an adapter here: it parses requests, checks CSRF, signs the session cookie and
renders templates. FLX's data is reached through the application bus only, so Django has
no ``DATABASES``, no ORM models and no migrations; the session (the user's FLX access and
refresh tokens) lives in a signed cookie.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flx_core.config import FlxSettings

#: The key file generated when FLX_WEB_SECRET_KEY is unset (every server process of an
#: installation reads the same one, so a session cookie is good in all of them).
KEY_FILE = "web.key"


def web_secret(settings: FlxSettings) -> str:
    """The key that signs session cookies and CSRF tokens: FLX_WEB_SECRET_KEY, or one
    generated into ``$FLX_HOME/keys/web.key`` (0600) on the first start."""
    if settings.web_secret_key is not None:
        raw = settings.web_secret_key.get_secret_value().encode()
    else:
        from flx_core.infrastructure.private_files import ensure_private_dir, write_private

        path = settings.home_path / "keys" / KEY_FILE
        ensure_private_dir(path.parent)
        if not path.exists():
            # Written whole under another name, then linked into place: a process that
            # races this one finds either no file or the whole key, never half of it.
            draft = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
            write_private(draft, secrets.token_urlsafe(48).encode())
            with contextlib.suppress(FileExistsError):
                os.link(draft, path)
            draft.unlink()
        raw = path.read_bytes().strip()
    # A key of its own for Django, derived: the stored one never leaves this function.
    return hmac.new(raw, b"flx-web-django", hashlib.sha256).hexdigest()


def django_settings(settings: FlxSettings) -> dict[str, Any]:
    """Django's settings for FLX's ``settings``. ``SECURE_*`` follow FLX_WEB_SECURE (a
    server behind TLS): see docs/web.md."""
    secure = settings.web_secure
    return {
        "DEBUG": False,
        "SECRET_KEY": web_secret(settings),
        "ALLOWED_HOSTS": list(settings.web_allowed_hosts),
        "ROOT_URLCONF": "flx_web.urls",
        "STATIC_URL": "/static/",
        "INSTALLED_APPS": ["django.contrib.messages", "flx_web"],
        "DATABASES": {},
        "USE_TZ": True,
        "TIME_ZONE": "UTC",
        "USE_I18N": False,
        "MIDDLEWARE": [
            "flx_web.middleware.security_headers",
            "django.middleware.security.SecurityMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
            "flx_web.middleware.flx_session",
            "flx_web.middleware.error_pages",
        ],
        "TEMPLATES": [
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "DIRS": [],
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.template.context_processors.csrf",
                        "django.contrib.messages.context_processors.messages",
                        "flx_web.context.caller",
                    ]
                },
            }
        ],
        "SESSION_ENGINE": "django.contrib.sessions.backends.signed_cookies",
        "SESSION_COOKIE_NAME": "flx_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure,
        "SESSION_COOKIE_AGE": settings.refresh_token_ttl_seconds,
        "SESSION_SERIALIZER": "django.contrib.sessions.serializers.JSONSerializer",
        "MESSAGE_STORAGE": "django.contrib.messages.storage.session.SessionStorage",
        "CSRF_COOKIE_NAME": "flx_csrf",
        "CSRF_COOKIE_HTTPONLY": True,
        "CSRF_COOKIE_SAMESITE": "Strict",
        "CSRF_COOKIE_SECURE": secure,
        "CSRF_FAILURE_VIEW": "flx_web.views.errors.csrf_failure",
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "SECURE_REFERRER_POLICY": "same-origin",
        "SECURE_CROSS_ORIGIN_OPENER_POLICY": "same-origin",
        "SECURE_SSL_REDIRECT": secure,
        "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https") if secure else None,
        "SECURE_HSTS_SECONDS": 31_536_000 if secure else 0,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": secure,
        "X_FRAME_OPTIONS": "DENY",
        "APPEND_SLASH": True,
        "LOGGING_CONFIG": None,
        "DATA_UPLOAD_MAX_MEMORY_SIZE": settings.api_max_body_bytes,
        "FLX_SETTINGS": settings,
    }


def configure(settings: FlxSettings) -> None:
    """Configure Django for ``settings`` and set it up. Django's settings are global to
    a process: the first call configures them, later calls keep them (one dashboard per
    process, as one runtime per process)."""
    import django
    from django.conf import settings as django_conf

    if not django_conf.configured:
        django_conf.configure(**django_settings(settings))
        django.setup()
