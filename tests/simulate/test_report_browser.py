"""The simulation report as a person opens it: in headless Chromium, from the file, with
nothing fetched from anywhere, readable on a desktop and a phone, and accessible (axe-core).

Uses the browser test harness's requirements and axe check (``tests/browser/conftest.py``):
skipped locally without Chromium or axe-core, failing in CI. Screenshots go to
``var/screenshots/simulate-report-*.png``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ViewportSize, sync_playwright

from tests.browser.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SCREENSHOTS,
    assert_accessible,
    missing_requirements,
    require,
)
from trustledger.policy.load import load_policy
from trustledger.service.simulate import SimulationResult, simulate
from trustledger.synth.scenario import load_scenario

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "policies" / "example-city.toml"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    require(missing_requirements(), ci=os.environ.get("CI") == "true")
    text = EXAMPLE.read_text(encoding="utf-8").replace("points = -5\n", "points = -15\n", 1)
    other = tmp_path_factory.mktemp("policies") / "stricter.toml"
    other.write_text(text, encoding="utf-8")
    return simulate(
        tmp_path_factory.mktemp("sim") / "out",
        policy=load_policy(EXAMPLE),
        other=load_policy(other),
        population=20_000,
        seed=11,
        as_of=date(2026, 6, 30),
        scenario=load_scenario(ROOT / "examples" / "scenarios" / "uneven-enforcement.toml"),
        error_share=0.02,
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.mark.parametrize(
    ("name", "viewport"),
    [
        ("desktop", ViewportSize(width=1280, height=900)),
        ("phone", ViewportSize(width=390, height=844)),
    ],
)
def test_report_in_a_browser(
    report: SimulationResult, browser: Browser, name: str, viewport: ViewportSize
) -> None:
    context = browser.new_context(viewport=viewport, locale="en-US")
    try:
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on(
            "request",
            lambda r: (
                problems.append(f"fetched {r.url}") if not r.url.startswith("file:") else None
            ),
        )
        page.goto(report.report.as_uri())
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"simulate-report-{name}.png", full_page=True)
        assert problems == []
        headings = page.locator("h2").all_inner_texts()
        for expected in ("Findings", "Scores and grades", "Lists", "Sensitivity to wrong data"):
            assert expected in headings
        assert any("against" in h for h in headings)
        # Every chart drew, inline, with a name for screen readers.
        charts = page.locator("svg.chart")
        assert charts.count() >= 8
        assert page.locator("svg.chart title").count() == charts.count()
        # Nothing is wider than the screen except inside the scrolling table wrappers.
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
        page.locator("details").first.locator("summary").click()
        assert_accessible(page, context=f"simulation report, {name}")
    finally:
        context.close()
