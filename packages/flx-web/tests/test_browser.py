"""The dashboard in a real browser (Debian's Chromium, driven by Playwright) against a real
`flx serve` on a loopback port: log in, add a user, register the built-in connectors,
create a pipeline with a field error first, run it and follow its live log to the end while
the dashboard's counts move, restore a state version, cancel a long run, and a viewer
refused a write.

One server and one browser, and one test that goes through the flows in order (each builds
on the one before). A failing step saves a screenshot and names its path in the failure.
``FLX_WEB_SCREENSHOTS=1`` also writes the README's two dashboard screenshots into
docs/screenshots/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from flx_cli.testing import ServeProcess, serve_environment

CHROMIUM = Path("/usr/bin/chromium")
ADMIN, VIEWER = "admin@example.com", "viewer@example.com"
PASSWORD = "correct horse battery staple"
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
WAIT_MS = 60_000


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    root = tmp_path_factory.mktemp("web")
    env = serve_environment(
        root / "home",
        FLX_ADMIN_EMAIL=ADMIN,
        FLX_ADMIN_PASSWORD=PASSWORD,
        FLX_GRPC_PORT="0",
        FLX_HEARTBEAT_SECONDS="1",
    )
    with ServeProcess(env, cwd=root) as started:
        yield started


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} not found (apt-get install -y chromium)"
        if _in_ci():
            pytest.fail(f"{message}: CI requires it", pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def screenshot_on_failure(page: Any, name: str) -> Iterator[None]:
    try:
        yield
    except BaseException as exc:
        folder = Path(tempfile.mkdtemp(prefix="flx-web-failure-"))
        path = folder / f"{name}.png"
        try:
            page.screenshot(path=str(path), full_page=True)
            exc.add_note(f"screenshot of the page at {page.url}: {path}")
        except Exception as shot_failed:  # the page may be what broke
            exc.add_note(f"no screenshot ({shot_failed})")
        raise


def log_in(browser: Any, server: ServeProcess, email: str, **context: Any) -> Any:
    options = {"viewport": {"width": 1280, "height": 900}, "timezone_id": "Europe/Berlin"}
    page = browser.new_context(base_url=server.url, **{**options, **context}).new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto("/login/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/")
    return page


def new_pipeline(page: Any, name: str, config: dict[str, Any]) -> None:
    page.goto("/pipelines/new/")
    page.fill("#id_name", name)
    page.select_option("#id_extractor", "tap-flx-sample")
    page.select_option("#id_loader", "target-flx-sqlite")
    page.fill("#id_config", json.dumps(config))
    page.check("#id_enabled")
    page.click("button[type=submit]")
    page.wait_for_url(f"**/pipelines/{name}/")


def test_the_dashboard_in_a_browser(browser: Any, server: ServeProcess, tmp_path: Path) -> None:
    """The flows in order, on one server: each builds on what the one before left (the
    viewer is made by the administrator, the state comes from the first run)."""
    create_run_and_follow_a_pipeline_while_the_dashboard_moves(browser, server, tmp_path)
    cancel_a_long_run(browser, server, tmp_path)
    a_viewer_sees_no_write_control_and_a_hand_made_post_is_refused(browser, server)
    dashboard_screenshots_at_desktop_and_phone_width(browser, server, tmp_path)


def create_run_and_follow_a_pipeline_while_the_dashboard_moves(
    browser: Any, server: ServeProcess, tmp_path: Path
) -> None:
    assert f"dashboard: {server.url}/" in server.output  # flx serve says where it is
    page = log_in(browser, server, ADMIN)
    with screenshot_on_failure(page, "admin-flow"):
        # An administrator makes the viewer of the last test.
        page.locator("nav").get_by_role("link", name="Users").click()
        page.get_by_role("link", name="New user").click()
        page.fill("#id_email", VIEWER)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.get_by_text(f"User {VIEWER} created.").wait_for()
        page.goto("/plugins/")
        page.get_by_role("button", name="Register built-in connectors").click()
        page.get_by_text("Built-in connectors registered.").wait_for()
        assert page.get_by_role("link", name="tap-flx-sample").is_visible()

        # A config that is not JSON: the form comes back with the error on its field.
        page.goto("/pipelines/new/")
        page.fill("#id_name", "sample")
        page.fill("#id_config", '{"tap-flx-sample": {"rows": 3000,}}')
        page.click("button[type=submit]")
        assert "not JSON" in page.locator("#field-config .errorlist").inner_text()
        assert page.input_value("#id_name") == "sample"  # what was typed stays

        config = {
            "tap-flx-sample": {"rows": 3000, "seed": 1, "batch_size": 1000},
            "target-flx-sqlite": {"database": str(tmp_path / "out.db")},
        }
        new_pipeline(page, "sample", config)

        # The dashboard, open in another tab, follows by itself.
        dashboard = page.context.new_page()
        dashboard.goto("/")
        before = dashboard.inner_text("#kpi-records-today")

        page.get_by_role("button", name="Run now").click()
        page.wait_for_url(re.compile(r".*/executions/[0-9a-f]{32}/$"))
        page.locator("#log-state", has_text="complete").wait_for()
        log = page.inner_text("#log")
        assert "started tap-flx-sample" in log
        assert log.rstrip().splitlines()[-1].endswith(tuple("0123456789s")), log[-300:]
        assert "run succeeded" in log.rstrip().splitlines()[-1]
        page.locator("#run-status", has_text="succeeded").wait_for()
        assert page.inner_text("#run-records") == "9,000"
        assert "3,000" in page.inner_text("#run-summary table")

        assert before == "0"
        dashboard.locator("#kpi-records-today", has_text="9,000").wait_for()
        assert dashboard.locator("#freshness").get_by_text("sample").is_visible()
        assert dashboard.locator("#records-chart rect[data-value='9000']").count() == 1

        # State: several versions (one per batch); restore the first one.
        page.goto("/state/sample/")
        current = int(page.inner_text("#state-version").split()[-1])
        assert current >= 2
        page.click("#restore-1")
        page.get_by_role("button", name="Restore").click()
        page.get_by_text(f"Version 1 restored as version {current + 1}.").wait_for()
        assert page.inner_text("#state-version") == f"version {current + 1}"
        page.select_option("select[name=a]", "1")
        page.select_option("select[name=b]", str(current))
        page.get_by_role("button", name="Show difference").click()
        assert page.locator("#state-diff .del").count() > 0

        # Edit: a schedule; the schedules page lists it with its next times.
        page.goto("/pipelines/sample/")
        page.click("#edit-pipeline")
        page.fill("#id_schedule", "0 3 * * *")
        page.click("button[type=submit]")
        page.get_by_text("Pipeline sample saved.").wait_for()
        assert "0 3 * * *" in page.inner_text(".facts")
        page.goto("/schedules/")
        assert page.get_by_role("link", name="sample").is_visible()


def cancel_a_long_run(browser: Any, server: ServeProcess, tmp_path: Path) -> None:
    page = log_in(browser, server, ADMIN)
    with screenshot_on_failure(page, "cancel"):
        config = {
            "tap-flx-sample": {"rows": 50_000_000, "batch_size": 100_000},
            "target-flx-sqlite": {"database": str(tmp_path / "long.db")},
        }
        new_pipeline(page, "long", config)
        page.get_by_role("button", name="Run now").click()
        page.wait_for_url(re.compile(r".*/executions/[0-9a-f]{32}/$"))
        page.locator("#run-status", has_text="running").wait_for()
        page.click("#cancel-run")
        page.locator(".flash", has_text="Cancel requested").wait_for()
        page.locator("#run-status", has_text="cancelled").wait_for()
        assert page.locator("#cancel-run").count() == 0
        assert page.locator("#retry-run").is_visible()


def a_viewer_sees_no_write_control_and_a_hand_made_post_is_refused(
    browser: Any, server: ServeProcess
) -> None:
    page = log_in(browser, server, VIEWER, viewport={"width": 390, "height": 844})
    with screenshot_on_failure(page, "viewer"):
        page.goto("/pipelines/sample/")
        assert page.locator("#pipeline-config").is_visible()
        for control in ("#run-now", "#edit-pipeline", "#disable-pipeline", "#delete-pipeline"):
            assert page.locator(control).count() == 0, control
        page.goto("/pipelines/")
        assert page.get_by_role("button", name="Run now").count() == 0
        token = page.locator("input[name=csrfmiddlewaretoken]").first.input_value()
        for path in ("/pipelines/sample/run/", "/pipelines/sample/disable/"):
            answer = page.request.post(path, form={"csrfmiddlewaretoken": token})
            assert answer.status == 403, path
            assert "permission" in answer.text().lower()
        for path in (
            "/",
            "/executions/",
            "/state/sample/",
            "/plugins/",
            "/schedules/",
            "/profile/",
        ):
            assert page.request.get(path).status == 200, path
        assert page.request.get("/users/").status == 403
        page.goto("/executions/?pipeline=sample")
        assert page.locator("table.runs tbody tr").count() == 1  # no run was added


def dashboard_screenshots_at_desktop_and_phone_width(
    browser: Any, server: ServeProcess, tmp_path: Path
) -> None:
    """The README's screenshots; written into docs/screenshots with FLX_WEB_SCREENSHOTS=1."""
    for name, size in (("dashboard.png", (1280, 900)), ("dashboard-phone.png", (390, 844))):
        page = log_in(browser, server, ADMIN, viewport={"width": size[0], "height": size[1]})
        with screenshot_on_failure(page, name):
            page.locator("#freshness").get_by_text("sample").wait_for()
            path = tmp_path / name
            page.screenshot(path=str(path), full_page=True)
            assert path.stat().st_size > 10_000
            if os.environ.get("FLX_WEB_SCREENSHOTS") == "1":
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, SCREENSHOTS / name)
