"""The identity routes over HTTP, on SQLite and PostgreSQL: a reviewer works the queue,
an operator merges and splits, errors name their field."""

from __future__ import annotations

from datetime import date

from tests.resolve.helpers import Row, land
from tests.web.conftest import DEBTOR, Api, api, make_api  # noqa: F401 - fixtures

from trustledger.resolve import Resolution


def test_a_reviewer_accepts_a_queued_link(api: Api) -> None:  # noqa: F811
    debtor = api.subject_id(DEBTOR)
    # The seeded debtor Wang Wei, born 1985-04-12; a judgment about him born a day off.
    [(_, res)] = land(api.engine, [Row("J-Q", "Wang Wei", date(1985, 4, 13))], now=api.clock())
    assert isinstance(res, Resolution) and res.outcome == "review"
    assert res.candidate_subject_id == debtor
    reviewer = api.as_(api.key("reviewer"))
    queue = api.client.get("/v1/identity/queue", headers=reviewer)
    assert queue.status_code == 200, queue.text
    [item] = queue.json()["decisions"]
    assert item["other_subject"] == debtor and item["record"]["reference"] == "J-Q"
    assert {f["field"] for f in item["explanation"]["fields"]} == {
        "name",
        "birth_date",
        "address",
        "phone",
    }
    missing = api.client.post(
        f"/v1/identity/decisions/{item['id']}/accept", json={}, headers=reviewer
    )
    assert missing.status_code == 422 and missing.json()["field"] == "reason"
    done = api.client.post(
        f"/v1/identity/decisions/{item['id']}/accept",
        json={"reason": "same man"},
        headers=reviewer,
    )
    assert done.status_code == 200, done.text
    assert done.json()["rescored"][str(debtor)]["lists"] == ["black"]
    again = api.client.post(
        f"/v1/identity/decisions/{item['id']}/reject", json={"reason": "no"}, headers=reviewer
    )
    assert again.status_code == 409 and "settled" in again.json()["detail"]
    history = api.client.get(f"/v1/identity/subjects/{debtor}/history", headers=reviewer)
    assert [d["kind"] for d in history.json()["decisions"]] == ["accept", "review"]
    unknown = api.client.get("/v1/identity/decisions/999999", headers=reviewer)
    assert unknown.status_code == 404


def test_merges_and_splits_name_what_is_wrong(api: Api) -> None:  # noqa: F811
    operator = api.as_(api.key("operator"))
    debtor = str(api.subject_id(DEBTOR))
    both = api.client.post(
        "/v1/identity/splits",
        json={"subject": debtor, "reason": "x", "records": [1], "undo": 1},
        headers=operator,
    )
    assert both.status_code == 422 and both.json()["field"] == "records"
    itself = api.client.post(
        "/v1/identity/merges",
        json={"survivor": debtor, "absorbed": debtor, "reason": "x"},
        headers=operator,
    )
    assert itself.status_code == 422 and itself.json()["field"] == "absorbed"
    nobody = api.client.post(
        "/v1/identity/merges",
        json={"survivor": debtor, "absorbed": "424242", "reason": "x"},
        headers=operator,
    )
    assert nobody.status_code == 404 and nobody.json()["field"] == "subject"
