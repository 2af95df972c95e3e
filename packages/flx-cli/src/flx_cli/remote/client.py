"""HTTP to an FLX server: the bearer token, its refresh, and errors in one line.

Every request carries the access token stored by `flx auth login`. A token that expires
within ``REFRESH_MARGIN_SECONDS`` is refreshed first, and a 401 answer is met with one
refresh and one retry, so an expired access token never shows. The refresh is rotated: the
new pair is stored at once (see :mod:`flx_cli.remote.credentials`). A server that cannot be
reached, or credentials that cannot be refreshed, end the command with one line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx

from flx_cli.remote.credentials import Credentials, CredentialStore, normalise_server
from flx_cli.remote.errors import NotLoggedIn, RemoteError, ServerUnreachable

if TYPE_CHECKING:
    from httpx_sse import EventSource

API_PREFIX = "/api/v1"
TIMEOUT_SECONDS = 30.0
#: An access token this close to its expiry is refreshed before it is sent.
REFRESH_MARGIN_SECONDS = 10.0
#: A 429 answer is retried after its Retry-After when that is at most this long.
MAX_RETRY_AFTER_SECONDS = 30.0
RATE_LIMIT_RETRIES = 3


def user_agent() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"flx-cli/{version('flx-cli')}"
    except PackageNotFoundError:
        return "flx-cli"


def problem_of(response: httpx.Response) -> tuple[str, str, dict[str, Any]]:
    """``(detail, code, details)`` of an error answer: a problem document (RFC 9457), or
    what can be said of anything else (a proxy's HTML page)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        details = dict(body.get("details") or {})
        if body.get("errors"):
            details["errors"] = body["errors"]
        return body["detail"], str(body.get("code") or "error"), details
    reason = response.reason_phrase or "error"
    return (
        f"the server answered {response.status_code} {reason} to "
        f"{response.request.method} {response.request.url.path}",
        "server_error",
        {"status": response.status_code},
    )


class RemoteClient:
    """One server, with the credentials of one FLX home."""

    def __init__(
        self, server: str, store: CredentialStore, *, timeout: float = TIMEOUT_SECONDS
    ) -> None:
        self.server = normalise_server(server)
        self.store = store
        self.timeout = timeout
        self._http = httpx.AsyncClient(
            base_url=self.server,
            timeout=timeout,
            headers={"User-Agent": user_agent(), "Accept": "application/json"},
        )
        self._credentials: Credentials | None = None
        self._refreshing = asyncio.Lock()
        # Each request at INFO is noise for `flx -v`, which shows the run's own log.
        logging.getLogger("httpx").setLevel(logging.WARNING)

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- requests ------------------------------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        authenticated: bool = True,
    ) -> httpx.Response:
        """``method API_PREFIX+path``; the answer whatever its status, except a 401 that a
        refresh could not cure (NotLoggedIn) and no answer at all (ServerUnreachable)."""
        refreshed = False
        throttled = 0
        while True:
            sent = dict(headers or {})
            token = None
            if authenticated:
                token = await self.access_token()
                sent["Authorization"] = f"Bearer {token}"
            response = await self._send(
                method, API_PREFIX + path, json=json, params=params, headers=sent
            )
            if response.status_code == 401 and token is not None:
                if not refreshed:
                    await self.refresh(used=token)
                    refreshed = True
                    continue
                raise NotLoggedIn(self.server, problem_of(response)[0])
            wait = _retry_after(response)
            if wait is not None and throttled < RATE_LIMIT_RETRIES:
                throttled += 1
                await asyncio.sleep(wait)
                continue
            return response

    async def _send(self, method: str, url: str, **options: Any) -> httpx.Response:
        try:
            return await self._http.request(method, url, **options)
        except httpx.HTTPError as exc:
            raise self.unreachable(exc) from None

    def unreachable(self, exc: Exception) -> RemoteError:
        """The one line for a request that got no answer."""
        if isinstance(exc, httpx.TimeoutException):
            return ServerUnreachable(
                f"the FLX server at {self.server} did not answer within {self.timeout:g} s"
            )
        if isinstance(exc, httpx.ConnectError):
            return ServerUnreachable(
                f"cannot connect to the FLX server at {self.server}: {_reason(exc)}"
            )
        return ServerUnreachable(f"the connection to the FLX server at {self.server} failed: {exc}")

    @asynccontextmanager
    async def event_stream(
        self, path: str, *, last_event_id: str | None = None
    ) -> AsyncIterator[EventSource]:
        """An open Server-Sent Events stream of ``path`` (resuming after ``last_event_id``);
        its response's status is not checked here, beyond a 401 cured by a refresh."""
        from httpx_sse import aconnect_sse

        refreshed = False
        while True:
            token = await self.access_token()
            headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
            if last_event_id is not None:
                headers["Last-Event-ID"] = last_event_id
            timeout = httpx.Timeout(self.timeout, read=None)  # quiet runs write nothing
            try:
                async with aconnect_sse(
                    self._http, "GET", API_PREFIX + path, headers=headers, timeout=timeout
                ) as source:
                    if source.response.status_code == 401 and not refreshed:
                        refreshed = True
                        retry = True
                    else:
                        retry = False
                        yield source
            except httpx.HTTPError as exc:
                raise self.unreachable(exc) from None
            if not retry:
                return
            await self.refresh(used=token)

    # -- tokens --------------------------------------------------------------------------
    async def access_token(self) -> str:
        """The stored access token, refreshed first when it is about to expire."""
        if self._credentials is None:
            self._credentials = self.store.get(self.server)
            if self._credentials is None:
                raise NotLoggedIn(self.server)
        if self._credentials.expires_within(REFRESH_MARGIN_SECONDS):
            await self.refresh(used=self._credentials.access_token)
        assert self._credentials is not None
        return self._credentials.access_token

    async def refresh(self, *, used: str) -> None:
        """Replace access token ``used`` by a fresh pair, unless that already happened (in
        this process, or in another one sharing the credentials file)."""
        async with self._refreshing:
            if self._credentials is not None and self._credentials.access_token != used:
                return  # another request of this process refreshed meanwhile
            async with self.store.locked():
                stored = self.store.get(self.server)
                if stored is None:
                    raise NotLoggedIn(self.server, "logged out meanwhile")
                if stored.access_token != used and not stored.expires_within(
                    REFRESH_MARGIN_SECONDS
                ):
                    self._credentials = stored  # another process refreshed meanwhile
                    return
                response = await self._send(
                    "POST",
                    API_PREFIX + "/auth/refresh",
                    json={"refresh_token": stored.refresh_token},
                    headers={},
                )
                if response.status_code == 200:
                    fresh = Credentials.from_pair(self.server, stored.email, response.json())
                    self.store.put(fresh)
                    self._credentials = fresh
                    return
                detail = problem_of(response)[0]
                if response.status_code in (400, 401, 403, 422):
                    # The session is over (revoked, expired, reused): these tokens are dead.
                    self.store.remove(self.server)
                    self._credentials = None
                    raise NotLoggedIn(self.server, f"the session ended: {detail}")
                raise RemoteError(f"refreshing the access token failed: {detail}")

    async def login(self, email: str, password: str) -> Credentials:
        """Log in with a password; the tokens are stored (replacing older ones)."""
        response = await self.request(
            "POST",
            "/auth/login",
            json={"email": email, "password": password},
            authenticated=False,
        )
        if response.status_code != 200:
            raise LoginRefused(problem_of(response)[0])
        credentials = Credentials.from_pair(self.server, email, response.json())
        async with self.store.locked():
            self.store.put(credentials)
        self._credentials = credentials
        return credentials

    async def logout(self) -> bool:
        """End the session on the server and forget its tokens; False if there were none.

        The tokens are forgotten also when the server no longer knows the session, and kept
        when it cannot be reached (so that the logout can be tried again)."""
        stored = self.store.get(self.server)
        if stored is None:
            return False
        headers = {}
        if not stored.expires_within(0):
            headers["Authorization"] = f"Bearer {stored.access_token}"
        response = await self._send(
            "POST",
            API_PREFIX + "/auth/logout",
            json={"refresh_token": stored.refresh_token},
            headers=headers,
        )
        if response.status_code not in (200, 204, 401):
            raise RemoteError(f"logging out failed: {problem_of(response)[0]}")
        async with self.store.locked():
            self.store.remove(self.server)
        self._credentials = None
        return True


class LoginRefused(RemoteError):
    """Wrong email or password, a locked or disabled account, too many attempts."""


def _reason(exc: BaseException) -> str:
    """The deepest cause that says why a connection failed ("Connection refused", "Name or
    service not known"), not the wrapper's "All connection attempts failed"."""
    import os

    reason = str(exc) or "connection failed"
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno:
            # errno's own words: asyncio's strerror ("Connect call failed ...") says less.
            reason = os.strerror(seen.errno) if seen.errno > 0 else str(seen.strerror)
        seen = seen.__cause__ or seen.__context__
    return reason.split("] ")[-1]


def _retry_after(response: httpx.Response) -> float | None:
    if response.status_code != 429:
        return None
    try:
        wait = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return wait if 0 <= wait <= MAX_RETRY_AFTER_SECONDS else None
