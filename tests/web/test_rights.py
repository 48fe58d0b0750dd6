"""Subject rights end to end through the API, on SQLite and PostgreSQL: objection ->
disputed -> decided -> rescored -> recipients told; the review deadline; credit repair;
evidence checks; who looked; erasure with a log that still verifies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.web.conftest import BAD_CO, DEBTOR, Api, record
from trustledger.service.audit import verify
from trustledger.service.scoring import explain_subject
from trustledger.store import audit as audit_store

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")


def events(api: Api) -> list[Any]:
    with api.engine.connect() as conn:
        return list(audit_store.iter_events(conn))


def actions(api: Api, since: int) -> list[str]:
    return [e.action for e in events(api)[since:]]


def the_record(api: Api, token: str, record_type: str) -> dict[str, Any]:
    body = api.client.get("/v1/subjects/me", headers=api.as_(token)).json()
    return next(r for r in body["records"] if r["record_type"] == record_type)


@pytest.fixture
def people(api: Api) -> dict[str, str]:
    return {
        "subject": api.key("subject", subject=DEBTOR),
        "reviewer": api.key("reviewer"),
        "operator": api.key("operator"),
        "court": api.key("provider", provider="intermediate_court"),
        "airline": api.key("relying_party", measures=("restrict_air_travel",)),
    }


def decide_air(api: Api, people: dict[str, str]) -> dict[str, Any]:
    response = api.client.post(
        "/v1/decisions",
        json={"subject": DEBTOR, "measure": "restrict_air_travel", "purpose": "ticket_sale"},
        headers=api.as_(people["airline"]),
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_objection_to_retraction_reaches_the_airline(api: Api, people: dict[str, str]) -> None:
    first = decide_air(api, people)
    assert first["outcome"] == "deny"
    judgment = the_record(api, people["subject"], "court_judgment_unfulfilled")
    assert judgment["disputed"] is False and judgment["versions"][0]["version"] == 1

    start = len(events(api))
    opened = api.client.post(
        "/v1/subjects/me/objections",
        data={"record_id": str(judgment["record_id"]), "reason": "I paid in full in April."},
        files=[("files", ("receipt.pdf", PDF, "application/pdf"))],
        headers=api.as_(people["subject"]),
    )
    assert opened.status_code == 201, opened.text
    case = opened.json()
    assert case["kind"] == "objection" and case["status"] == "open"
    assert case["deadline"].startswith("2026-07-30")  # review_period = 30 days
    assert [e["filename"] for e in case["evidence"]] == ["receipt.pdf"]
    assert actions(api, start) == ["case.open"]

    # Disputed at once; a court judgment keeps counting (disputed_counts = true), and a
    # decision resting on it says so.
    disputed = the_record(api, people["subject"], "court_judgment_unfulfilled")
    assert disputed["disputed"] is True and disputed["status"] == "counting"
    assert disputed["open_cases"] == [case["id"]]
    score = api.client.get("/v1/subjects/me/score", headers=api.as_(people["subject"])).json()
    (black,) = [e for e in score["lists"] if e["list"] == "black"]
    assert black["disputed"] is True and "under objection" in black["text"]
    second = decide_air(api, people)
    assert second["outcome"] == "deny"
    assert any(r["disputed"] and "under objection" in r["text"] for r in second["reasons"])

    # The reviewer's queue, the case, a request to the court, the court's evidence.
    queue = api.client.get("/v1/cases", headers=api.as_(people["reviewer"])).json()
    assert [c["id"] for c in queue["cases"]] == [case["id"]]
    taken = api.client.post(
        f"/v1/cases/{case['id']}/assign", json={}, headers=api.as_(people["reviewer"])
    )
    assert taken.json()["status"] == "assigned"
    asked = api.client.post(
        f"/v1/cases/{case['id']}/evidence-requests",
        json={"message": "Send the enforcement file."},
        headers=api.as_(people["reviewer"]),
    )
    assert asked.json()["status"] == "awaiting_provider"
    told = api.client.get("/v1/notifications", headers=api.as_(people["court"])).json()
    assert [n["kind"] for n in told["notifications"]] == ["evidence.requested"]
    assert told["notifications"][0]["data"]["case"] == case["id"]
    sent = api.client.post(
        f"/v1/cases/{case['id']}/evidence",
        data={"note": "Enforcement closed: paid 2026-04-20"},
        files=[("files", ("closure.png", PNG, "image/png"))],
        headers=api.as_(people["court"]),
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "assigned"

    start = len(events(api))
    decided = api.client.post(
        f"/v1/cases/{case['id']}/decision",
        json={"outcome": "retracted", "reason": "The judgment was paid; the court confirms."},
        headers=api.as_(people["reviewer"]),
    )
    assert decided.status_code == 200, decided.text
    done = decided.json()
    assert done["status"] == "decided" and done["outcome"] == "retracted"
    assert [v["action"] for v in done["record"]] == ["create", "retract"]
    assert done["result_version"] == 2
    assert actions(api, start) == ["case.decide", "records.write", "decision.create"]

    # Rescored: no longer on the black list; the airline got the decision made again.
    score = api.client.get("/v1/subjects/me/score", headers=api.as_(people["subject"])).json()
    assert "black" not in [e["list"] for e in score["lists"]]
    notes = api.client.get("/v1/notifications", headers=api.as_(people["airline"])).json()
    (note,) = notes["notifications"]
    assert note["kind"] == "decision.superseded" and note["status"] == "none"
    remade = note["data"]["decision"]
    assert remade["outcome"] == "allow"
    assert sorted(note["data"]["supersedes"]) == sorted(
        [first["decision_id"], second["decision_id"]]
    )
    assert remade["supersedes"] == note["data"]["supersedes"]
    # The subject sees that the airline was told.
    seen = api.client.get(
        "/v1/subjects/me/notifications", headers=api.as_(people["subject"])
    ).json()
    kinds = sorted(n["kind"] for n in seen["notifications"])
    # Both of the court's keys were asked for evidence and told the outcome, as was the
    # subject's key; the airline got the new decision.
    assert kinds == ["case.decided"] * 3 + ["decision.superseded"] + ["evidence.requested"] * 2
    (told,) = [n for n in seen["notifications"] if n["kind"] == "decision.superseded"]
    assert told["id"] == note["id"] and told["data"]["decision"]["outcome"] == "allow"
    # The subject's key was told the outcome too, and the old decisions point to the new one.
    mine = api.client.get("/v1/notifications", headers=api.as_(people["subject"])).json()
    (outcome,) = mine["notifications"]
    assert outcome["kind"] == "case.decided" and outcome["data"]["outcome"] == "retracted"
    assert outcome["data"]["decisions"] == [remade["decision_id"]]
    assert outcome["attempts"] == 0 and outcome["last_error"] is None
    old = api.client.get(
        f"/v1/decisions/{first['decision_id']}", headers=api.as_(people["airline"])
    ).json()
    assert old["superseded_by"] == remade["decision_id"] and old["outcome"] == "deny"
    # Decided cases take no more decisions.
    again = api.client.post(
        f"/v1/cases/{case['id']}/decision",
        json={"outcome": "upheld", "reason": "changed my mind"},
        headers=api.as_(people["reviewer"]),
    )
    assert again.status_code == 409


def test_correction_rescores_and_as_of_queries_see_each_time(
    api: Api, people: dict[str, str]
) -> None:
    fare = the_record(api, people["subject"], "fare_evasion")
    before = api.clock()
    opened = api.client.post(
        "/v1/subjects/me/objections",
        data={"record_id": str(fare["record_id"]), "reason": "It was 2021, not 2026."},
        headers=api.as_(people["subject"]),
    ).json()
    # A fare evasion does not count while disputed (disputed_counts = false).
    assert the_record(api, people["subject"], "fare_evasion")["status"] == "disputed"
    during = api.clock()
    decided = api.client.post(
        f"/v1/cases/{opened['id']}/decision",
        json={
            "outcome": "corrected",
            "reason": "The transit operator's log shows 2021.",
            "correction": {"valid_from": "2021-05-02"},
        },
        headers=api.as_(people["operator"]),
    )
    assert decided.status_code == 200, decided.text
    after = api.clock()
    now = the_record(api, people["subject"], "fare_evasion")
    assert [v["valid_from"] for v in now["versions"]] == ["2026-05-02", "2021-05-02"]
    assert now["status"] == "expired" and now["disputed"] is False

    def status(known_at: Any) -> str:
        explained = explain_subject(
            api.engine, DEBTOR, as_of=before.date(), known_at=known_at
        ).as_json()
        if any(c["record_type"] == "fare_evasion" for c in explained["contributions"]):
            return "counting"
        (why,) = [
            n["reason"] for n in explained["not_counted"] if n["record_type"] == "fare_evasion"
        ]
        return str(why)

    # The same day, as known at each moment: counting, then disputed, then expired.
    assert status(before) == "counting"
    assert status(during) == "disputed"
    assert status(after) == "expired"
    bad = api.client.post(
        f"/v1/cases/{opened['id']}/decision",
        json={"outcome": "corrected", "reason": "x", "correction": {"valid_from": "soon"}},
        headers=api.as_(people["operator"]),
    )
    assert bad.status_code == 409  # already decided: checked first


def test_a_correction_needs_a_change_and_names_its_field(api: Api, people: dict[str, str]) -> None:
    fare = the_record(api, people["subject"], "fare_evasion")
    case = api.client.post(
        "/v1/subjects/me/objections",
        data={"record_id": str(fare["record_id"]), "reason": "wrong date"},
        headers=api.as_(people["subject"]),
    ).json()
    url = f"/v1/cases/{case['id']}/decision"
    who = api.as_(people["reviewer"])
    for correction, field in (
        ({"valid_from": "soon"}, "correction.valid_from"),
        ({"record_type": "x"}, "correction.record_type"),
        ({"valid_from": fare["valid_from"]}, "correction"),
        ({"amount": "lots"}, "correction.amount"),
        ({"amount": "-5"}, "correction.amount"),
        ({"amount": "1.005"}, "correction.amount"),
        ({"valid_from": "2026-07-01"}, "correction.valid_from"),  # after today
    ):
        response = api.client.post(
            url, json={"outcome": "corrected", "reason": "r", "correction": correction}, headers=who
        )
        assert response.status_code == 422 and response.json()["field"] == field, response.text
    wrong = api.client.post(url, json={"outcome": "approved", "reason": "r"}, headers=who)
    assert wrong.status_code == 422 and wrong.json()["field"] == "outcome"
    # Nothing of those was stored: the case is still open, the record unchanged.
    assert api.client.get(f"/v1/cases/{case['id']}", headers=who).json()["status"] == "open"
    assert len(the_record(api, people["subject"], "fare_evasion")["versions"]) == 1


def test_an_overdue_review_stops_the_record_counting(api: Api, people: dict[str, str]) -> None:
    judgment = the_record(api, people["subject"], "court_judgment_unfulfilled")
    case = api.client.post(
        "/v1/subjects/me/objections",
        data={"record_id": str(judgment["record_id"]), "reason": "Not my case number."},
        headers=api.as_(people["subject"]),
    ).json()
    assert the_record(api, people["subject"], "court_judgment_unfulfilled")["status"] == "counting"
    api.clock.t += timedelta(days=30)  # the deadline passes without a decision
    late = the_record(api, people["subject"], "court_judgment_unfulfilled")
    assert late["status"] == "review overdue"
    assert "review deadline passed" in late["text"]
    queue = api.client.get("/v1/cases", headers=api.as_(people["reviewer"])).json()
    assert queue["cases"][0]["overdue"] is True
    allowed = decide_air(api, people)
    assert allowed["outcome"] == "allow"
    # The decision that comes late makes it count again, and the airline, whose "allow"
    # rested on the record set aside, gets the decision made again: deny.
    upheld = api.client.post(
        f"/v1/cases/{case['id']}/decision",
        json={"outcome": "upheld", "reason": "The court confirms the judgment."},
        headers=api.as_(people["reviewer"]),
    )
    assert upheld.json()["result_version"] is None
    assert the_record(api, people["subject"], "court_judgment_unfulfilled")["status"] == "counting"
    told = api.client.get("/v1/notifications", headers=api.as_(people["airline"])).json()
    (note,) = told["notifications"]
    assert note["data"]["supersedes"] == [allowed["decision_id"]]
    assert note["data"]["decision"]["outcome"] == "deny"
    assert note["data"]["cause"]["outcome"] == "upheld"


def test_repair_ends_the_list_entry(api: Api, people: dict[str, str]) -> None:
    judgment = the_record(api, people["subject"], "court_judgment_unfulfilled")
    file = api.client.get("/v1/subjects/me", headers=api.as_(people["subject"])).json()
    (path,) = [p for p in file["paths_to_repair"] if p["record_id"] == judgment["record_id"]]
    assert path["repairable"] is True and path["after_repair"]["lists"] == []
    url = "/v1/subjects/me/repairs"
    who = api.as_(people["subject"])
    form = {"record_id": str(judgment["record_id"]), "reason": "Paid in full."}
    proof = [("files", ("receipt.pdf", PDF, "application/pdf"))]
    # The waiting period (3 months for this type) counts from the fulfilment.
    early = api.client.post(
        url, data={**form, "fulfilled_on": "2026-05-01"}, files=proof, headers=who
    )
    assert early.status_code == 422 and early.json()["field"] == "fulfilled_on"
    assert "from 1 August 2026" in early.json()["detail"]
    no_proof = api.client.post(url, data={**form, "fulfilled_on": "2026-03-20"}, headers=who)
    assert no_proof.status_code == 422 and no_proof.json()["field"] == "files"
    asked = api.client.post(
        url, data={**form, "fulfilled_on": "2026-03-20"}, files=proof, headers=who
    )
    assert asked.status_code == 201, asked.text
    case = asked.json()
    assert case["kind"] == "repair" and case["fulfilled_on"] == "2026-03-20"
    assert "black" in [e["list"] for e in file["lists"]]
    approved = api.client.post(
        f"/v1/cases/{case['id']}/decision",
        json={"outcome": "approved", "reason": "Receipt checked with the court."},
        headers=api.as_(people["reviewer"]),
    )
    assert approved.status_code == 200, approved.text
    after = api.client.get("/v1/subjects/me", headers=who).json()
    assert "black" not in [e["list"] for e in after["lists"]]
    repaired = next(r for r in after["records"] if r["record_id"] == judgment["record_id"])
    assert repaired["status"] == "repaired" and repaired["repaired_on"] == "2026-06-30"
    assert after["score"] > file["score"]


def test_a_type_without_repair_is_refused_with_its_end(api: Api, people: dict[str, str]) -> None:
    fare = the_record(api, people["subject"], "fare_evasion")
    response = api.client.post(
        "/v1/subjects/me/repairs",
        data={"record_id": str(fare["record_id"]), "reason": "paid", "fulfilled_on": "2026-05-03"},
        files=[("files", ("r.pdf", PDF, "application/pdf"))],
        headers=api.as_(people["subject"]),
    )
    assert response.status_code == 422 and response.json()["field"] == "record_id"
    assert "cannot be repaired early" in response.json()["detail"]


@pytest.mark.parametrize(
    ("name", "data", "ctype", "reason"),
    [
        ("x.exe", b"MZ\x90\x00" + b"\x00" * 200, "application/octet-stream", "evidence may be"),
        (
            "big.pdf",
            b"%PDF-1.4\n" + b"0" * (5 * 1024 * 1024),
            "application/pdf",
            "larger than 5 MiB",
        ),
        ("empty.txt", b"", "text/plain", "is empty"),
        ("fake.pdf", b"just words", "application/pdf", "declared as application/pdf"),
    ],
)
def test_evidence_is_checked_by_size_and_content(
    api: Api, people: dict[str, str], name: str, data: bytes, ctype: str, reason: str
) -> None:
    fare = the_record(api, people["subject"], "fare_evasion")
    start = len(events(api))
    response = api.client.post(
        "/v1/subjects/me/objections",
        data={"record_id": str(fare["record_id"]), "reason": "wrong"},
        files=[("files", ("ok.txt", b"a note", "text/plain")), ("files", (name, data, ctype))],
        headers=api.as_(people["subject"]),
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "files[1]" and reason in response.json()["detail"]
    # Nothing stored: no case, no event, the record not disputed.
    assert len(events(api)) == start
    assert the_record(api, people["subject"], "fare_evasion")["disputed"] is False


def test_evidence_files_are_read_back_by_who_may_see_the_case(
    api: Api, people: dict[str, str]
) -> None:
    fare = the_record(api, people["subject"], "fare_evasion")
    case = api.client.post(
        "/v1/subjects/me/objections",
        data={"record_id": str(fare["record_id"]), "reason": "wrong"},
        files=[("files", ("note.txt", "Ich war es nicht 我没有".encode(), "text/plain"))],
        headers=api.as_(people["subject"]),
    ).json()
    (evidence,) = case["evidence"]
    url = f"/v1/evidence/{evidence['id']}"
    got = api.client.get(url, headers=api.as_(people["reviewer"]))
    assert got.status_code == 200 and got.content == "Ich war es nicht 我没有".encode()
    assert got.headers["content-type"].startswith("text/plain")
    assert got.headers["x-content-type-options"] == "nosniff"
    # The court is not this record's provider: its key sees nothing.
    assert api.client.get(url, headers=api.as_(people["court"])).status_code == 404
    other = api.key("subject", subject=BAD_CO)
    assert api.client.get(url, headers=api.as_(other)).status_code == 404
    assert api.client.get(f"/v1/cases/{case['id']}", headers=api.as_(other)).status_code == 404


def test_one_open_objection_per_record(api: Api, people: dict[str, str]) -> None:
    fare = the_record(api, people["subject"], "fare_evasion")
    form = {"record_id": str(fare["record_id"]), "reason": "wrong"}
    who = api.as_(people["subject"])
    # 20:00 UTC on 30 June is already 1 July in Asia/Shanghai, the policy's time zone.
    api.clock.t = datetime(2026, 6, 30, 20, 0, tzinfo=UTC)
    assert api.client.post("/v1/subjects/me/objections", data=form, headers=who).status_code == 201
    twice = api.client.post("/v1/subjects/me/objections", data=form, headers=who)
    assert twice.status_code == 409 and "already under objection" in twice.json()["detail"]
    assert "(opened 1 July 2026)" in twice.json()["detail"]
    assert twice.json()["field"] == "record_id"
    unknown = api.client.post(
        "/v1/subjects/me/objections", data={**form, "record_id": "999999"}, headers=who
    )
    assert unknown.status_code == 404 and unknown.json()["field"] == "record_id"


def test_access_log_says_who_looked_and_why(api: Api, people: dict[str, str]) -> None:
    decide_air(api, people)
    api.client.get(
        f"/v1/subjects/{DEBTOR}?purpose=registry_administration",
        headers=api.as_(people["operator"]),
    )
    log = api.client.get("/v1/subjects/me/access-log", headers=api.as_(people["subject"])).json()
    seen = [(e["action"], e["role"], e["purpose"]) for e in log["events"]]
    assert ("subject.file.read", "operator", "registry_administration") in seen
    assert ("decision.create", "relying_party", "ticket_sale") in seen
    assert all(e["who"] for e in log["events"])
    # Newest first, numbered like the audit log (each provable).
    numbers = [e["event"] for e in log["events"]]
    assert numbers == sorted(numbers, reverse=True)


def test_provider_quality_counts_outcomes(api: Api, people: dict[str, str]) -> None:
    judgment = the_record(api, people["subject"], "court_judgment_unfulfilled")
    case = api.client.post(
        "/v1/subjects/me/objections",
        data={"record_id": str(judgment["record_id"]), "reason": "paid"},
        headers=api.as_(people["subject"]),
    ).json()
    api.clock.t += timedelta(hours=48)
    api.client.post(
        f"/v1/cases/{case['id']}/decision",
        json={"outcome": "upheld", "reason": "stands"},
        headers=api.as_(people["reviewer"]),
    )
    body = api.client.get("/v1/providers/quality", headers=api.as_(people["operator"])).json()
    (court,) = body["providers"]
    assert court["provider"] == "intermediate_court"
    assert (court["received"], court["upheld"], court["open"]) == (1, 1, 0)
    assert 48 <= court["median_review_hours"] < 48.1
    own = api.client.get("/v1/providers/quality", headers=api.as_(people["court"])).json()
    assert own == body
    bank = api.key("provider", provider="city_commercial_bank")
    assert api.client.get("/v1/providers/quality", headers=api.as_(bank)).json() == {
        "providers": []
    }


def test_erasure_removes_personal_data_and_the_log_still_verifies(
    api: Api, people: dict[str, str]
) -> None:
    decide_air(api, people)
    sid = api.subject_id(DEBTOR)
    refused = api.client.post(
        f"/v1/subjects/{sid}/erasure",
        json={"legal_basis": "PIPL art. 47"},
        headers=api.as_(people["reviewer"]),
    )
    assert refused.status_code == 403
    erased = api.client.post(
        f"/v1/subjects/{sid}/erasure",
        json={"legal_basis": "PIPL art. 47"},
        headers=api.as_(people["operator"]),
    )
    assert erased.status_code == 200, erased.text
    assert erased.json()["removed"]["record_versions"] == 2
    gone = api.client.get(
        f"/v1/subjects/{sid}?purpose=registry_administration", headers=api.as_(people["operator"])
    )
    assert gone.status_code == 404
    assert api.client.get("/v1/subjects/me", headers=api.as_(people["subject"])).status_code == 401
    # The trail stays, pseudonymous, and verifies.
    trail = [e for e in events(api) if e.subject_id == sid]
    assert trail[-1].action == "subject.erase" and len(trail) > 3
    report = verify(api.engine, public_key=api.audit_key.public_bytes())
    assert report.events == len(events(api)) and not report.warnings
    # The same person reported again is a new subject.
    court = people["court"]
    again = api.submit(
        court, [record("J-9", "court_judgment_unfulfilled", "2026-06-01", DEBTOR, name="W")], "j9"
    )
    assert again.status_code == 201 and again.json()["new_subjects"] == 1


def test_a_reviewer_works_its_own_cases(api: Api, people: dict[str, str]) -> None:
    fare = the_record(api, people["subject"], "fare_evasion")
    case = api.client.post(
        "/v1/subjects/me/objections",
        data={"record_id": str(fare["record_id"]), "reason": "wrong"},
        headers=api.as_(people["subject"]),
    ).json()
    url = f"/v1/cases/{case['id']}"
    first, second = people["reviewer"], api.key("reviewer")
    assert api.client.post(f"{url}/assign", json={}, headers=api.as_(first)).status_code == 200
    for path, body in (
        ("/assign", {}),
        ("/evidence-requests", {"message": "send it"}),
        ("/decision", {"outcome": "upheld", "reason": "stands"}),
    ):
        refused = api.client.post(url + path, json=body, headers=api.as_(second))
        assert refused.status_code == 403 and "is assigned to" in refused.json()["detail"]
    # An operator gives it to the second reviewer, who then decides it.
    second_id = api.client.get("/v1/whoami", headers=api.as_(second)).json()["key_id"]
    given = api.client.post(
        f"{url}/assign", json={"reviewer": second_id}, headers=api.as_(people["operator"])
    )
    assert given.json()["assigned_to"] == second_id
    nobody = api.client.post(
        f"{url}/assign", json={"reviewer": "nobody"}, headers=api.as_(people["operator"])
    )
    assert nobody.status_code == 422 and nobody.json()["field"] == "reviewer"
    decided = api.client.post(
        f"{url}/decision",
        json={"outcome": "upheld", "reason": "stands"},
        headers=api.as_(second),
    )
    assert decided.status_code == 200 and decided.json()["decided_by"] == second_id


def test_a_record_set_aside_by_an_objection_makes_decisions_again(
    api: Api, people: dict[str, str]
) -> None:
    bikes = api.key("relying_party", measures=("bike_rental_deposit_waiver",))
    asked = api.client.post(
        "/v1/decisions",
        json={
            "subject": DEBTOR,
            "measure": "bike_rental_deposit_waiver",
            "purpose": "benefit_administration",
        },
        headers=api.as_(bikes),
    ).json()
    fare = the_record(api, people["subject"], "fare_evasion")
    # Whatever its reasons, the decision rested on the fare evasion (a transport record).
    api.client.post(
        "/v1/subjects/me/objections",
        data={"record_id": str(fare["record_id"]), "reason": "I had a ticket."},
        headers=api.as_(people["subject"]),
    )
    (note,) = api.client.get("/v1/notifications", headers=api.as_(bikes)).json()["notifications"]
    assert note["data"]["supersedes"] == [asked["decision_id"]]
    assert note["data"]["cause"]["event"] == "disputed"
    assert note["data"]["decision"]["measure_score"] > asked["measure_score"]
    # The judgment keeps counting while disputed: objecting to it changes no decision.
    judgment = the_record(api, people["subject"], "court_judgment_unfulfilled")
    api.client.post(
        "/v1/subjects/me/objections",
        data={"record_id": str(judgment["record_id"]), "reason": "paid"},
        headers=api.as_(people["subject"]),
    )
    assert (
        len(api.client.get("/v1/notifications", headers=api.as_(bikes)).json()["notifications"])
        == 1
    )


def test_form_routes_say_how_to_call_them(api: Api, people: dict[str, str]) -> None:
    fare = the_record(api, people["subject"], "fare_evasion")
    who = api.as_(people["subject"])
    as_json = api.client.post(
        "/v1/subjects/me/objections", json={"record_id": fare["record_id"]}, headers=who
    )
    assert as_json.status_code == 422 and "multipart/form-data" in as_json.json()["detail"]
    blank = api.client.post(
        "/v1/subjects/me/objections",
        data={"record_id": str(fare["record_id"]), "reason": "  "},
        headers=who,
    )
    assert blank.status_code == 422 and blank.json()["field"] == "reason"
    assert "say in words why" in blank.json()["detail"]
    named = api.client.post(
        "/v1/subjects/me/objections",
        data={"record_id": str(fare["record_id"]), "reason": "wrong"},
        files=[("files", ("收据 1.txt", "已付".encode(), "text/plain"))],
        headers=who,
    ).json()
    # Taken with no body; the file downloads under its own name.
    taken = api.client.post(f"/v1/cases/{named['id']}/assign", headers=api.as_(people["reviewer"]))
    assert taken.status_code == 200, taken.text
    got = api.client.get(
        f"/v1/evidence/{named['evidence'][0]['id']}", headers=api.as_(people["reviewer"])
    )
    assert "filename*=UTF-8''%E6%94%B6%E6%8D%AE%201.txt" in got.headers["content-disposition"]
    # The reviewer's look at the queue is in the subject's access log.
    log = api.client.get("/v1/subjects/me/access-log", headers=who).json()
    assert ("cases.read", "reviewer") not in [(e["action"], e["role"]) for e in log["events"]]
    api.client.get("/v1/cases", headers=api.as_(people["reviewer"]))
    log = api.client.get("/v1/subjects/me/access-log", headers=who).json()
    assert ("cases.read", "reviewer") in [(e["action"], e["role"]) for e in log["events"]]
