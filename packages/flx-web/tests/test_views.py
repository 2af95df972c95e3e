"""The dashboard's pages through its ASGI application, in this process, on a real runtime
(SQLite): login and its errors, CSRF, forms with field errors, a viewer refused a write by
the bus, error pages, headers and static files.

Django's settings are global to a process: the first dashboard built here configures them
(each test still gets a runtime and a home of its own).
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from flx_auth import CreateUser, Role
from flx_core.application import CreatePipeline, GetPipeline, ListExecutions, ProcessKind
from flx_core.bootstrap import Runtime, bootstrap
from flx_core.config import FlxSettings
from flx_core.domain import Principal
from flx_meltano import RegisterBuiltinPlugins
from flx_web import create_web_app

PASSWORD = "correct horse battery staple"
ADMIN, VIEWER = "admin@example.com", "viewer@example.com"
SYSTEM = Principal.system()
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class Site:
    runtime: Runtime
    transport: httpx.ASGITransport

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport, base_url="http://testserver")

    async def ask(self, message: object) -> object:
        result = await self.runtime.app.execute(message, principal=SYSTEM)  # type: ignore[arg-type]
        assert result.ok, result.message
        return result.value


@pytest.fixture
async def site(
    tmp_path: Path, sqlite_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[Site]:
    marker = request.node.get_closest_marker("settings")
    settings = FlxSettings(
        home=tmp_path / "home",
        database_url=sqlite_url,
        bcrypt_rounds=4,
        login_max_failures=3,
        **(marker.kwargs if marker else {}),
    )
    runtime = await bootstrap(settings, kind=ProcessKind.CLI)
    try:
        app = create_web_app(settings, lambda: runtime)
        found = Site(runtime, httpx.ASGITransport(app=app))
        for email, role in ((ADMIN, Role.ADMIN), (VIEWER, Role.VIEWER)):
            await found.ask(
                CreateUser(email=email, password=SecretStr(PASSWORD), roles=frozenset({role}))
            )
        await found.ask(RegisterBuiltinPlugins())
        yield found
    finally:
        await runtime.aclose()


def token(page: httpx.Response) -> str:
    found = TOKEN.search(page.text)
    assert found is not None, page.text[:500]
    return found.group(1)


@asynccontextmanager
async def signed_in(site: Site, email: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client holding ``email``'s dashboard session."""
    async with site.client() as client:
        form = await client.get("/login/")
        answer = await client.post(
            "/login/",
            data={"email": email, "password": PASSWORD, "csrfmiddlewaretoken": token(form)},
        )
        assert answer.status_code == 302, answer.text
        yield client


async def test_login_shows_why_it_was_refused_and_locks_after_repeated_failures(
    site: Site,
) -> None:
    async with site.client() as client:
        page = await client.get("/pipelines/")
        assert page.status_code == 302 and page.headers["location"].startswith("/login/?next=")
        form = await client.get("/login/")
        wrong = {"email": ADMIN, "password": "not it", "csrfmiddlewaretoken": token(form)}
        refused = await client.post("/login/", data=wrong)
        assert refused.status_code == 401
        assert "invalid email or password" in refused.text.lower()
        for _ in range(3):
            refused = await client.post("/login/", data=wrong)
        assert "locked" in refused.text.lower()
        # Locked: even the right password is refused, and the page says so.
        right = {**wrong, "password": PASSWORD}
        still = await client.post("/login/", data=right)
        assert still.status_code == 401 and "locked" in still.text.lower()
        assert "Traceback" not in still.text


async def test_a_form_without_its_csrf_token_is_refused(site: Site) -> None:
    async with site.client() as client:
        await client.get("/login/")
        answer = await client.post("/login/", data={"email": ADMIN, "password": PASSWORD})
        assert answer.status_code == 403
        assert "CSRF" in answer.text and "reload the page" in answer.text
    async with signed_in(site, ADMIN) as client:
        answer = await client.post("/pipelines/new/", data={"name": "x"})
        assert answer.status_code == 403 and "CSRF" in answer.text


async def test_the_pipeline_form_shows_errors_on_their_fields_and_creates(site: Site) -> None:
    async with signed_in(site, ADMIN) as client:
        form = await client.get("/pipelines/new/")
        assert form.status_code == 200
        fields = {
            "csrfmiddlewaretoken": token(form),
            "name": "sample",
            "extractor": "tap-flx-sample",
            "loader": "target-flx-sqlite",
            "config": '{"tap-flx-sample": {"rows": 10,}}',
            "timezone": "UTC",
            "retries": "0",
            "enabled": "on",
        }
        bad_json = await client.post("/pipelines/new/", data=fields)
        assert bad_json.status_code == 422
        assert re.search(r'id="field-config".*?not JSON', bad_json.text, re.S)
        bad_cron = await client.post(
            "/pipelines/new/",
            data={**fields, "config": '{"tap-flx-sample": {"rows": 10}}', "schedule": "61 * * * *"},
        )
        assert bad_cron.status_code == 422
        errors = re.search(r'id="field-schedule".*?</div>', bad_cron.text, re.S)
        assert errors is not None and "errorlist" in errors.group(0), bad_cron.text
        assert "minute" in errors.group(0)  # the bus names the cron field that is wrong
        bad_name = await client.post(
            "/pipelines/new/", data={**fields, "name": "Sample Data", "config": ""}
        )
        assert bad_name.status_code == 422
        errors = re.search(r'id="field-name".*?</ul>', bad_name.text, re.S)
        assert errors is not None and "use 1-63 lowercase letters" in errors.group(0)
        created = await client.post(
            "/pipelines/new/",
            data={**fields, "config": '{"tap-flx-sample": {"rows": 10}}', "schedule": "@daily"},
        )
        assert created.status_code == 302 and created.headers["location"] == "/pipelines/sample/"
    pipeline = await site.ask(GetPipeline(pipeline="sample"))
    assert pipeline.config == {"tap-flx-sample": {"rows": 10}}  # type: ignore[attr-defined]
    assert pipeline.schedule.value == "@daily"  # type: ignore[attr-defined]


async def test_a_viewer_sees_no_write_control_and_the_bus_refuses_a_hand_made_post(
    site: Site,
) -> None:
    async with signed_in(site, ADMIN) as admin:
        form = await admin.get("/pipelines/new/")
        await admin.post(
            "/pipelines/new/",
            data={
                "csrfmiddlewaretoken": token(form),
                "name": "sample",
                "extractor": "tap-flx-sample",
                "loader": "target-flx-sqlite",
                "timezone": "UTC",
                "retries": "0",
                "enabled": "on",
            },
        )
        shown = await admin.get("/pipelines/sample/")
        assert 'id="run-now"' in shown.text and 'id="delete-pipeline"' in shown.text
    async with signed_in(site, VIEWER) as viewer:
        page = await viewer.get("/pipelines/sample/")
        assert page.status_code == 200
        for control in ("run-now", "edit-pipeline", "disable-pipeline", "delete-pipeline"):
            assert f'id="{control}"' not in page.text
        assert "/users/" not in page.text  # no administration link either
        csrf = token(page)  # the logout form's: a valid token of this session
        for path in ("/pipelines/sample/run/", "/pipelines/sample/disable/"):
            refused = await viewer.post(path, data={"csrfmiddlewaretoken": csrf})
            assert refused.status_code == 403, (path, refused.text)
            assert "permission" in refused.text.lower()
        deleted = await viewer.post(
            "/pipelines/sample/delete/", data={"csrfmiddlewaretoken": csrf, "confirmed": "yes"}
        )
        assert deleted.status_code == 403
        users = await viewer.get("/users/")
        assert users.status_code == 403
    pipeline = await site.ask(GetPipeline(pipeline="sample"))
    assert pipeline.enabled  # type: ignore[attr-defined]
    runs = await site.ask(ListExecutions(pipeline="sample"))
    assert runs.items == []  # type: ignore[attr-defined]


async def test_errors_are_pages_and_every_page_carries_the_security_headers(site: Site) -> None:
    async with signed_in(site, ADMIN) as client:
        missing = await client.get("/pipelines/nothing-here/")
        assert missing.status_code == 404
        assert "pipeline &#x27;nothing-here&#x27; not found" in missing.text
        nowhere = await client.get("/no/such/page/")
        assert nowhere.status_code == 404 and "<html" in nowhere.text
        bad_filter = await client.get("/executions/?status=sleeping")
        assert bad_filter.status_code == 422 and "status must be one of" in bad_filter.text
        dashboard = await client.get("/")
        assert dashboard.status_code == 200 and 'id="records-chart"' in dashboard.text
        headers = dashboard.headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["cache-control"] == "no-store"
        cookie = client.cookies.get("flx_session")
        assert cookie is not None
        # The session cookie is signed: altered, it is no session at all.
        client.cookies.set("flx_session", cookie[:-3] + "abc")
        assert (await client.get("/")).status_code == 302


async def test_static_files_are_served_with_an_etag(site: Site) -> None:
    async with site.client() as client:
        css = await client.get("/static/flx_web/flx.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        again = await client.get(
            "/static/flx_web/flx.css", headers={"If-None-Match": css.headers["etag"]}
        )
        assert again.status_code == 304
        assert (await client.get("/static/flx_web/nothing.js")).status_code == 404


async def test_times_show_in_the_viewers_time_zone(site: Site) -> None:
    async with signed_in(site, ADMIN) as client:
        client.cookies.set("flx_tz", "Asia%2FTokyo")
        profile = await client.get("/profile/")
        assert "Asia/Tokyo" in profile.text and " JST</time>" in profile.text
        client.cookies.set("flx_tz", "Not%2FA_Zone")
        assert " UTC</time>" in (await client.get("/profile/")).text


@pytest.mark.settings(access_token_ttl_seconds=1)
async def test_an_expired_access_token_is_refreshed_and_logout_ends_the_session(
    site: Site,
) -> None:
    async with signed_in(site, ADMIN) as client:
        first = client.cookies["flx_session"]
        await asyncio.sleep(1.5)  # the access token (1 s) expires; the refresh token lives on
        page = await client.get("/profile/")
        assert page.status_code == 200 and ADMIN in page.text
        assert client.cookies["flx_session"] != first  # the new token pair is held
        stale = httpx.Cookies({"flx_session": first})
        await client.post("/logout/", data={"csrfmiddlewaretoken": token(page)})
        assert (await client.get("/profile/")).status_code == 302
    # The first cookie's refresh token was spent by the refresh: it opens no session.
    async with site.client() as other:
        other.cookies = stale
        assert (await other.get("/profile/")).status_code == 302


async def test_the_plugin_form_and_unknown_install_jobs(site: Site) -> None:
    async with signed_in(site, ADMIN) as client:
        form = await client.get("/plugins/new/")
        fields = {"csrfmiddlewaretoken": token(form), "plugin_type": "extractor"}
        taken = await client.post("/plugins/new/", data={**fields, "name": "tap-flx-sample"})
        assert taken.status_code == 409 and "already exists" in taken.text
        added = await client.post(
            "/plugins/new/", data={**fields, "name": "tap-mine", "executable": "tap-mine"}
        )
        assert added.status_code == 302 and added.headers["location"] == "/plugins/tap-mine/"
        detail = await client.get("/plugins/tap-mine/")
        assert detail.status_code == 200 and "tap-mine" in detail.text
        missing = await client.get("/plugins/install/0123456789abcdef/")
        assert missing.status_code == 404


async def test_secrets_are_masked_on_every_page_and_kept_by_an_edit(site: Site) -> None:
    secret = "hunter2-not-for-eyes"
    config = {"tap-flx-sample": {"rows": 5, "api_password": secret}}
    await site.ask(
        CreatePipeline(
            name="masked", extractor="tap-flx-sample", loader="target-flx-sqlite", config=config
        )
    )
    async with signed_in(site, ADMIN) as client:
        for path in ("/pipelines/masked/", "/pipelines/masked/edit/", "/audit/?limit=500"):
            page = await client.get(path)
            assert page.status_code == 200 and secret not in page.text, path
        edit = await client.get("/pipelines/masked/edit/")
        shown = re.search(r'<textarea name="config"[^>]*>(.*?)</textarea>', edit.text, re.S)
        assert shown is not None and "********" in shown.group(1)
        saved = await client.post(
            "/pipelines/masked/edit/",
            data={
                "csrfmiddlewaretoken": token(edit),
                "description": "changed",
                "extractor": "tap-flx-sample",
                "loader": "target-flx-sqlite",
                "config": html.unescape(shown.group(1)),
                "timezone": "UTC",
                "retries": "0",
                "enabled": "on",
            },
        )
        assert saved.status_code == 302, saved.text
    pipeline = await site.ask(GetPipeline(pipeline="masked"))
    assert pipeline.description == "changed"  # type: ignore[attr-defined]
    assert pipeline.config["tap-flx-sample"]["api_password"] == secret  # type: ignore[attr-defined]


@pytest.mark.settings(api_login_rate_limit="4/minute")
async def test_login_attempts_from_one_address_are_limited_across_accounts(site: Site) -> None:
    async with site.client() as client:
        form = await client.get("/login/")
        for n in range(4):
            wrong = {
                "email": f"nobody{n}@example.com",
                "password": "guess",
                "csrfmiddlewaretoken": token(form),
            }
            assert (await client.post("/login/", data=wrong)).status_code == 401
        right = {"email": ADMIN, "password": PASSWORD, "csrfmiddlewaretoken": token(form)}
        refused = await client.post("/login/", data=right)
        assert refused.status_code == 429 and "too many login attempts" in refused.text
        assert int(refused.headers["retry-after"]) > 0


async def test_an_install_shows_its_progress_to_its_end(site: Site) -> None:
    async with signed_in(site, ADMIN) as client:
        form = await client.get("/plugins/new/")
        await client.post(
            "/plugins/new/",
            data={
                "csrfmiddlewaretoken": token(form),
                "plugin_type": "extractor",
                "name": "tap-on-path",
                "executable": "tap-on-path",
            },
        )
        detail = await client.get("/plugins/tap-on-path/")
        started = await client.post(
            "/plugins/tap-on-path/install/", data={"csrfmiddlewaretoken": token(detail)}
        )
        assert started.status_code == 302
        job_page = started.headers["location"]
        assert re.fullmatch(r"/plugins/install/[0-9a-f]+/", job_page)
        page = await client.get(job_page)
        assert page.status_code == 200 and 'data-refresh="' in page.text
        for _ in range(300):  # the page's script reloads the progress until it is final
            progress = await client.get(job_page + "progress/")
            if "data-final" in progress.text:
                break
            await asyncio.sleep(0.1)
        assert 'data-status="succeeded"' in progress.text
        # A plugin without pip_url runs from PATH: nothing to install, and the page says so.
        assert "skipped" in progress.text and "runs from PATH" in progress.text


async def test_an_administrator_changes_roles_and_the_last_admin_stays(site: Site) -> None:
    async with signed_in(site, ADMIN) as client:
        users = await client.get("/users/")
        csrf = token(users)
        promoted = await client.post(
            f"/users/{VIEWER}/", data={"csrfmiddlewaretoken": csrf, "roles": ["operator"]}
        )
        assert promoted.status_code == 302
        assert re.search(
            r"viewer@example.com.*?value=\"operator\" checked",
            (await client.get("/users/")).text,
            re.S,
        )
        demoted = await client.post(
            f"/users/{ADMIN}/", data={"csrfmiddlewaretoken": csrf, "roles": ["viewer"]}
        )
        assert demoted.status_code == 422 and "last active admin" in demoted.text
    async with signed_in(site, VIEWER) as operator:
        page = await operator.get("/pipelines/new/")
        assert page.status_code == 200  # an operator may create pipelines
        assert 'href="/users/"' not in page.text


async def test_the_pipeline_list_filters_and_searches(site: Site) -> None:
    for name, tags in (("orders-daily", ["sales"]), ("users-hourly", ["crm"])):
        await site.ask(
            CreatePipeline(
                name=name, extractor="tap-flx-sample", loader="target-flx-jsonl", tags=tags
            )
        )
    async with signed_in(site, VIEWER) as client:
        both = await client.get("/pipelines/")
        assert "orders-daily" in both.text and "users-hourly" in both.text
        searched = await client.get("/pipelines/?q=orders")
        assert "orders-daily" in searched.text and "users-hourly" not in searched.text
        tagged = await client.get("/pipelines/?tag=crm")
        assert "users-hourly" in tagged.text and "orders-daily" not in tagged.text
        none = await client.get("/pipelines/?q=nothing&enabled=no")
        assert "No pipeline matches" in none.text
