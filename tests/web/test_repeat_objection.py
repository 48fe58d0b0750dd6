"""An upheld objection settles the facts of that version of a record: a subject cannot keep
a record set aside (and itself off a list) by objecting to it again and again. A new
version (a correction) is new facts, and may be set aside again. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.web.conftest import DEBTOR, Api
from trustledger.domain.principal import ANONYMOUS, Actor
from trustledger.service.audit import AuditLog
from trustledger.service.maintain import maintain


def fare(api: Api, token: str) -> dict[str, Any]:
    body = api.client.get("/v1/subjects/me", headers=api.as_(token)).json()
    return next(r for r in body["records"] if r["record_type"] == "fare_evasion")


def score(api: Api, token: str) -> float:
    return float(api.client.get("/v1/subjects/me/score", headers=api.as_(token)).json()["score"])


def object_to(api: Api, token: str, record_id: int, reason: str) -> dict[str, Any]:
    r = api.client.post(
        "/v1/subjects/me/objections",
        data={"record_id": str(record_id), "reason": reason},
        headers=api.as_(token),
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def decide(api: Api, token: str, case_id: str, outcome: str, **extra: Any) -> None:
    r = api.client.post(
        f"/v1/cases/{case_id}/decision",
        json={"outcome": outcome, "reason": "Checked with the operator's ticket log.", **extra},
        headers=api.as_(token),
    )
    assert r.status_code == 200, r.text


def test_objecting_again_after_an_upheld_one_does_not_set_the_record_aside(api: Api) -> None:
    subject = api.key("subject", subject=DEBTOR)
    reviewer = api.key("reviewer")
    record = fare(api, subject)
    counting = score(api, subject)
    assert record["status"] == "counting" and record["points"] < 0

    # The first objection sets the record aside (fares stop counting while disputed).
    first = object_to(api, subject, record["record_id"], "I had a ticket.")
    assert fare(api, subject)["status"] == "disputed"
    assert score(api, subject) > counting
    decide(api, reviewer, first["id"], "upheld")
    assert fare(api, subject)["status"] == "counting"
    assert score(api, subject) == counting

    # Again, with the same story: disputed, but it keeps counting...
    again = object_to(api, subject, record["record_id"], "I had a ticket, really.")
    now = fare(api, subject)
    assert now["disputed"] is True and now["status"] == "counting"
    assert "under objection again" in now["text"]
    assert score(api, subject) == counting

    # ... even past the review deadline.
    api.clock.t += timedelta(days=31)
    actor = Actor(ANONYMOUS, "test-maintain")
    maintain(api.engine, AuditLog(api.audit_key), actor, now=api.clock(), deliver=False)
    assert fare(api, subject)["status"] == "counting"

    # A correction is a new version: new facts, which an objection sets aside again.
    decide(api, reviewer, again["id"], "corrected", correction={"note": "Inspector: Li"})
    corrected = fare(api, subject)
    assert corrected["version"] == 2 and corrected["status"] == "counting"
    object_to(api, subject, corrected["record_id"], "The inspector was not on that train.")
    assert fare(api, subject)["status"] == "disputed"
