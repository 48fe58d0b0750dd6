"""The web pages through Starlette's TestClient, on SQLite and PostgreSQL: signing in and
out, who may see which page, CSRF, the public register, the subject's objection through a
form and the reviewer's decision changing the file and the register, languages, errors.

The same paths in a real browser, with screenshots and an accessibility check, are in
``tests/browser``."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import BAD_CO, DEBTOR, SHOP, Api, record
from trustledger.service.keys import revoke_key
from trustledger.service.sessions import create_signin_code
from trustledger.store import audit as audit_store

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def key_id(token: str) -> str:
    return token.split("_")[1]


@pytest.fixture
def browser(api: Api) -> Iterator[Callable[..., TestClient]]:
    """A new TestClient (its own cookie jar), signed in with ``token`` when given."""
    made: list[TestClient] = []

    def open_(token: str | None = None, **headers: str) -> TestClient:
        client = TestClient(api.client.app, raise_server_exceptions=False, headers=headers or None)
        made.append(client)
        if token is not None:
            r = client.post("/signin", data={"secret": token}, follow_redirects=False)
            assert r.status_code == 303, r.text
        return client

    yield open_
    for c in made:
        c.close()


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def actions(api: Api) -> list[str]:
    with api.engine.connect() as conn:
        return [e.action for e in audit_store.iter_events(conn)]


# -- signing in and out ---------------------------------------------------------------


def test_sign_in_with_a_key_goes_to_the_roles_home_and_is_logged(api: Api, browser: Any) -> None:
    token = api.key("reviewer", label="Ms Reviewer")
    client = browser()
    r = client.post("/signin", data={"secret": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/desk"
    cookie = r.headers["set-cookie"]
    assert "tl_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    # The cookie is not the key.
    assert token.split("_", 2)[2] not in cookie
    assert client.get("/desk").status_code == 200
    assert "session.start" in actions(api)


def test_a_sign_in_code_works_once(api: Api, browser: Any) -> None:
    token = api.key("subject", subject=DEBTOR)
    code = create_signin_code(api.engine, key_id(token), now=api.clock())
    link = browser().get(f"/signin?code={code}")
    # Opening the link only fills in the form.
    assert link.status_code == 200 and code in link.text
    first = browser().post(
        "/signin",
        data={"secret": code.lower().replace("-", " "), "next": "/me"},
        follow_redirects=False,
    )
    assert first.status_code == 303 and first.headers["location"] == "/me"
    again = browser().post("/signin", data={"secret": code})
    assert again.status_code == 401
    assert "unknown, used or expired" in again.text


def test_an_expired_code_is_refused(api: Api, browser: Any) -> None:
    token = api.key("subject", subject=DEBTOR)
    code = create_signin_code(
        api.engine, key_id(token), now=api.clock() - timedelta(hours=1), ttl=timedelta(minutes=5)
    )
    r = browser().post("/signin", data={"secret": code})
    assert r.status_code == 401


@pytest.mark.parametrize(
    ("secret", "status", "words"),
    [
        ("", 400, "Enter a sign-in code or an API key"),
        ("tlk_nope_nope", 401, "not known to this registry"),
        ("ABCD", 400, "12 letters and digits"),
    ],
)
def test_a_bad_sign_in_says_why(
    api: Api, browser: Any, secret: str, status: int, words: str
) -> None:
    r = browser().post("/signin", data={"secret": secret})
    assert r.status_code == status
    assert words in r.text
    assert 'aria-invalid="true"' in r.text


def test_next_never_leaves_the_site(api: Api, browser: Any) -> None:
    token = api.key("operator")
    for target, expected in [
        ("https://evil.example/", "/dashboard"),
        ("//evil.example/x", "/dashboard"),
        ("/desk", "/desk"),
    ]:
        r = browser().post(
            "/signin", data={"secret": token, "next": target}, follow_redirects=False
        )
        assert r.headers["location"] == expected


def test_sign_out_ends_the_session(api: Api, browser: Any) -> None:
    client = browser(api.key("operator"))
    page = client.get("/dashboard")
    assert page.status_code == 200
    cookie = client.cookies.get("tl_session")
    r = client.post("/signout", data={"csrf": csrf(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    # The old cookie no longer signs anyone in, even when replayed.
    replay = browser()
    replay.cookies.set("tl_session", cookie)
    assert replay.get("/dashboard", follow_redirects=False).status_code == 303
    assert "session.end" in actions(api)


def test_revoking_the_key_ends_its_sessions_at_once(api: Api, browser: Any) -> None:
    token = api.key("reviewer")
    client = browser(token)
    assert client.get("/desk").status_code == 200
    revoke_key(api.engine, key_id(token), now=api.clock())
    r = client.get("/desk", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/signin")


# -- who sees which page ----------------------------------------------------------------

ROLES = ("anonymous", "public", "operator", "provider", "relying_party", "reviewer", "subject")
#: page -> what each role gets: a status, or "signin" (a redirect to the sign-in form).
PAGES: dict[str, tuple[int | str, ...]] = {
    "/": (200,) * 7,
    "/register?q=Noodles": (200,) * 7,
    "/policy": (200,) * 7,
    "/lists/black": (200,) * 7,
    "/signin": (200,) * 7,
    "/me": ("signin", 403, 403, 403, 403, 403, 200),
    "/desk": ("signin", 403, 200, 403, 403, 200, 403),
    "/dashboard": ("signin", 403, 200, 403, 403, 403, 403),
    "/account": ("signin", 200, 200, 200, 200, 200, 200),
}


def test_every_role_against_every_page(api: Api, browser: Any) -> None:
    tokens: dict[str, str | None] = {
        "anonymous": None,
        "public": api.key("public"),
        "operator": api.key("operator"),
        "provider": api.key("provider", provider="intermediate_court"),
        "relying_party": api.key("relying_party", measures=("restrict_air_travel",)),
        "reviewer": api.key("reviewer"),
        "subject": api.key("subject", subject=DEBTOR),
    }
    clients = {role: browser(token) for role, token in tokens.items()}
    wrong = []
    for path, expected in PAGES.items():
        for role, want in zip(ROLES, expected, strict=True):
            r = clients[role].get(path, follow_redirects=False)
            got: int | str = r.status_code
            if r.status_code == 303 and r.headers["location"].startswith("/signin?next="):
                got = "signin"
            if got != want:
                wrong.append(f"{role} GET {path}: {got}, expected {want}")
            if r.status_code == 200:
                assert r.headers["content-type"].startswith("text/html")
                assert "default-src 'self'" in r.headers["content-security-policy"]
    assert not wrong, "\n".join(wrong)


def test_a_post_without_the_csrf_token_is_refused(api: Api, browser: Any) -> None:
    client = browser(api.key("subject", subject=DEBTOR))
    record_id = _record_id(client, "fare_evasion")
    r = client.post(
        f"/me/records/{record_id}/objection",
        data={"reason": "Not me"},
        files={"files": ("x.pdf", PDF, "application/pdf")},
    )
    assert r.status_code == 403
    assert "reload the page" in r.text
    # Nothing was opened.
    page = client.get("/me").text
    assert "Review in progress" not in page


# -- the public register ------------------------------------------------------------------


def test_search_finds_organisations_by_name_and_code(api: Api, browser: Any) -> None:
    client = browser()
    by_name = client.get("/register?q=noodles")
    assert by_name.status_code == 200 and f"/register/{SHOP}" in by_name.text
    by_code = client.get(f"/register?q={SHOP}")
    assert f"/register/{SHOP}" in by_code.text
    # htmx asks for the results only.
    fragment = client.get(
        "/register?q=noodles", headers={"HX-Request": "true", "HX-Target": "results"}
    )
    assert "<html" not in fragment.text and f"/register/{SHOP}" in fragment.text
    # A history restore needs the whole page.
    restore = client.get(
        "/register?q=noodles",
        headers={
            "HX-Request": "true",
            "HX-Target": "results",
            "HX-History-Restore-Request": "true",
        },
    )
    assert "<html" in restore.text
    assert "HX-Request" in fragment.headers["vary"]
    # Persons are never found.
    assert "Wang Wei" not in client.get("/register?q=Wang").text


def test_an_organisation_shows_its_grade_lists_and_door_sign(api: Api, browser: Any) -> None:
    client = browser()
    shop = client.get(f"/register/{SHOP}").text
    assert "Good Noodles Ltd." in shop
    assert "door-sign poor" in shop and "Poor" in shop
    assert "Food safety inspection: failed" in shop
    bad = client.get(f"/register/{BAD_CO}").text
    assert "Example City list of seriously dishonest subjects" in bad
    missing = client.get("/register/91440300MA5FXX9X9X")
    assert missing.status_code in (404, 422)
    assert "<html" in missing.text


def test_the_policy_page_is_generated_from_the_policy(api: Api, browser: Any) -> None:
    text = browser().get("/policy").text
    assert "Loan in default (more than 90 days overdue)" in text
    assert "Its weight halves every 2 years." in text
    assert "It counts for 5 years from its date." in text
    assert "Civil Procedure Law of the PRC (2023 revision), art. 266" in text


# -- the subject objects, the reviewer corrects, everything follows -------------------------


def _record_id(client: TestClient, record_type_title: str) -> int:
    page = client.get("/me").text
    rows = re.findall(r'<tr id="record-(\d+)">(.*?)</tr>', page, re.S)
    titles = {
        "fare_evasion": "Fare evasion",
        "court_judgment_unfulfilled": "Effective court judgment not performed",
        "food_inspection_fail": "Food safety inspection: failed",
    }
    for rid, row in rows:
        if titles[record_type_title] in row:
            return int(rid)
    raise AssertionError(f"no {record_type_title} row on /me")


def object_to(
    client: TestClient,
    record_type: str,
    reason: str = "Not me",
    files: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Any:
    """Open the objection form of the subject's record of ``record_type`` and send it."""
    record_id = _record_id(client, record_type)
    form = client.get(f"/me/records/{record_id}/objection").text
    return client.post(
        f"/me/records/{record_id}/objection",
        data={"reason": reason, "csrf": csrf(form)},
        files=files,
        **kwargs,
    )


def test_objection_then_retraction_changes_the_file_and_the_register(
    api: Api, browser: Any
) -> None:
    shop_key = api.key("subject", subject=SHOP)
    subject = browser(shop_key)
    before = browser().get(f"/register/{SHOP}").text
    assert "door-sign poor" in before
    record_id = _record_id(subject, "food_inspection_fail")
    form = subject.get(f"/me/records/{record_id}/objection")
    assert form.status_code == 200
    r = subject.post(
        f"/me/records/{record_id}/objection",
        data={"reason": "The inspector visited the shop next door.", "csrf": csrf(form.text)},
        files={"files": ("letter.pdf", PDF, "application/pdf")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    case_url = r.headers["location"]
    case_id = case_url.split("/")[-1].split("?")[0]
    case_page = subject.get(case_url).text
    assert "Sent. The record is marked as disputed" in case_page
    assert "letter.pdf" in case_page
    assert "disputed" in subject.get("/me").text

    reviewer = browser(api.key("reviewer"))
    queue = reviewer.get("/desk").text
    assert f"/desk/cases/{case_id}" in queue
    desk = reviewer.get(f"/desk/cases/{case_id}")
    assert desk.status_code == 200
    token = csrf(desk.text)
    took = reviewer.post(f"/desk/cases/{case_id}/take", data={"csrf": token})
    assert took.status_code == 200 and "You took this case." in took.text
    # A decision without a reason is refused, naming the field, and nothing changes.
    refused = reviewer.post(
        f"/desk/cases/{case_id}/decision", data={"csrf": token, "outcome": "retracted"}
    )
    assert refused.status_code == 422 and 'id="reason-error"' in refused.text
    decided = reviewer.post(
        f"/desk/cases/{case_id}/decision",
        data={"csrf": token, "outcome": "retracted", "reason": "The inspector confirmed it."},
    )
    assert decided.status_code == 200, decided.text
    assert "Decided." in decided.text

    mine = subject.get(case_url).text
    assert "retracted" in mine and "The inspector confirmed it." in mine
    after = browser().get(f"/register/{SHOP}").text
    assert "door-sign poor" not in after
    assert "Food safety inspection: failed" not in after


def test_a_bad_evidence_file_is_refused_and_nothing_is_opened(api: Api, browser: Any) -> None:
    client = browser(api.key("subject", subject=DEBTOR))
    r = object_to(
        client, "fare_evasion", files={"files": ("photo.png", b"MZ\x90\x00 no", "image/png")}
    )
    assert r.status_code == 422
    assert 'id="files-error"' in r.text and "photo.png" in r.text
    # The reason typed is kept for the second try.
    assert ">Not me</textarea>" in r.text
    assert "Review in progress" not in client.get("/me").text


def test_the_subject_downloads_its_evidence_as_an_attachment(api: Api, browser: Any) -> None:
    client = browser(api.key("subject", subject=DEBTOR))
    r = object_to(client, "fare_evasion", files={"files": ("ticket.pdf", PDF, "application/pdf")})
    link = re.search(r'href="(/evidence/[^"]+)"', r.text)
    assert link
    got = client.get(link.group(1))
    assert got.content == PDF
    assert got.headers["content-disposition"].startswith("attachment;")
    # Nobody else's.
    other = browser(api.key("subject", subject=SHOP))
    assert other.get(link.group(1)).status_code == 404


def test_the_waterfall_and_every_line_of_the_score(api: Api, browser: Any) -> None:
    page = browser(api.key("subject", subject=DEBTOR)).get("/me").text
    assert 'id="score-waterfall' in page or "score-waterfall" in page
    assert "<svg" in page and 'role="img"' in page
    assert "Effective court judgment not performed" in page
    assert "Path to repair" in page


def test_the_dashboard_draws_its_charts(api: Api, browser: Any) -> None:
    page = browser(api.key("operator")).get("/dashboard").text
    for chart in ("chart-grades", "chart-lists", "chart-records", "chart-outcomes", "chart-review"):
        assert chart in page
    assert "Example City Intermediate People's Court" in page or "intermediate_court" in page
    assert "seed-market_regulator" in page


def test_a_relying_party_asks_for_a_decision_on_its_page(api: Api, browser: Any) -> None:
    client = browser(api.key("relying_party", measures=("restrict_air_travel",)))
    page = client.get("/account").text
    r = client.post(
        "/account/decision",
        data={
            "csrf": csrf(page),
            "subject": DEBTOR,
            "measure": "restrict_air_travel",
            "purpose": "ticket_sale",
        },
    )
    assert r.status_code == 200, r.text
    assert "Decision dec_" in r.text or "Decision " in r.text
    bad = client.post(
        "/account/decision",
        data={
            "csrf": csrf(page),
            "subject": DEBTOR,
            "measure": "restrict_air_travel",
            "purpose": "curiosity",
        },
    )
    assert bad.status_code == 422 and "not a purpose of the policy" in bad.text


# -- languages and errors -------------------------------------------------------------------


def test_chinese_by_link_cookie_or_browser(api: Api, browser: Any) -> None:
    client = browser()
    zh = client.get("/?lang=zh")
    assert '<html lang="zh-Hans">' in zh.text
    assert zh.headers["content-language"] == "zh-Hans"
    # The choice sticks.
    assert '<html lang="zh-Hans">' in client.get("/policy").text
    by_header = browser(**{"Accept-Language": "zh-CN,zh;q=0.9"}).get("/")
    assert '<html lang="zh-Hans">' in by_header.text
    assert '<html lang="en">' in browser().get("/").text


def test_errors_are_pages_for_pages_and_json_for_the_api(api: Api, browser: Any) -> None:
    client = browser()
    page = client.get("/no/such/page")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    api_404 = client.get("/v1/no-such-endpoint")
    assert api_404.status_code == 404 and api_404.json()["error"] == "not_found"
    bad_page = client.get("/lists/black?page=0")
    assert bad_page.status_code == 422 and "<html" in bad_page.text


def test_records_seed_is_what_the_pages_show(api: Api) -> None:
    # A guard for the fixtures above: the seed has the organisations they name.
    assert record("x", "fare_evasion", "2026-01-01", DEBTOR)["subject_id"] == DEBTOR


# -- what review and a new user found ---------------------------------------------------------


def test_another_site_cannot_sign_a_visitor_in(api: Api, browser: Any) -> None:
    token = api.key("subject", subject=DEBTOR)
    r = browser().post(
        "/signin",
        data={"secret": token},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 403 and "tl_session" not in r.headers.get("set-cookie", "")
    r = browser().post("/signin", data={"secret": token}, headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403


def test_signing_in_again_ends_the_old_session(api: Api, browser: Any) -> None:
    client = browser(api.key("subject", subject=DEBTOR))
    old = client.cookies.get("tl_session")
    r = client.post("/signin", data={"secret": api.key("reviewer")}, follow_redirects=False)
    assert r.status_code == 303
    replay = browser()
    replay.cookies.set("tl_session", old)
    assert replay.get("/me", follow_redirects=False).status_code == 303


def test_revoking_a_key_marks_its_sessions_ended(api: Api, browser: Any) -> None:
    from sqlalchemy import select

    from trustledger.store.tables import web_sessions

    token = api.key("operator")
    browser(token)
    revoke_key(api.engine, key_id(token), now=api.clock())
    with api.engine.connect() as conn:
        ended = conn.execute(
            select(web_sessions.c.ended_at).where(web_sessions.c.key_id == key_id(token))
        ).scalar_one()
    assert ended is not None


def test_a_form_sent_after_the_session_ended_says_so(api: Api, browser: Any) -> None:
    client = browser()
    r = client.post(
        "/me/records/1/objection",
        data={"reason": "late"},
        files={"files": ("x.pdf", PDF, "application/pdf")},
        headers={"Referer": "http://testserver/me/records/1/objection"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/signin?ended=1&next=%2Fme%2Frecords%2F1%2Fobjection"
    assert "the form was not sent" in client.get(r.headers["location"]).text


def test_reloading_a_desk_step_goes_back_to_the_case(api: Api, browser: Any) -> None:
    client = browser(api.key("reviewer"))
    r = client.get("/desk/cases/obj_x/decision?lang=zh", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/desk/cases/obj_x?lang=zh"
    r = client.get("/account/decision", follow_redirects=False)
    assert r.headers["location"] == "/account"


def test_language_links_stay_on_this_site(api: Api, browser: Any) -> None:
    page = browser().get("//evil.example/phish").text
    links = re.findall(r'hreflang="[^"]+"|href="([^"]*)" lang="zh-Hans"', page)
    assert "?lang=zh" in page and 'href="//evil' not in page, links


def test_who_looked_shows_others_first_and_the_whole_log_on_request(api: Api, browser: Any) -> None:
    client = browser(api.key("subject", subject=DEBTOR))
    operator = api.key("operator")
    api.client.get(
        f"/v1/subjects/{DEBTOR}?purpose=registry_administration", headers=api.as_(operator)
    )
    for _ in range(6):
        page = client.get("/me").text
    looked = page.split('id="looked-h"')[1]
    assert "read the file" in looked and "registry administration" in looked
    assert ">you<" not in looked
    everything = client.get("/me/access-log?all=1").text
    assert ">you<" in everything and "read the file" in everything
    assert client.get("/me/access-log?page=99").status_code == 200


def test_the_subject_adds_evidence_to_its_open_case(api: Api, browser: Any) -> None:
    client = browser(api.key("subject", subject=DEBTOR))
    opened = object_to(client, "fare_evasion", follow_redirects=False)
    record_id = _record_id(client, "fare_evasion")
    case_url = opened.headers["location"].split("?")[0]
    page = client.get(case_url).text
    r = client.post(
        f"{case_url}/evidence",
        data={"csrf": csrf(page), "evidence_note": "my ticket"},
        files={"files": ("ticket.pdf", PDF, "application/pdf")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert "ticket.pdf" in client.get(case_url).text
    # Objecting again points at the case in progress.
    again = client.get(f"/me/records/{record_id}/objection").text
    assert case_url in again


def test_a_failed_evidence_post_keeps_its_note_out_of_the_correction(
    api: Api, browser: Any
) -> None:
    subject = browser(api.key("subject", subject=DEBTOR))
    opened = object_to(subject, "fare_evasion", follow_redirects=False)
    case_id = opened.headers["location"].split("/")[-1].split("?")[0]
    reviewer = browser(api.key("reviewer"))
    page = reviewer.get(f"/desk/cases/{case_id}").text
    r = reviewer.post(
        f"/desk/cases/{case_id}/evidence",
        data={"csrf": csrf(page), "evidence_note": "EVIDENCE-NOTE"},
    )
    assert r.status_code == 422
    assert (
        'id="evidence_note" name="evidence_note" maxlength="4000" value="EVIDENCE-NOTE"' in r.text
    )
    assert 'name="correction_note" value=""' in r.text


def test_a_missing_page_in_chinese(api: Api, browser: Any) -> None:
    r = browser().get("/nope?lang=zh")
    assert r.status_code == 404 and "There is no page" not in r.text


def test_maintain_deletes_sessions_a_month_past_their_end(api: Api, browser: Any) -> None:
    from sqlalchemy import func, select

    from trustledger.domain.principal import ANONYMOUS, Actor
    from trustledger.service.audit import AuditLog
    from trustledger.service.maintain import maintain
    from trustledger.store.tables import web_sessions

    browser(api.key("operator"))
    log = AuditLog(api.audit_key)
    soon = maintain(api.engine, log, Actor(ANONYMOUS, "t"), now=api.clock(), deliver=False)
    assert soon.sessions_purged == 0
    later = api.clock() + timedelta(days=31)
    done = maintain(api.engine, log, Actor(ANONYMOUS, "t"), now=later, deliver=False)
    assert done.sessions_purged == 1
    with api.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(web_sessions)).scalar_one() == 0


def test_chinese_pages_have_no_space_after_chinese_punctuation(api: Api, browser: Any) -> None:
    from trustledger.web.pages.common import tighten_cjk

    assert tighten_cjk("<p>核验。\n  时间</p>") == "<p>核验。时间</p>"
    # What a person typed keeps its line breaks.
    assert tighten_cjk("<textarea>一。\n二</textarea>") == "<textarea>一。\n二</textarea>"
    home = browser().get("/?lang=zh").text
    assert not re.search(r"[。；：，、！？）][ \t\r\n]+[^\s<]", home)


def test_chinese_pages_show_the_policys_own_chinese_texts(api: Api, browser: Any) -> None:
    from tests.conftest import EXAMPLE_POLICY
    from trustledger.policy.load import load_policy

    zh = load_policy(EXAMPLE_POLICY).policy.translations["zh"]
    page = browser().get("/policy?lang=zh").text
    assert zh["record_types.loan_default_90d.title"] in page
    assert "Loan in default (more than 90 days overdue)" not in page
    assert "Loan in default (more than 90 days overdue)" in browser().get("/policy").text
    shop = browser().get(f"/register/{SHOP}?lang=zh").text
    assert zh["record_types.food_inspection_fail.title"] in shop


def test_a_failure_of_ours_on_a_page_is_a_page_with_the_request_id(
    api: Api, browser: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trustledger.errors import StoreError

    def broken(*_: Any, **__: Any) -> None:
        raise StoreError("the disk is full")

    app: Any = api.client.app
    monkeypatch.setattr(app.state.registry, "public_organisation", broken)
    r = browser().get(f"/register/{SHOP}")
    assert r.status_code == 500 and r.headers["content-type"].startswith("text/html")
    assert r.headers["x-request-id"] in r.text
    assert "the disk is full" not in r.text
