"""Least privilege as a matrix: every role against every endpoint.

Each row is an endpoint; each column the status a principal of that role gets. The
subject key belongs to the debtor, whose file the endpoints read; the relying-party key
asked for the decision that ``/v1/decisions/{id}`` reads.
"""

from __future__ import annotations

from typing import Any

import pytest

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
    "GET /v1/public/lists/black": (200,) * 7,
    "GET /v1/audit/events/0": (401, 403, 200, 403, 403, 403, 200),
    "GET /v1/audit/tree-head": (200,) * 7,
    "GET /v1/audit/proof/inclusion/0": (200,) * 7,
    "GET /v1/audit/proof/consistency?from=1&to=2": (200,) * 7,
    "GET /v1/health": (200,) * 7,
}


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
    names = {
        "own": str(api.subject_id(DEBTOR)),
        "other": str(api.subject_id(BORROWER)),
        "decision": decision,
        "org": BAD_CO,
    }
    return api, tokens, names


def call(api: Api, endpoint: str, token: str | None, role: str, names: dict[str, str]) -> Any:
    method, path = endpoint.split(" ", 1)
    path = path.format(**names)
    headers = api.as_(token)
    reads_data = path.startswith(("/v1/subjects", "/v1/decisions/", "/v1/audit/events"))
    if method == "GET" and reads_data and role in PURPOSE:
        path += f"?purpose={PURPOSE[role]}"
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
        for endpoint in MATRIX
    }
    assert routes == covered
