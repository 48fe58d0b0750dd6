"""The browser harness itself (conftest.py): each of its checks must be able to fail.

A tiny app with pages made to pass or to fail: an accessible page, one with serious axe
violations, one with only moderate ones, one that loads an image from a CDN. Pages are sent
with the Content-Security-Policy the real pages send, so axe is shown to load under it; all
but the CDN one, which the harness itself must stop (not the browser's CSP).
"""

from __future__ import annotations

import base64
import struct
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from playwright.sync_api import Browser, Page

from tests.browser.conftest import (
    SCREENSHOTS,
    A11yCheck,
    LiveServer,
    PageFactory,
    Screenshot,
    is_local,
    require,
    serve,
)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PIXEL = (
    "data:image/png;base64,"
    + base64.b64encode(
        bytes.fromhex(
            "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
            "0000000c49444154789c636868680000030401814bd3d2100000000049454e44ae426082"
        )
    ).decode()
)


def html(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title></head><body>{body}</body></html>"
    )


GOOD = html(
    "Harness: an accessible page",
    "<header><p>trustledger harness</p></header><main><h1>An accessible page</h1>"
    f'<p>Some text.</p><img src="{PIXEL}" alt="A grey dot" width="16" height="16">'
    '<form><label for="name">Name</label> <input id="name" name="name">'
    '<button type="submit">Send</button></form>'
    '<div style="height: 1600px">A tall block, so that a full-page screenshot is taller than '
    "the viewport.</div></main>",
)
BAD = html(
    "Harness: an inaccessible page",
    f'<main><h1>An inaccessible page</h1><img src="{PIXEL}" width="16" height="16">'
    '<form><input name="q"></form>'
    '<p style="color: #eeeeee; background: #ffffff">Barely visible text.</p></main>',
)
#: Only moderate violations (content outside landmarks, no h1): returned, not failed.
MINOR = html("Harness: a page with minor issues", "<h2>No landmarks</h2><p>Loose text.</p>")
CDN = html(
    "Harness: a page with a CDN image",
    '<main><h1>A CDN image</h1><img src="https://cdn.example.com/x.png" alt="From afar"></main>',
)
PAGES = {"/good": GOOD, "/bad": BAD, "/minor": MINOR, "/cdn": CDN}


def _page(content: str, headers: dict[str, str]) -> Callable[[], Awaitable[HTMLResponse]]:
    async def show() -> HTMLResponse:
        return HTMLResponse(content, headers=headers)

    return show


def make_app(events: list[str]) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)
    for path, content in PAGES.items():
        headers = {} if path == "/cdn" else {"Content-Security-Policy": CSP}
        app.get(path, response_class=HTMLResponse)(_page(content, headers))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("the app under test broke")

    return app


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """One server for the module (``serve``); ``live_server`` serves one per test."""
    with serve(make_app([])) as url:
        yield url


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# --- Skip locally, fail in CI ----------------------------------------------------------------


def test_requirements_skip_locally_and_fail_in_ci() -> None:
    require([], ci=True)  # all there: nothing happens
    with pytest.raises(pytest.skip.Exception, match="scripts/ensure-browser"):
        require(["/usr/bin/chromium"], ci=False)
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require(["/usr/bin/chromium"], ci=True)


def test_only_this_machine_is_local() -> None:
    assert is_local("http://127.0.0.1:8123/x")
    assert is_local("http://localhost/x")
    assert is_local(PIXEL)
    assert is_local("about:blank")
    assert not is_local("https://cdn.example.com/x.png")
    assert not is_local("http://127.0.0.1.example.com/x")
    assert not is_local("wss://example.org/socket")


# --- The live server -------------------------------------------------------------------------


def test_live_server_runs_the_lifespan_and_stops() -> None:
    events: list[str] = []
    with serve(make_app(events)) as url:
        assert url.startswith("http://127.0.0.1:")
        assert events == ["startup"]
        with urllib.request.urlopen(f"{url}/good", timeout=5) as response:
            assert response.status == 200
            assert response.headers["Content-Security-Policy"] == CSP
    assert events == ["startup", "shutdown"]
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/good", timeout=5)


def test_live_server_serves_apps_until_the_test_ends(live_server: LiveServer, page: Page) -> None:
    events: list[str] = []
    first = live_server(make_app(events))
    second = live_server(make_app([]))
    assert first != second
    assert events == ["startup"]
    page.goto(f"{second}/good")
    assert page.title() == "Harness: an accessible page"


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


def test_live_server_fails_the_test_when_the_app_raises() -> None:
    with pytest.raises(pytest.fail.Exception, match="the app under test broke"):
        with serve(make_app([])) as url:
            assert status_of(f"{url}/boom") == 500
    with serve(make_app([]), allow_server_errors=True) as url:  # unless told
        assert status_of(f"{url}/boom") == 500


def test_live_server_says_when_the_app_does_not_start() -> None:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        raise RuntimeError("no database")
        yield

    with pytest.raises(
        RuntimeError, match=r"(?s)stopped before it started.*RuntimeError: no database"
    ):
        with serve(FastAPI(lifespan=lifespan)):
            pass  # pragma: no cover - never reached


# --- Accessibility ---------------------------------------------------------------------------


def test_an_accessible_page_passes(site: str, page: Page, check_a11y: A11yCheck) -> None:
    response = page.goto(f"{site}/good")
    assert response is not None and response.headers["content-security-policy"] == CSP
    # Loaded under script-src 'self' without a console error (the page fixture checks that).
    assert check_a11y(page) == []


def test_serious_violations_fail_with_a_readable_report(
    site: str, page: Page, check_a11y: A11yCheck
) -> None:
    page.goto(f"{site}/bad")
    with pytest.raises(pytest.fail.Exception) as failed:
        check_a11y(page, context="the bad page")
    report = str(failed.value)
    for rule in ("image-alt [critical]", "label [critical]", "color-contrast [serious]"):
        assert rule in report
    assert "the bad page" in report
    assert f"{site}/bad" in report
    assert 'at input: <input name="q">' in report
    assert "https://dequeuniversity.com/rules/axe/" in report


def test_a_page_set_without_a_server_is_checked_too(page: Page, check_a11y: A11yCheck) -> None:
    page.set_content(BAD)  # about:blank: axe is injected inline
    with pytest.raises(pytest.fail.Exception, match="image-alt"):
        check_a11y(page)


def test_minor_violations_are_returned_not_failed(
    site: str, page: Page, check_a11y: A11yCheck
) -> None:
    page.goto(f"{site}/minor")
    violations = check_a11y(page)
    found = {v["id"]: v["impact"] for v in violations}
    assert found.get("region") == "moderate"
    assert found.get("page-has-heading-one") == "moderate"
    assert all(impact in ("minor", "moderate") for impact in found.values())


# --- Screenshots and phones ------------------------------------------------------------------


def test_screenshot_is_a_full_page_png(
    site: str,
    page: Page,
    screenshot: Screenshot,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)  # the path is the repository's, whatever the cwd
    page.goto(f"{site}/good")
    path = screenshot(page, "good page")
    assert path == SCREENSHOTS / "test_screenshot_is_a_full_page_png-good_page.png"
    width, height = png_size(path)
    assert width == 1280
    assert height > 1600  # the whole page, not just the 900 px viewport


def test_phone_pages_are_small_touch_screens(
    site: str, new_page: PageFactory, screenshot: Screenshot
) -> None:
    phone = new_page(phone=True, locale="zh-CN")
    phone.goto(f"{site}/good")
    assert phone.evaluate("[innerWidth, innerHeight]") == [390, 844]
    assert phone.evaluate("navigator.language") == "zh-CN"
    assert phone.evaluate("'ontouchstart' in window") is True
    width, _ = png_size(screenshot(phone, "phone"))
    assert width == 390


# --- The page watch --------------------------------------------------------------------------


def test_a_request_to_another_host_is_aborted_and_recorded(
    site: str, new_page: PageFactory
) -> None:
    page = new_page()
    watch = new_page.watch(page)
    page.goto(f"{site}/good")
    assert watch.problems() == []
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(f"{request.url} {request.failure}"))
    page.goto(f"{site}/cdn")
    assert page.evaluate("document.querySelector('img').naturalWidth") == 0
    assert len(failed) == 1  # aborted by the harness ("blockedbyclient"), not left to fail
    assert failed[0].startswith("https://cdn.example.com/x.png net::ERR_BLOCKED_BY_CLIENT")
    assert watch.foreign_requests == ["https://cdn.example.com/x.png"]
    with pytest.raises(pytest.fail.Exception, match=r"non-local host.*cdn\.example\.com/x\.png"):
        watch.check()
    watch.clear()  # or this test would fail at teardown, as a real one must


def test_console_errors_and_uncaught_exceptions_are_recorded(
    site: str, new_page: PageFactory
) -> None:
    page = new_page()
    watch = new_page.watch(page)
    page.goto(f"{site}/good")
    page.evaluate("console.warn('only a warning'); console.error('harness says boom')")
    with page.expect_event("pageerror"):
        page.evaluate("setTimeout(() => { throw new Error('uncaught boom') })")
    watch.allow_console_error(r"^expected: ")
    page.evaluate("console.error('expected: the test asked for this one')")
    page.evaluate("0")
    assert [e.split(" (")[0] for e in watch.console_errors] == ["harness says boom"]
    assert len(watch.page_errors) == 1 and "uncaught boom" in watch.page_errors[0]
    with pytest.raises(pytest.fail.Exception, match="harness says boom"):
        watch.check()
    watch.clear()


def test_closing_the_pages_reports_what_they_did(browser: Browser, site: str) -> None:
    """What the new_page fixture fails a test with at teardown."""
    pages = PageFactory(browser)
    pages().goto(f"{site}/cdn")
    problems = pages.close_all()
    assert "request to a non-local host (aborted): https://cdn.example.com/x.png" in problems
    assert any(p.startswith("console error: ") for p in problems)  # the failed load
    assert pages.close_all() == []
