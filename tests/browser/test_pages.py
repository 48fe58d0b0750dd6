"""The main path of each role in a real browser (Chromium, headless), with a screenshot of
every step under var/screenshots/ and axe-core on every page.

A subject (an organisation) signs in with a one-time code, objects to a failed food
inspection with a file; a reviewer takes the case and corrects the record's date; the
subject's score and the public register change. Then the public register, the operator's
dashboard, the pages in Chinese on a phone, and the keyboard.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from tests.browser.conftest import A11yCheck, LiveServer, PageFactory, Screenshot
from tests.conftest import EXAMPLE_POLICY
from tests.web.conftest import DEBTOR, SEED, SHOP
from trustledger.audit import AuditKey
from trustledger.domain.principal import Role
from trustledger.service.keys import create_key
from trustledger.service.policies import install_policy
from trustledger.service.registry import utc_now
from trustledger.service.scoring import score_all
from trustledger.service.sessions import create_signin_code
from trustledger.store import migrate
from trustledger.store.engine import open_engine
from trustledger.web.app import Settings, create_app

ZONE = ZoneInfo("Asia/Shanghai")  # the example policy's
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@dataclass
class Site:
    url: str
    app: FastAPI
    keys: dict[str, str]

    def code(self, role: str) -> str:
        key_id = self.keys[role].split("_")[1]
        with_engine = self.app.state.settings.engine
        return create_signin_code(with_engine, key_id, now=utc_now())


@pytest.fixture
def site(tmp_path: Path, live_server: LiveServer) -> Iterator[Site]:
    """The real app on a SQLite file with the seed population, served on 127.0.0.1."""
    engine = open_engine(f"sqlite:///{tmp_path / 'browser.db'}")
    migrate.upgrade(engine)
    install_policy(engine, EXAMPLE_POLICY, now=utc_now())
    app = create_app(Settings(engine=engine, audit_key=AuditKey.generate(), rate_per_second=1e4))

    def key(role: Role, **scope: Any) -> str:
        return create_key(
            engine, role=role, now=utc_now(), label=f"test {role.value}", **scope
        ).token

    with TestClient(app) as client:
        for provider, rows in SEED.items():
            token = key(Role.PROVIDER, provider=provider)
            r = client.post(
                "/v1/records",
                json={"records": rows},
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": provider},
            )
            assert r.status_code == 201, r.text
    # The nightly run: the public lists read the current state it leaves.
    now = utc_now()
    score_all(engine, as_of=now.astimezone(ZONE).date(), known_at=now, now=now, current=True)
    keys = {
        "shop": key(Role.SUBJECT, subject=SHOP),
        "debtor": key(Role.SUBJECT, subject=DEBTOR),
        "reviewer": key(Role.REVIEWER),
        "operator": key(Role.OPERATOR),
        "airline": key(Role.RELYING_PARTY, measures=("restrict_air_travel",)),
        "court": key(Role.PROVIDER, provider="intermediate_court"),
    }
    yield Site(live_server(app), app, keys)
    engine.dispose()


def sign_in(page: Page, site: Site, who: str, *, code: bool = False) -> None:
    if code:
        page.goto(f"{site.url}/signin?code={site.code(who)}")
    else:
        page.goto(f"{site.url}/signin")
        page.get_by_label(re.compile("Sign-in code or API key|登录码")).fill(site.keys[who])
    page.locator("main").get_by_role("button").click()
    page.wait_for_load_state("networkidle")


def score_on(page: Page) -> str:
    text = page.locator("main .card strong").first.inner_text()
    found = re.search(r"[0-9][0-9,.]*", text)
    assert found, text
    return found.group(0)


def test_subject_objects_reviewer_corrects_score_and_register_change(
    site: Site,
    new_page: PageFactory,
    screenshot: Screenshot,
    check_a11y: A11yCheck,
) -> None:
    # The public register before: the shop's failed inspection on its door sign.
    public = new_page()
    public.goto(f"{site.url}/register/{SHOP}")
    expect(public.locator(".door-sign")).to_contain_text("Poor")
    expect(public.locator(".door-sign")).to_contain_text("20 May 2026")
    screenshot(public, "1-register-before")
    check_a11y(public, context="organisation page")

    # The subject signs in with a one-time code and sees its file.
    subject = new_page()
    sign_in(subject, site, "shop", code=True)
    expect(subject).to_have_url(re.compile(r"/me$"))
    expect(subject.locator("svg[role=img]").first).to_be_visible()
    before = score_on(subject)
    screenshot(subject, "2-subject-file")
    check_a11y(subject, context="the subject's file")

    # It objects to the failed inspection, with a letter.
    row = subject.locator("tr", has_text="Food safety inspection: failed")
    row.get_by_role("link", name=re.compile("Object")).click()
    subject.get_by_label("Why is this record wrong?").fill(
        "The inspection took place on 20 May 2024, not 2026: see the inspector's letter."
    )
    subject.get_by_label(re.compile("Evidence")).set_input_files(
        {"name": "letter.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    screenshot(subject, "3-objection-form")
    check_a11y(subject, context="objection form")
    subject.get_by_role("button", name="Send the objection").click()
    expect(subject.get_by_role("status")).to_contain_text("marked as disputed")
    case_url = subject.url.split("?")[0]
    screenshot(subject, "4-case-opened")
    check_a11y(subject, context="case progress")

    # The reviewer takes it from the queue and corrects the date.
    reviewer = new_page()
    sign_in(reviewer, site, "reviewer")
    expect(reviewer).to_have_url(re.compile(r"/desk$"))
    screenshot(reviewer, "5-queue")
    check_a11y(reviewer, context="review queue")
    reviewer.get_by_role("link", name=re.compile("objection")).first.click()
    expect(reviewer.get_by_role("link", name="letter.pdf")).to_be_visible()
    reviewer.get_by_role("button", name="Take this case").click()
    expect(reviewer.get_by_role("status")).to_contain_text("You took this case.")
    reviewer.get_by_label("corrected").check()
    reviewer.get_by_label("Date", exact=True).fill("2024-05-20")
    reviewer.get_by_label("Reason, in words the subject will read").fill(
        "The inspectorate confirmed the inspection was on 20 May 2024."
    )
    screenshot(reviewer, "6-decide")
    check_a11y(reviewer, context="case at the desk")
    reviewer.get_by_role("button", name="Decide", exact=True).click()
    expect(reviewer.get_by_role("status")).to_contain_text("Decided.")
    screenshot(reviewer, "7-decided")

    # The subject sees the outcome, and a new score.
    subject.goto(case_url)
    expect(subject.locator("dl.facts")).to_contain_text("corrected")
    screenshot(subject, "8-case-decided")
    subject.goto(f"{site.url}/me")
    after = score_on(subject)
    assert after != before, f"the score stayed {before}"
    screenshot(subject, "9-subject-file-after")

    # And the public register shows the corrected inspection.
    public.goto(f"{site.url}/register/{SHOP}")
    expect(public.locator(".door-sign")).to_contain_text("20 May 2024")
    screenshot(public, "10-register-after")


def test_the_public_register_by_search_lists_and_policy(
    site: Site, page: Page, screenshot: Screenshot, check_a11y: A11yCheck
) -> None:
    page.goto(site.url)
    check_a11y(page, context="home")
    screenshot(page, "home")
    # htmx answers as one types: no button press.
    page.get_by_role("searchbox").first.fill("noodles")
    page.get_by_role("searchbox").first.press("Enter")
    page.wait_for_url(re.compile(r"/register\?q=noodles"))
    search = page.locator("#q")
    search.fill("Bad Trading")
    expect(page.locator("#results")).to_contain_text("Bad Trading Co.")
    screenshot(page, "search")
    check_a11y(page, context="search results")
    # The language switch follows the live search.
    expect(page.get_by_role("link", name="简体中文")).to_have_attribute(
        "href", re.compile(r"q=Bad\+Trading")
    )
    page.get_by_role("link", name="Bad Trading Co.").click()
    expect(page.locator("main")).to_contain_text(
        "Example City list of seriously dishonest subjects"
    )
    check_a11y(page, context="a black-listed organisation")
    page.goto(f"{site.url}/lists/black")
    expect(page.locator("table")).to_contain_text("Bad Trading Co.")
    screenshot(page, "black-list")
    check_a11y(page, context="the black list")
    page.goto(f"{site.url}/policy")
    page.get_by_text("Loan in default (more than 90 days overdue)").click()
    expect(page.locator("details[open]")).to_contain_text("Its weight halves every 2 years.")
    screenshot(page, "policy")
    check_a11y(page, context="the policy explained")


def test_the_operator_dashboard(
    site: Site, page: Page, screenshot: Screenshot, check_a11y: A11yCheck
) -> None:
    sign_in(page, site, "operator")
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    for chart in ("chart-grades", "chart-lists", "chart-records", "chart-outcomes", "chart-review"):
        expect(page.locator(f"svg[aria-labelledby^='{chart}']")).to_be_visible()
    screenshot(page, "dashboard")
    check_a11y(page, context="dashboard")


@pytest.mark.parametrize(
    "path", ["/", "/register?q=Noodles", f"/register/{SHOP}", "/policy", "/me"]
)
def test_chinese_on_a_phone(
    site: Site, new_page: PageFactory, screenshot: Screenshot, check_a11y: A11yCheck, path: str
) -> None:
    page = new_page(locale="zh-CN", phone=True)
    if path == "/me":
        sign_in(page, site, "debtor")
    page.goto(site.url + path)
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    # Nothing is wider than the phone's screen but the tables, which scroll.
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"{path} is {overflow}px wider than the phone"
    screenshot(page, "zh-phone")
    check_a11y(page, context=f"{path} in Chinese on a phone")


def test_the_language_switch_and_the_keyboard(
    site: Site, page: Page, screenshot: Screenshot
) -> None:
    page.goto(site.url)
    page.keyboard.press("Tab")
    skip = page.locator(":focus")
    expect(skip).to_have_text("Skip to the content")
    page.keyboard.press("Enter")
    page.get_by_role("link", name="简体中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(page.locator("h2").first).to_have_text("查询机构")
    screenshot(page, "home-zh")
    # The choice is kept on the next page.
    page.goto(f"{site.url}/policy")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    screenshot(page, "policy-zh")


def test_a_relying_party_asks_and_the_provider_is_told(
    site: Site,
    new_page: PageFactory,
    screenshot: Screenshot,
    check_a11y: A11yCheck,
) -> None:
    airline = new_page()
    sign_in(airline, site, "airline")
    expect(airline).to_have_url(re.compile(r"/account$"))
    airline.get_by_label("Subject (id or identifier)").fill(DEBTOR)
    airline.get_by_label(re.compile("^Purpose")).fill("ticket_sale")
    airline.get_by_role("button", name="Ask").click()
    expect(airline.get_by_role("status")).to_contain_text("The sanction “No air tickets” applies")
    screenshot(airline, "decision")
    check_a11y(airline, context="a relying party's decision")

    # The debtor objects to the judgment; a reviewer asks the court for evidence.
    debtor = new_page()
    sign_in(debtor, site, "debtor")
    debtor.locator("tr", has_text="Effective court judgment not performed").get_by_role(
        "link", name=re.compile("Object")
    ).click()
    debtor.get_by_label("Why is this record wrong?").fill("I paid the judgment in April.")
    debtor.get_by_role("button", name="Send the objection").click()
    reviewer = new_page()
    sign_in(reviewer, site, "reviewer")
    reviewer.get_by_role("link", name=re.compile("objection")).first.click()
    reviewer.get_by_label("What should the provider send?").fill("The enforcement file.")
    reviewer.get_by_role("button", name="Send the request").click()
    expect(reviewer.get_by_role("status")).to_contain_text("The provider was asked")

    court = new_page()
    sign_in(court, site, "court")
    expect(court).to_have_url(re.compile(r"/account$"))
    expect(court.locator("main")).to_contain_text("evidence was asked for")
    screenshot(court, "provider-account")
    check_a11y(court, context="a provider's account")
