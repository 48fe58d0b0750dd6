"""Browser tests: pages served by uvicorn on 127.0.0.1, driven in Debian's Chromium with
Playwright's sync API, checked with axe-core served from this machine.

``scripts/ensure-browser`` (run by ``make test``) installs /usr/bin/chromium and puts the
pinned axe-core in ``var/vendor/``. Without either, the tests here are skipped locally and
*fail* in CI (``CI=true``). Never ``playwright install``.

Fixtures (see ``tests/browser/test_harness.py`` for them at work)::

    live_server(app, *, allow_server_errors=False) -> str   # base URL, stopped at teardown
    page -> Page                                             # desktop, 1280x900, en-US
    new_page(*, locale="en-US", phone=False, **context_options) -> Page
    new_page.watch(page) -> PageWatch                        # what the page did wrong so far
    screenshot(page, name) -> Path        # var/screenshots/<test>-<name>.png, full page
    check_a11y(page, *, context="") -> list[violation]       # fails on serious/critical

Every page comes in a fresh browser context that fails the test at teardown if a page logged
a console error, threw an uncaught exception, or asked for anything from a host other than
127.0.0.1/localhost (those requests are aborted: nothing may come from a CDN). A test that
expects a console error says so: ``new_page.watch(page).allow_console_error(r"status of 404")``.

Playwright's sync API marks the main thread's asyncio loop as running while it is connected,
so the browser is package-scoped (closed once the last test here is done, before the rest of
the suite runs) and nothing here may use asyncio in the main thread: servers run in threads.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import pytest
import uvicorn
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    Route,
    WebError,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ENSURE_BROWSER = ROOT / "scripts" / "ensure-browser"


def _pinned_axe_version() -> str:
    """The axe-core version scripts/ensure-browser pins (one pin, in one place)."""
    found = re.search(r"^AXE_VERSION=(\S+)$", ENSURE_BROWSER.read_text(), re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no AXE_VERSION=... line in {ENSURE_BROWSER}")
    return found.group(1)


AXE_VERSION = _pinned_axe_version()
AXE_JS = ROOT / "var" / "vendor" / f"axe-core-{AXE_VERSION}" / "axe.min.js"
#: Where pages fetch axe from: their own origin (so a ``script-src 'self'`` policy admits it),
#: answered by the browser context from AXE_JS; the app under test never sees the request.
AXE_PATH = f"/__browser-tests__/axe-core-{AXE_VERSION}/axe.min.js"
#: The rules check_a11y runs: WCAG 2.0, 2.1 and 2.2 at levels A and AA, and best practices.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
#: Violations with these impacts fail the test; "minor" and "moderate" are returned only.
AXE_FAILING = frozenset({"serious", "critical"})
SCREENSHOTS = ROOT / "var" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
TIMEOUT_MS = 10_000

Violation = dict[str, Any]


# --- What must be there ----------------------------------------------------------------------


def missing_requirements() -> list[str]:
    """What the browser tests lack on this machine, in words."""
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"{CHROMIUM} (Debian's chromium package)")
    if not AXE_JS.is_file():
        missing.append(f"axe-core {AXE_VERSION} at {AXE_JS.relative_to(ROOT)}")
    return missing


def require(missing: list[str], *, ci: bool) -> None:
    """Skip (locally) or fail (in CI) when something the browser tests need is missing."""
    if not missing:
        return
    why = "browser tests need " + " and ".join(missing) + ": run scripts/ensure-browser"
    if ci:
        pytest.fail(f"{why} (CI=true: they must run, not skip)", pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="session", autouse=True)
def _browser_requirements() -> None:
    require(missing_requirements(), ci=os.environ.get("CI") == "true")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests here ``browser``, so ``-m "not browser"`` leaves them out."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


# --- The browser -----------------------------------------------------------------------------


@pytest.fixture(scope="package")
def browser(_browser_requirements: None) -> Iterator[Browser]:
    """Headless Chromium, launched once for the tests here and closed after the last."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


# --- The server ------------------------------------------------------------------------------


class _ErrorLog(logging.Handler):
    """The errors one server's thread logs (uvicorn logs an app's unhandled exception there)."""

    def __init__(self, thread_name: str) -> None:
        super().__init__(logging.ERROR)
        self.thread_name = thread_name
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.threadName != self.thread_name:
            return
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f": {record.exc_info[1]!r}"
        self.messages.append(text)


@contextmanager
def serve(app: Any, *, allow_server_errors: bool = False, timeout: float = 10.0) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread on a free port of 127.0.0.1; yield its base
    URL once its lifespan has started, and stop it (lifespan shutdown included) on exit.

    Fails the test on exit if the app raised an unhandled exception (uvicorn logged an error),
    unless ``allow_server_errors``.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # bound before the thread starts: the port is ours, no race
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        log_config=None,  # leave logging alone: records propagate to pytest's capture
        lifespan="on",
        ws="none",  # pages need no websockets; spares importing the websockets library
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    name = f"live-server-{port}"
    errors = _ErrorLog(name)
    log = logging.getLogger("uvicorn.error")
    log.addHandler(errors)
    crashed: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # uvicorn sys.exit()s when the lifespan fails to start
            crashed.append(exc)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(
                    f"the server on port {port} stopped before it started:\n"
                    + "\n".join(errors.messages)
                ) from (crashed[0] if crashed else None)
            if time.monotonic() > deadline:
                raise TimeoutError(f"the server on port {port} did not start in {timeout} s")
            time.sleep(0.005)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(5)
        sock.close()
        log.removeHandler(errors)
    if thread.is_alive():
        pytest.fail(f"the server on port {port} did not stop", pytrace=False)
    if crashed:
        raise RuntimeError(f"the server on port {port} crashed") from crashed[0]
    if errors.messages and not allow_server_errors:
        pytest.fail(
            "the app under test logged errors:\n" + "\n".join(f"  {m}" for m in errors.messages),
            pytrace=False,
        )


class LiveServer:
    """``live_server(app)``: serve ``app`` until the test ends, return its base URL."""

    def __init__(self) -> None:
        self._running = ExitStack()

    def __call__(self, app: Any, *, allow_server_errors: bool = False) -> str:
        return self._running.enter_context(serve(app, allow_server_errors=allow_server_errors))

    def stop_all(self) -> None:
        self._running.close()


@pytest.fixture
def live_server() -> Iterator[LiveServer]:
    servers = LiveServer()
    try:
        yield servers
    finally:
        servers.stop_all()


# --- Pages -----------------------------------------------------------------------------------


def is_local(url: str) -> bool:
    """Whether a URL stays on this machine (data:, blob: and about: URLs have no host)."""
    host = urlsplit(url).hostname
    return host is None or host in LOCAL_HOSTS


@dataclass
class PageWatch:
    """What the pages of one browser context did that a test must not let pass."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    allowed_console_errors: list[re.Pattern[str]] = field(default_factory=list)

    def allow_console_error(self, pattern: str) -> None:
        """Expect console errors matching ``pattern`` (a regex searched in the message)."""
        self.allowed_console_errors.append(re.compile(pattern))

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type not in ("error", "assert"):
            return
        text = message.text
        if any(allowed.search(text) for allowed in self.allowed_console_errors):
            return
        where = message.location
        url = where.get("url") if where else None
        self.console_errors.append(f"{text} ({url})" if url else text)

    def on_web_error(self, error: WebError) -> None:
        self.page_errors.append(str(error.error))

    def on_request(self, request: Request) -> None:
        if not is_local(request.url):
            self.foreign_requests.append(request.url)

    def problems(self) -> list[str]:
        return (
            [f"console error: {m}" for m in self.console_errors]
            + [f"uncaught exception: {m}" for m in self.page_errors]
            + [f"request to a non-local host (aborted): {u}" for u in self.foreign_requests]
        )

    def check(self) -> None:
        """Fail the test if anything went wrong so far."""
        problems = self.problems()
        if problems:
            pytest.fail(
                "the page misbehaved:\n" + "\n".join(f"  - {p}" for p in problems), pytrace=False
            )

    def clear(self) -> None:
        self.console_errors.clear()
        self.page_errors.clear()
        self.foreign_requests.clear()


def _abort(route: Route) -> None:
    route.abort("blockedbyclient")


def _serve_axe(route: Route) -> None:
    route.fulfill(path=AXE_JS, content_type="text/javascript; charset=utf-8")


class PageFactory:
    """``new_page(...)``: a page in a new browser context, watched (see PageWatch)."""

    def __init__(self, browser: Browser) -> None:
        self._browser = browser
        self._contexts: list[tuple[BrowserContext, PageWatch]] = []

    def __call__(self, *, locale: str = "en-US", phone: bool = False, **options: Any) -> Page:
        """A new page: desktop 1280x900, or with ``phone=True`` 390x844 mobile with touch.
        ``options`` go to ``browser.new_context`` (``base_url``, ``color_scheme``...)."""
        settings: dict[str, Any] = {"locale": locale, "viewport": DESKTOP}
        if phone:
            settings.update(viewport=PHONE, is_mobile=True, has_touch=True)
        settings.update(options)
        context = self._browser.new_context(**settings)
        context.set_default_timeout(TIMEOUT_MS)
        watch = PageWatch()
        context.on("console", watch.on_console)
        context.on("weberror", watch.on_web_error)
        context.on("request", watch.on_request)
        context.route(lambda url: not is_local(url), _abort)
        context.route(f"**{AXE_PATH}", _serve_axe)
        self._contexts.append((context, watch))
        return context.new_page()

    def watch(self, page: Page) -> PageWatch:
        for context, watch in self._contexts:
            if page.context is context:
                return watch
        raise LookupError("this page did not come from new_page")

    def close_all(self) -> list[str]:
        """Close every context; return the problems their pages had."""
        problems = []
        for context, watch in self._contexts:
            for open_page in context.pages:
                # A round trip, so that events the page sent before it are handled; a crashed
                # or closing page has nothing more to say.
                with suppress(PlaywrightError):
                    open_page.evaluate("0")
            problems += watch.problems()
            context.close()
        self._contexts.clear()
        return problems


@pytest.fixture
def new_page(browser: Browser) -> Iterator[PageFactory]:
    pages = PageFactory(browser)
    try:
        yield pages
    finally:
        problems = pages.close_all()
    if problems:
        pytest.fail("a page misbehaved:\n" + "\n".join(f"  - {p}" for p in problems), pytrace=False)


@pytest.fixture
def page(new_page: PageFactory) -> Page:
    """A desktop page (1280x900, en-US) in a fresh, watched context."""
    return new_page()


# --- Screenshots and accessibility -----------------------------------------------------------


def _file_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "_"


Screenshot = Callable[[Page, str], Path]


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Screenshot:
    """``screenshot(page, name)``: a full-page PNG at var/screenshots/<test>-<name>.png."""

    def take(page: Page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{_file_part(request.node.name)}-{_file_part(name)}.png"
        page.screenshot(path=path, full_page=True, animations="disabled")
        return path

    return take


def _inject_axe(page: Page) -> None:
    if page.evaluate("typeof window.axe !== 'undefined'"):
        return
    if urlsplit(page.url).scheme in ("http", "https"):
        # From the page's own origin (answered by the context from AXE_JS): an inline script
        # would be refused by a Content-Security-Policy of script-src 'self'.
        page.add_script_tag(url=AXE_PATH)
    else:
        page.add_script_tag(path=AXE_JS)


_RUN_AXE = """tags => axe.run(document, {
    resultTypes: ['violations'],
    runOnly: {type: 'tag', values: tags},
}).then(results => results.violations)"""


def a11y_report(violations: list[Violation], *, nodes: int = 3) -> str:
    """The violations in words: rule, impact, help, and the first few elements."""
    lines = []
    for v in violations:
        lines.append(f"{v['id']} [{v['impact']}]: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:nodes]:
            target = " ".join(str(t) for t in node["target"])
            html = node["html"] if len(node["html"]) <= 200 else node["html"][:197] + "..."
            lines.append(f"    at {target}: {html}")
        if len(v["nodes"]) > nodes:
            lines.append(f"    ... and {len(v['nodes']) - nodes} more")
    return "\n".join(lines)


def run_axe(page: Page) -> list[Violation]:
    """All axe violations of the page as it is now (WCAG 2 A/AA and best practices)."""
    _inject_axe(page)
    violations: list[Violation] = page.evaluate(_RUN_AXE, AXE_TAGS)
    return violations


def assert_accessible(page: Page, *, context: str = "") -> list[Violation]:
    """Fail if axe finds a serious or critical violation; return all violations."""
    violations = run_axe(page)
    failing = [v for v in violations if v["impact"] in AXE_FAILING]
    if failing:
        where = page.url + (f" ({context})" if context else "")
        pytest.fail(
            f"accessibility: {len(failing)} serious or critical axe violation(s) on {where}:\n"
            + a11y_report(failing),
            pytrace=False,
        )
    return violations


class A11yCheck(Protocol):
    def __call__(self, page: Page, *, context: str = "") -> list[Violation]: ...


@pytest.fixture
def check_a11y() -> A11yCheck:
    """``check_a11y(page, *, context="")``: axe-core on the page as it is now; fails the test
    on serious or critical violations, returns every violation (minor ones too)."""
    return assert_accessible
