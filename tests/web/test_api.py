"""The HTTP service end to end: decisions, batches, files, the public register, the audit
endpoints, errors. The role-by-endpoint matrix is in test_matrix.py."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.web.conftest import BAD_CO, BORROWER, CLEAN, DEBTOR, SHOP, Api, record
from trustledger.audit import TreeHead, verify_consistency, verify_inclusion, verify_tree_head
from trustledger.service.scoring import score_all
from trustledger.store import audit as audit_store
from trustledger.store.tables import audit_events, record_versions


def events(api: Api) -> list[audit_store.StoredEvent]:
    with api.engine.connect() as conn:
        return list(audit_store.iter_events(conn))


def count(api: Api, table: Any) -> int:
    with api.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def decide(api: Api, token: str, subject: Any, measure: str, purpose: str = "ticket_sale") -> Any:
    return api.client.post(
        "/v1/decisions",
        json={"subject": subject, "measure": measure, "purpose": purpose},
        headers=api.as_(token),
    )


@pytest.fixture
def rp(api: Api) -> str:
    return api.key(
        "relying_party",
        measures=("restrict_air_travel", "loan_rate_review", "bike_rental_deposit_waiver"),
    )


# -- decisions ------------------------------------------------------------------------


def test_a_judgment_debtor_is_denied_air_tickets_with_the_record_as_reason(
    api: Api, rp: str
) -> None:
    r = decide(api, rp, DEBTOR, "restrict_air_travel")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["outcome"] == "deny" and body["triggered"] is True
    assert body["measure_kind"] == "sanction" and body["purpose"] == "ticket_sale"
    assert body["policy_version"] == "example-city@1"
    assert body["subject"] == api.subject_id(DEBTOR)
    [reason] = body["reasons"]
    assert reason["code"] == "record_type.court_judgment_unfulfilled"
    assert "12 March 2026" in reason["text"] and "−150.00 points" in reason["text"]
    assert len(reason["record_ids"]) == 1
    # The same decision can be read again by whoever asked for it.
    again = api.client.get(f"/v1/decisions/{body['decision_id']}", headers=api.as_(rp))
    assert again.status_code == 200 and again.json() == {**body, "superseded_by": None}


def test_a_measure_is_affected_only_by_its_domains(api: Api, rp: str) -> None:
    # The debtor's judgment (judicial) and fare evasion (transport) say nothing about
    # repaying a loan: the loan measure's own score is the untouched base.
    loan = decide(api, rp, DEBTOR, "loan_rate_review", "credit_assessment").json()
    assert loan["outcome"] == "allow" and loan["measure_score"] == 1000.0
    assert [r["code"] for r in loan["reasons"]] == ["not_triggered"]
    # The borrower's default (finance) triggers the loan review with its conditions ...
    review = decide(api, rp, BORROWER, "loan_rate_review", "credit_assessment").json()
    assert review["outcome"] == "allow_with_conditions"
    assert review["conditions"] and "guarantor" in review["conditions"][1]
    assert review["reasons"][0]["code"] == "record_type.loan_default_90d"
    # ... but never restricts the borrower's travel.
    travel = decide(api, rp, BORROWER, "restrict_air_travel").json()
    assert travel["outcome"] == "allow" and travel["measure_score"] == 1000.0


def test_an_incentive_not_earned_is_denied_with_what_holds_it_back(api: Api, rp: str) -> None:
    body = decide(api, rp, BORROWER, "bike_rental_deposit_waiver", "benefit_administration").json()
    assert body["outcome"] == "deny" and body["triggered"] is False
    assert body["reasons"][0]["code"] == "grade.below"
    assert body["reasons"][0]["record_ids"]  # the default that pulls the grade down
    clean = decide(api, rp, CLEAN, "bike_rental_deposit_waiver", "benefit_administration").json()
    assert clean["outcome"] == "allow" and clean["reasons"][0]["code"] == "grade.at_least"


def test_reasons_are_at_most_four_most_important_first(api: Api, rp: str) -> None:
    court = api.key("provider", provider="intermediate_court")
    rows = [
        record(f"J-9{i}", "court_judgment_unfulfilled", f"2026-0{i}-01", BORROWER, name="Li Na")
        for i in range(1, 7)
    ]
    assert api.submit(court, rows, "six-judgments").status_code == 201
    body = decide(api, rp, BORROWER, "restrict_air_travel").json()
    assert body["outcome"] == "deny"
    assert 1 <= len(body["reasons"]) <= 4
    assert len(body["reasons"][0]["record_ids"]) == 6  # all six judgments, newest described


def test_a_new_record_is_reflected_in_the_very_next_decision(api: Api, rp: str) -> None:
    assert decide(api, rp, CLEAN, "restrict_air_travel").json()["outcome"] == "allow"
    court = api.key("provider", provider="intermediate_court")
    row = record("J-2", "court_judgment_unfulfilled", "2026-06-29", CLEAN, name="Zhao Min")
    assert api.submit(court, [row], "new-judgment").status_code == 201
    assert decide(api, rp, CLEAN, "restrict_air_travel").json()["outcome"] == "deny"
    # And a retraction is too.
    retract = {**row, "action": "retract"}
    assert api.submit(court, [retract], "retract-judgment").status_code == 201
    assert decide(api, rp, CLEAN, "restrict_air_travel").json()["outcome"] == "allow"


def test_a_relying_party_states_a_policy_purpose_and_asks_only_its_measures(
    api: Api, rp: str
) -> None:
    missing = api.client.post(
        "/v1/decisions",
        json={"subject": DEBTOR, "measure": "restrict_air_travel"},
        headers=api.as_(rp),
    )
    assert missing.status_code == 422 and missing.json()["problems"][0]["field"] == "purpose"
    wrong = decide(api, rp, DEBTOR, "restrict_air_travel", purpose="curiosity")
    assert wrong.status_code == 422
    assert wrong.json()["field"] == "purpose" and "ticket_sale" in wrong.json()["detail"]
    other = decide(api, rp, DEBTOR, "government_procurement_ban", "public_procurement")
    assert other.status_code == 403 and "registered for" in other.json()["detail"]
    unknown = decide(api, rp, "99999", "restrict_air_travel")
    assert unknown.status_code == 404


def test_a_decision_is_audited_with_its_purpose_in_the_same_transaction(api: Api, rp: str) -> None:
    before = len(events(api))
    r = api.client.post(
        "/v1/decisions",
        json={"subject": DEBTOR, "measure": "restrict_air_travel", "purpose": "ticket_sale"},
        headers={**api.as_(rp), "X-Request-ID": "airline-42"},
    )
    assert r.headers["X-Request-ID"] == "airline-42"
    new = events(api)[before:]
    assert [(e.action, e.role, e.purpose, e.request_id) for e in new] == [
        ("decision.create", "relying_party", "ticket_sale", "airline-42")
    ]
    assert new[0].subject_id == api.subject_id(DEBTOR)
    assert r.json()["decision_id"] in new[0].detail
    # A refused request read nothing and logs nothing.
    decide(api, rp, DEBTOR, "restrict_air_travel", purpose="curiosity")
    assert len(events(api)) == before + 1


# -- provider batches -----------------------------------------------------------------


def test_a_batch_is_idempotent_by_its_key(api: Api) -> None:
    court = api.key("provider", provider="intermediate_court")
    rows = [record("J-5", "court_judgment_unfulfilled", "2026-06-01", CLEAN, name="Zhao Min")]
    first = api.submit(court, rows, "batch-5")
    assert first.status_code == 201 and first.headers["Idempotent-Replayed"] == "false"
    assert first.json()["created"] == 1
    stored = count(api, record_versions)
    logged = len(events(api))
    again = api.submit(court, rows, "batch-5")
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert count(api, record_versions) == stored and len(events(api)) == logged
    other = api.submit(court, [{**rows[0], "reference": "J-6"}], "batch-5")
    assert other.status_code == 409 and "another batch" in other.json()["detail"]


def test_a_batch_lands_whole_or_not_at_all_naming_every_bad_row(api: Api) -> None:
    court = api.key("provider", provider="intermediate_court")
    stored, logged = count(api, record_versions), len(events(api))
    rows = [
        record("J-7", "court_judgment_unfulfilled", "2026-06-01", CLEAN, name="Zhao Min"),
        record("J-8", "court_judgment_unfulfilled", "2026-13-01", CLEAN, name="Zhao Min"),
        record("J-9", "court_judgment_unfulfilled", "2026-06-01", "110105199001319999"),
    ]
    r = api.submit(court, rows, "bad-batch")
    assert r.status_code == 422
    body = r.json()
    fields = [p["field"] for p in body["problems"]]
    assert "records[1].valid_from" in fields and "records[2].subject_id" in fields
    assert body["problem_count"] == len(body["problems"]) == 2
    assert count(api, record_versions) == stored and len(events(api)) == logged
    # The key was not spent on a refused batch.
    fixed = [rows[0], {**rows[1], "valid_from": "2026-01-13"}]
    assert api.submit(court, fixed, "bad-batch").status_code == 201


def test_a_provider_writes_only_the_record_types_granted_to_it(api: Api) -> None:
    rail = api.key("provider", provider="city_rail_transit")
    rows = [record("X-1", "court_judgment_unfulfilled", "2026-06-01", CLEAN, name="Zhao Min")]
    r = api.submit(rail, rows, "not-mine")
    assert r.status_code == 403
    assert "court_judgment_unfulfilled" in r.json()["detail"]
    assert "records[0]" in r.json()["detail"]


def test_a_batch_write_is_audited_once_per_subject_touched(api: Api) -> None:
    bank = api.key("provider", provider="city_commercial_bank")
    before = len(events(api))
    rows = [
        record("L-7", "credit_card_overdue", "2026-06-01", CLEAN, name="Zhao Min"),
        record("L-8", "credit_card_overdue", "2026-06-02", CLEAN, name="Zhao Min"),
        record("L-9", "credit_card_overdue", "2026-06-03", DEBTOR, name="Wang Wei"),
    ]
    assert api.submit(bank, rows, "cards").status_code == 201
    new = events(api)[before:]
    assert sorted(e.subject_id for e in new if e.subject_id is not None) == sorted(
        [api.subject_id(CLEAN), api.subject_id(DEBTOR)]
    )
    assert {(e.action, e.role, e.purpose) for e in new} == {
        ("records.write", "provider", "record_submission")
    }


def test_unknown_fields_are_refused_naming_them(api: Api) -> None:
    court = api.key("provider", provider="intermediate_court")
    row = {**record("J-1", "court_judgment_unfulfilled", "2026-06-01", CLEAN), "colour": "red"}
    r = api.submit(court, [row], "colour")
    assert r.status_code == 422
    assert r.json()["field"] == "records[0].colour"


# -- files ----------------------------------------------------------------------------


def test_an_operator_reads_a_file_stating_a_purpose_and_is_logged(api: Api) -> None:
    op = api.key("operator")
    sid = api.subject_id(DEBTOR)
    refused = api.client.get(f"/v1/subjects/{sid}", headers=api.as_(op))
    assert refused.status_code == 422 and refused.json()["field"] == "purpose"
    before = len(events(api))
    r = api.client.get(
        f"/v1/subjects/{sid}?purpose=registry_administration",
        headers={**api.as_(op), "X-Request-ID": "support-7"},
    )
    assert r.status_code == 200
    body = r.json()
    assert body["subject"]["name"] == "Wang Wei"
    by_type = {rec["record_type"]: rec for rec in body["records"]}
    judgment = by_type["court_judgment_unfulfilled"]
    assert judgment["status"] == "counting" and judgment["points"] < 0
    assert "Dishonest Judgment Debtors" in judgment["legal_basis"]
    assert judgment["provider_title"] == "Example City Intermediate People's Court"
    [event] = events(api)[before:]
    assert (event.action, event.role, event.purpose, event.request_id, event.subject_id) == (
        "subject.file.read",
        "operator",
        "registry_administration",
        "support-7",
        sid,
    )


def test_a_subject_reads_its_own_file_score_and_explanation_only(api: Api) -> None:
    me = api.key("subject", subject=DEBTOR)
    own = api.subject_id(DEBTOR)
    for path in ("me", str(own), DEBTOR):
        assert api.client.get(f"/v1/subjects/{path}", headers=api.as_(me)).status_code == 200
    score = api.client.get("/v1/subjects/me/score", headers=api.as_(me)).json()
    assert score["grade"] and score["score"] < 1000
    assert [e["list"] for e in score["lists"]] == ["black"]
    explanation = api.client.get("/v1/subjects/me/explanation", headers=api.as_(me)).json()
    assert explanation["score"] == score["score"]
    assert any("12 March 2026" in c["text"] for c in explanation["contributions"])
    other = api.client.get(f"/v1/subjects/{api.subject_id(BORROWER)}", headers=api.as_(me))
    assert other.status_code == 403 and "its own file" in other.json()["detail"]
    assert events(api)[-1].purpose == "data_subject_access"


def test_a_revoked_key_is_refused_at_once(api: Api) -> None:
    from trustledger.service.keys import revoke_key

    op = api.key("operator")
    url = f"/v1/subjects/{api.subject_id(DEBTOR)}/score?purpose=registry_administration"
    assert api.client.get(url, headers=api.as_(op)).status_code == 200
    revoke_key(api.engine, op.split("_")[1], now=api.clock())
    r = api.client.get(url, headers=api.as_(op))
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Bearer tlk_nope", "malformed"),
        ("Bearer tlk_000000000000_wrongsecret", "not known"),
        ("Basic dXNlcjpwYXNz", "expected 'Bearer"),
    ],
)
def test_bad_credentials_are_401_saying_why(api: Api, header: str, reason: str) -> None:
    r = api.client.get("/v1/whoami", headers={"Authorization": header})
    assert r.status_code == 401 and reason in r.json()["detail"]


def test_a_key_is_rate_limited_with_retry_after(make_api: Any) -> None:
    api = make_api(seed=False, rate=1)
    op = api.key("operator")
    codes = [api.client.get("/v1/whoami", headers=api.as_(op)).status_code for _ in range(4)]
    assert codes[:2] == [200, 200] and codes[-1] == 429
    r = api.client.get("/v1/whoami", headers=api.as_(op))
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert r.json()["error"] == "rate_limited"
    # Another key has its own bucket.
    assert api.client.get("/v1/whoami", headers=api.as_(api.key("operator"))).status_code == 200


def test_no_stack_trace_reaches_a_client(
    api: Api, rp: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = api.client.app.state.registry  # type: ignore[attr-defined]

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals at /srv/trustledger/x.py line 3")

    monkeypatch.setattr(registry, "decide", broken)
    r = decide(api, rp, DEBTOR, "restrict_air_travel")
    assert r.status_code == 500
    assert r.json()["error"] == "internal_error" and r.json()["request_id"]
    assert r.headers["X-Request-ID"] == r.json()["request_id"]
    assert "secret" not in r.text and "Traceback" not in r.text


# -- the public -----------------------------------------------------------------------


def test_the_public_reads_an_organisation_without_a_key(api: Api) -> None:
    r = api.client.get(f"/v1/public/organisations/{SHOP}")
    assert r.status_code == 200
    body = r.json()
    assert body["name"] == "Good Noodles Ltd." and body["grade"]
    assert [rec["record_type"] for rec in body["records"]] == ["food_inspection_fail"]
    bad = api.client.get(f"/v1/public/organisations/{BAD_CO}").json()
    assert [e["list"] for e in bad["lists"]] == ["black"]
    assert events(api)[-1].action == "public.organisation.read"
    invalid = api.client.get("/v1/public/organisations/91440300MA5FXX1K0X")
    assert invalid.status_code == 422 and invalid.json()["field"] == "uscc"
    # A person's identifier is not an organisation.
    assert api.client.get(f"/v1/public/organisations/{DEBTOR}").status_code == 422


def test_public_lists_show_organisations_and_never_persons_by_default(api: Api, now: Any) -> None:
    empty = api.client.get("/v1/public/lists/black").json()
    assert empty["as_of"] is None and empty["entries"] == []
    score_all(api.engine, as_of=now.date(), known_at=api.clock(), now=api.clock(), current=True)
    body = api.client.get("/v1/public/lists/black").json()
    assert body["persons_published"] is False
    assert [(e["name"], e["kind"]) for e in body["entries"]] == [
        ("Bad Trading Co.", "organisation")
    ]
    assert body["entries"][0]["identifiers"] == [{"kind": "uscc", "value": BAD_CO}]
    assert body["total"] == 1 and body["page"] == 1
    page2 = api.client.get("/v1/public/lists/black?page=2&per_page=1").json()
    assert page2["entries"] == [] and page2["total"] == 1
    assert api.client.get("/v1/public/lists/nope").status_code == 404
    assert api.client.get("/v1/public/lists/black?per_page=1000").status_code == 422


# -- audit endpoints ------------------------------------------------------------------


def test_the_tree_head_and_every_proof_verify(api: Api) -> None:
    head_json = api.client.get("/v1/audit/tree-head").json()
    head = TreeHead.from_json(head_json)
    public_key = base64.b64decode(head_json["public_key"])
    assert public_key == api.audit_key.public_bytes()
    assert verify_tree_head(head, public_key)
    n = head.tree_size
    assert n == count(api, audit_events) >= 6
    for i in range(n):
        p = api.client.get(f"/v1/audit/proof/inclusion/{i}?size={n}").json()
        proof = [base64.b64decode(h) for h in p["proof"]]
        assert verify_inclusion(base64.b64decode(p["leaf_hash"]), i, n, proof, head.root)
    for m in range(1, n + 1):
        c = api.client.get(f"/v1/audit/proof/consistency?from={m}&to={n}").json()
        old = TreeHead.from_json(c["from_head"])
        assert verify_tree_head(old, public_key)
        proof = [base64.b64decode(h) for h in c["proof"]]
        assert verify_consistency(m, n, old.root, head.root, proof)
    assert api.client.get(f"/v1/audit/proof/inclusion/{n}").status_code == 404
    assert api.client.get("/v1/audit/proof/consistency?from=3&to=2").status_code == 422


def test_openapi_and_docs_are_served(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    for path in (
        "/v1/records",
        "/v1/subjects/{subject}",
        "/v1/subjects/{subject}/score",
        "/v1/subjects/{subject}/explanation",
        "/v1/decisions",
        "/v1/public/organisations/{uscc}",
        "/v1/public/lists/{name}",
        "/v1/audit/tree-head",
        "/v1/audit/proof/inclusion/{event}",
        "/v1/audit/proof/consistency",
    ):
        assert path in schema["paths"], path
    docs = api.client.get("/docs")
    assert docs.status_code == 200
    # Served from local files, so it works on a machine without the internet.
    assert "cdn" not in docs.text and "http" not in docs.text.split("<body>")[0]
    assert api.client.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200
    schemes = schema["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}
    missing = api.client.get("/v2/anything")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def test_control_characters_are_refused_before_they_reach_the_database(api: Api, rp: str) -> None:
    # Found by schemathesis: PostgreSQL cannot store a NUL, and said so with a 500.
    court = api.key("provider", provider="intermediate_court")
    row = record("\x00", "court_judgment_unfulfilled", "2026-06-01", CLEAN, note="a\x01b")
    r = api.submit(court, [row], "nul")
    assert r.status_code == 422
    assert {p["field"] for p in r.json()["problems"]} == {"records[0].reference", "records[0].note"}
    assert decide(api, rp, "\x00", "restrict_air_travel").json()["field"] == "subject"
    op = api.key("operator")
    assert api.client.get("/v1/decisions/%00", headers=api.as_(op)).status_code == 422
    me = api.key("subject", subject=DEBTOR)
    assert api.client.get("/v1/subjects/%00", headers=api.as_(me)).json()["field"] == "subject"


def test_a_retraction_needs_only_its_reference(api: Api, rp: str) -> None:
    court = api.key("provider", provider="intermediate_court")
    r = api.submit(court, [{"reference": "J-1", "action": "retract"}], "retract-j1")
    assert r.status_code == 201 and r.json()["retracted"] == 1
    assert decide(api, rp, DEBTOR, "restrict_air_travel").json()["outcome"] == "allow"
    # A creation still needs its fields, each named.
    bad = api.submit(court, [{"reference": "J-3"}], "no-fields")
    assert bad.status_code == 422
    assert {"records[0].record_type", "records[0].valid_from"} <= {
        p["field"] for p in bad.json()["problems"]
    }


def test_a_subject_reads_the_decisions_made_about_it(api: Api, rp: str) -> None:
    made = decide(api, rp, DEBTOR, "restrict_air_travel").json()
    decide(api, rp, BORROWER, "restrict_air_travel")
    me = api.key("subject", subject=DEBTOR)
    r = api.client.get("/v1/subjects/me/decisions", headers=api.as_(me))
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 1
    [seen] = body["decisions"]
    assert seen["decision_id"] == made["decision_id"] and seen["reasons"] == made["reasons"]
    assert seen["key_id"] == rp.split("_")[1]
    assert events(api)[-1].action == "subject.decisions.read"
    # Staff state a purpose to read a decision, as for a file.
    op = api.key("operator")
    url = f"/v1/decisions/{made['decision_id']}"
    assert api.client.get(url, headers=api.as_(op)).json()["field"] == "purpose"
    assert api.client.get(f"{url}?purpose=objection_review", headers=api.as_(op)).status_code == 200
    assert events(api)[-1].purpose == "objection_review"


def test_the_subject_field_is_strict(api: Api, rp: str) -> None:
    r = api.client.post(
        "/v1/decisions",
        json={"subject": True, "measure": "restrict_air_travel", "purpose": "ticket_sale"},
        headers=api.as_(rp),
    )
    assert r.status_code == 422 and r.json()["field"] == "subject"
    assert decide(api, rp, "x" * 65, "restrict_air_travel").status_code == 422


def test_unknown_measure_is_bad_input_not_a_permission(api: Api, rp: str) -> None:
    r = decide(api, rp, DEBTOR, "restrict_air_travell")
    assert r.status_code == 422 and r.json()["field"] == "measure"
    assert "restrict_air_travel" in r.json()["detail"]


def test_me_is_only_for_subject_keys(api: Api) -> None:
    op = api.key("operator")
    r = api.client.get("/v1/subjects/me?purpose=registry_administration", headers=api.as_(op))
    assert r.status_code == 422 and "only a subject key" in r.json()["detail"]
    assert (
        "an operator states why"
        in api.client.get("/v1/subjects/1", headers=api.as_(op)).json()["detail"]
    )


def test_guessing_keys_is_rate_limited_by_address(make_api: Any) -> None:
    api = make_api(seed=False, rate=1)
    bad = {"Authorization": "Bearer tlk_000000000000_guess"}
    codes = [api.client.get("/v1/whoami", headers=bad).status_code for _ in range(4)]
    assert codes[:2] == [401, 401] and codes[-1] == 429


def test_two_different_keys_in_one_request_are_refused(api: Api) -> None:
    a, b = api.key("operator"), api.key("reviewer")
    r = api.client.get("/v1/whoami", headers={"Authorization": f"Bearer {a}", "X-API-Key": b})
    assert r.status_code == 401 and "different keys" in r.json()["detail"]
    same = api.client.get("/v1/whoami", headers={"Authorization": f"Bearer {a}", "X-API-Key": a})
    assert same.status_code == 200


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, "body"),
        ({"json": {"records": [{"reference": "x"}]}, "headers": {}}, "Idempotency-Key"),
        ({"json": {"records": []}, "headers": {"Idempotency-Key": "k"}}, "records"),
    ],
)
def test_bad_requests_name_the_field(api: Api, kwargs: dict[str, Any], field: str) -> None:
    court = api.key("provider", provider="intermediate_court")
    sent = dict(kwargs)  # the parameters are shared by both databases' runs
    headers = {**api.as_(court), **sent.pop("headers")}
    r = api.client.post("/v1/records", headers=headers, **sent)
    assert r.status_code == 422 and r.json()["field"] == field, r.text


def test_a_wrong_method_says_which_are_allowed(api: Api) -> None:
    r = api.client.delete("/v1/health")
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"
    assert r.headers["Allow"] == "GET"


def test_an_audit_event_can_be_read_and_checked_against_its_proof(api: Api) -> None:
    import hashlib

    op = api.key("operator")
    r = api.client.get("/v1/audit/events/0?purpose=registry_administration", headers=api.as_(op))
    assert r.status_code == 200
    event = r.json()
    assert event["action"] == "records.write" and event["subject_id"] == api.subject_id(DEBTOR)
    leaf = hashlib.sha256(b"\x00" + event["leaf_data"].encode()).digest()
    assert base64.b64encode(leaf).decode() == event["leaf_hash"]
    proof = api.client.get("/v1/audit/proof/inclusion/0").json()
    assert proof["leaf_hash"] == event["leaf_hash"]
    # A subject reads the events about itself, and no other.
    me = api.key("subject", subject=DEBTOR)
    assert api.client.get("/v1/audit/events/0", headers=api.as_(me)).status_code == 200
    other = api.key("subject", subject=BORROWER)
    assert api.client.get("/v1/audit/events/0", headers=api.as_(other)).status_code == 404


def test_the_schema_documents_the_batch_answers(api: Api) -> None:
    op = api.client.get("/openapi.json").json()["paths"]["/v1/records"]["post"]
    assert {"200", "201"} <= set(op["responses"])
    assert "Idempotent-Replayed" in op["responses"]["201"]["headers"]


def test_a_relying_party_cannot_write_free_text_into_the_log(api: Api, rp: str) -> None:
    made = decide(api, rp, DEBTOR, "restrict_air_travel").json()
    url = f"/v1/decisions/{made['decision_id']}"
    before = len(events(api))
    r = api.client.get(f"{url}?purpose=Wang Wei 440305198504121233", headers=api.as_(rp))
    assert r.status_code == 422 and r.json()["field"] == "purpose"
    assert len(events(api)) == before
    assert api.client.get(f"{url}?purpose=ticket_sale", headers=api.as_(rp)).status_code == 200
    assert events(api)[-1].purpose == "ticket_sale"


def test_public_search_finds_organisations_not_persons(api: Api) -> None:
    found = api.client.get("/v1/public/organisations", params={"q": "noodles"}).json()
    assert [r["uscc"] for r in found["results"]] == [SHOP]
    assert found["total"] == 1 and found["page"] == 1
    by_code = api.client.get("/v1/public/organisations", params={"q": BAD_CO}).json()
    # Not scored yet: no grade, no list.
    assert by_code["results"][0]["grade"] is None
    now = api.clock()
    score_all(api.engine, as_of=now.date(), known_at=now, now=now, current=True)
    by_code = api.client.get("/v1/public/organisations", params={"q": BAD_CO[:8]}).json()
    assert by_code["results"][0]["public_lists"] == ["black"]
    assert api.client.get("/v1/public/organisations", params={"q": "Wang"}).json()["total"] == 0
    empty = api.client.get("/v1/public/organisations", params={"q": " "})
    assert empty.status_code == 422 and empty.json()["field"] == "q"
