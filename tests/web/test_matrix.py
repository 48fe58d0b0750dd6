"""Least privilege as a matrix: every role against every endpoint.

Each row is an endpoint; each column the status a principal of that role gets. The
subject key belongs to the debtor, whose file the endpoints read; the relying-party key
asked for the decision that ``/v1/decisions/{id}`` reads.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.resolve.helpers import seed_identity
from tests.web.conftest import BAD_CO, BORROWER, CLEAN, DEBTOR, Api, record

ROLES = ("anonymous", "public", "operator", "provider", "relying_party", "reviewer", "subject")

#: A purpose each role may state when it reads subject data (none for the others).
PURPOSE = {"operator": "registry_administration", "reviewer": "objection_review"}

# endpoint -> expected status per role, in ROLES order.
MATRIX: dict[str, tuple[int, ...]] = {
    "POST /v1/records": (401, 403, 403, 201, 403, 403, 403),
    "GET /v1/subjects/{own}": (401, 403, 200, 403, 403, 200, 200),
    "GET /v1/subjects/{own}/score": (401, 403, 200, 403, 403, 200, 200),
    "GET /v1/subjects/{own}/explanation": (401, 403, 200, 403, 403, 200, 200),
    "GET /v1/subjects/{own}/decisions": (401, 403, 200, 403, 403, 200, 200),
    "GET /v1/subjects/{other}": (401, 403, 200, 403, 403, 200, 403),
    "GET /v1/subjects/{other}/score": (401, 403, 200, 403, 403, 200, 403),
    "GET /v1/subjects/{other}/explanation": (401, 403, 200, 403, 403, 200, 403),
    "POST /v1/decisions": (401, 403, 403, 403, 201, 403, 403),
    "GET /v1/decisions/{decision}": (401, 404, 200, 404, 200, 200, 200),
    "GET /v1/whoami": (401, 200, 200, 200, 200, 200, 200),
    "GET /v1/public/organisations/{org}": (200,) * 7,
    "GET /v1/public/organisations?q=Noodles": (200,) * 7,
    "GET /v1/public/lists/black": (200,) * 7,
    "GET /v1/audit/events/0": (401, 403, 200, 403, 403, 403, 200),
    "GET /v1/audit/tree-head": (200,) * 7,
    "GET /v1/audit/proof/inclusion/0": (200,) * 7,
    "GET /v1/audit/proof/consistency?from=1&to=2": (200,) * 7,
    "GET /v1/health": (200,) * 7,
    # Subject rights. A subject files for itself; staff on its behalf (a letter, a counter).
    "POST /v1/subjects/{own}/objections": (401, 403, 201, 403, 403, 201, 201),
    "POST /v1/subjects/{own}/repairs": (401, 403, 201, 403, 403, 201, 201),
    "POST /v1/subjects/{other}/objections": (401, 403, 201, 403, 403, 201, 403),
    "GET /v1/subjects/{own}/cases": (401, 403, 200, 403, 403, 200, 200),
    "GET /v1/subjects/{own}/access-log": (401, 403, 200, 403, 403, 200, 200),
    "GET /v1/subjects/{other}/access-log": (401, 403, 200, 403, 403, 200, 403),
    "GET /v1/subjects/{own}/notifications": (401, 403, 200, 403, 403, 200, 200),
    # The queue: staff see every case, a provider those about its records, a subject its own;
    # a case anyone else may not see answers like an unknown one.
    "GET /v1/cases": (401, 403, 200, 200, 403, 200, 200),
    "GET /v1/cases/{case}": (401, 404, 200, 200, 404, 200, 200),
    "POST /v1/cases/{case}/assign": (401, 403, 200, 403, 403, 200, 403),
    "POST /v1/cases/{case}/evidence-requests": (401, 403, 200, 403, 403, 200, 403),
    "POST /v1/cases/{case}/evidence": (401, 404, 200, 200, 404, 200, 200),
    "GET /v1/evidence/{evidence}": (401, 404, 200, 200, 404, 200, 200),
    "POST /v1/cases/{decide}/decision": (401, 403, 200, 403, 403, 200, 403),
    "GET /v1/providers/quality": (401, 403, 200, 200, 403, 200, 403),
    "GET /v1/notifications": (401, 200, 200, 200, 200, 200, 200),
    # Identity review (issue 4): reviewers and operators only.
    "GET /v1/identity/queue": (401, 403, 200, 403, 403, 200, 403),
    "GET /v1/identity/decisions/{review}": (401, 403, 200, 403, 403, 200, 403),
    "POST /v1/identity/decisions/{review}/accept": (401, 403, 200, 403, 403, 200, 403),
    "POST /v1/identity/decisions/{reject}/reject": (401, 403, 200, 403, 403, 200, 403),
    "POST /v1/identity/merges": (401, 403, 201, 403, 403, 201, 403),
    "POST /v1/identity/splits": (401, 403, 201, 403, 403, 201, 403),
    "GET /v1/identity/subjects/{own}/history": (401, 403, 200, 403, 403, 200, 403),
    # Last: it erases the other subject.
    "POST /v1/subjects/{other}/erasure": (401, 403, 200, 403, 403, 403, 403),
}

PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.fixture
def setup(api: Api) -> tuple[Api, dict[str, str | None], dict[str, str]]:
    rp = api.key("relying_party", measures=("restrict_air_travel",))
    tokens: dict[str, str | None] = {
        "anonymous": None,
        "public": api.key("public"),
        "operator": api.key("operator"),
        "provider": api.key("provider", provider="intermediate_court"),
        "relying_party": rp,
        "reviewer": api.key("reviewer"),
        "subject": api.key("subject", subject=DEBTOR),
    }
    decision = api.client.post(
        "/v1/decisions",
        json={"subject": DEBTOR, "measure": "restrict_air_travel", "purpose": "ticket_sale"},
        headers=api.as_(rp),
    ).json()["decision_id"]
    # One judgment per role that may file about the debtor, one about the borrower, and
    # one case per deciding role, so that each call stands on its own.
    court = api.key("provider", provider="intermediate_court")
    rows = [
        record(f"MJ-{i}", "court_judgment_unfulfilled", "2026-01-10", DEBTOR, name="Wang Wei")
        for i in range(5)
    ] + [
        record(f"MJ-B{i}", "court_judgment_unfulfilled", "2026-01-10", BORROWER, name="Li Na")
        for i in range(2)
    ]
    assert api.submit(court, rows, "matrix-judgments").status_code == 201
    debtor = api.client.get("/v1/subjects/me", headers=api.as_(tokens["subject"])).json()
    ids = {r["reference"]: r["record_id"] for r in debtor["records"]}
    operator = api.as_(tokens["operator"])
    borrower = api.client.get(
        f"/v1/subjects/{BORROWER}?purpose=registry_administration", headers=operator
    ).json()
    others = {r["reference"]: str(r["record_id"]) for r in borrower["records"]}
    cases = {}
    for ref in ("MJ-3", "MJ-4"):
        cases[ref] = api.client.post(
            f"/v1/subjects/{DEBTOR}/objections",
            data={"record_id": str(ids[ref]), "reason": "matrix"},
            files=[("files", ("a.pdf", PDF, "application/pdf"))],
            headers=api.as_(tokens["subject"]),
        ).json()
    names = {
        "own": str(api.subject_id(DEBTOR)),
        "other": str(api.subject_id(BORROWER)),
        "decision": decision,
        "org": BAD_CO,
        "case": cases["MJ-3"]["id"],
        "evidence": cases["MJ-3"]["evidence"][0]["id"],
        "decide": cases["MJ-3"]["id"],
        "record": str(ids["MJ-0"]),
        "other_record": others["MJ-B0"],
    }
    per_role = {
        "operator": {"record": str(ids["MJ-0"]), "decide": cases["MJ-3"]["id"]},
        # The operator takes case MJ-3; a reviewer works an unassigned one.
        "reviewer": {
            "record": str(ids["MJ-1"]),
            "case": cases["MJ-4"]["id"],
            "decide": cases["MJ-4"]["id"],
            "other_record": others["MJ-B1"],
        },
        "subject": {"record": str(ids["MJ-2"])},
    }
    for role, extra in per_role.items():
        names.update({f"{k}@{role}": v for k, v in extra.items()})
    names.update(seed_identity(api.engine, api.clock()))
    return api, tokens, names


def call(api: Api, endpoint: str, token: str | None, role: str, names: dict[str, str]) -> Any:
    method, path = endpoint.split(" ", 1)
    mine = {**names, **{k.split("@")[0]: v for k, v in names.items() if k.endswith(f"@{role}")}}
    path = path.format(**mine)
    headers = api.as_(token)
    reads_data = path.startswith(("/v1/subjects", "/v1/decisions/", "/v1/audit/events"))
    if method == "GET" and reads_data and role in PURPOSE:
        path += f"?purpose={PURPOSE[role]}"
    pdf = [("files", ("proof.pdf", PDF, "application/pdf"))]
    if method == "POST" and path.endswith("/objections"):
        record_id = mine["other_record"] if "/{other}/" in endpoint else mine["record"]
        data = {"record_id": record_id, "reason": f"matrix {role}"}
        return api.client.post(path, data=data, files=pdf, headers=headers)
    if method == "POST" and path.endswith("/repairs"):
        data = {"record_id": mine["record"], "reason": "paid", "fulfilled_on": "2026-02-01"}
        return api.client.post(path, data=data, files=pdf, headers=headers)
    if method == "POST" and path.endswith("/evidence"):
        return api.client.post(path, data={"note": role}, files=pdf, headers=headers)
    if method == "POST" and path.endswith("/assign"):
        return api.client.post(path, json={}, headers=headers)
    if method == "POST" and path.endswith("/evidence-requests"):
        return api.client.post(path, json={"message": "send the file"}, headers=headers)
    if method == "POST" and path.endswith("/decision"):
        return api.client.post(
            path, json={"outcome": "upheld", "reason": "stands"}, headers=headers
        )
    if method == "POST" and path.endswith(("/accept", "/reject")):
        return api.client.post(path, json={"reason": f"matrix {role}"}, headers=headers)
    if method == "POST" and path == "/v1/identity/merges":
        merge = {"survivor": mine["survivor"], "absorbed": mine["absorbed"], "reason": "matrix"}
        return api.client.post(path, json=merge, headers=headers)
    if method == "POST" and path == "/v1/identity/splits":
        split: dict[str, object] = {
            "subject": mine["split_subject"],
            "records": [int(mine["split_record"])],
            "reason": "matrix",
        }
        return api.client.post(path, json=split, headers=headers)
    if method == "POST" and path.endswith("/erasure"):
        return api.client.post(path, json={"legal_basis": "PIPL art. 47"}, headers=headers)
    if method == "POST" and path == "/v1/records":
        row = record(f"M-{role}", "court_judgment_unfulfilled", "2026-06-01", CLEAN, name="Zhao")
        return api.client.post(
            path, json={"records": [row]}, headers={**headers, "Idempotency-Key": f"m-{role}"}
        )
    if method == "POST":
        body = {"subject": DEBTOR, "measure": "restrict_air_travel", "purpose": "ticket_sale"}
        return api.client.post(path, json=body, headers=headers)
    return api.client.get(path, headers=headers)


def test_every_role_against_every_endpoint(
    setup: tuple[Api, dict[str, str | None], dict[str, str]],
) -> None:
    api, tokens, names = setup
    got: dict[str, tuple[int, ...]] = {}
    for endpoint in MATRIX:
        codes = []
        for role in ROLES:
            r = call(api, endpoint, tokens[role], role, names)
            codes.append(r.status_code)
            if r.status_code >= 400:
                body = r.json()
                # Every denial says why, as JSON, with the request id.
                assert body["error"] and body["detail"] and body["request_id"], (endpoint, role)
                assert "Traceback" not in r.text
        got[endpoint] = tuple(codes)
    assert got == MATRIX


def test_every_api_route_is_in_the_matrix(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    routes = {f"{method.upper()} {path}" for path, ops in schema["paths"].items() for method in ops}
    covered = {
        endpoint.split("?")[0]
        .replace("{own}", "{subject}")
        .replace("{other}", "{subject}")
        .replace("{decision}", "{decision_id}")
        .replace("{org}", "{uscc}")
        .replace("/black", "/{name}")
        .replace("/inclusion/0", "/inclusion/{event}")
        .replace("/events/0", "/events/{event}")
        .replace("{case}", "{case_id}")
        .replace("{decide}", "{case_id}")
        .replace("{evidence}", "{evidence_id}")
        .replace("{review}", "{decision_id}")
        .replace("{reject}", "{decision_id}")
        for endpoint in MATRIX
    }
    assert routes == covered
