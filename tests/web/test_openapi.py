"""schemathesis against the OpenAPI schema: generated requests, valid and not, as each
role, find no server error and no response that breaks the schema.

It runs on SQLite and on PostgreSQL like every database test, with the seeded registry,
so the generated requests meet real subjects, records and decisions.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.web.conftest import Api

EXAMPLES = 25
#: Valid requests, and requests that break the schema on purpose (those must be 4xx).
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)

ROLE_SCOPES: dict[str, dict[str, Any]] = {
    "operator": {},
    "provider": {"provider": "intermediate_court"},
    "relying_party": {"measures": ("restrict_air_travel", "loan_rate_review")},
    "reviewer": {},
}


@pytest.fixture(params=sorted(ROLE_SCOPES))
def role(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_no_server_errors_and_responses_match_the_schema(api: Api, role: str) -> None:
    """Every operation, as this role. (schemathesis's lazy pytest fixture does not work
    with pytest 9.2, so the operations are driven with Hypothesis here.)"""
    headers = {"Authorization": f"Bearer {api.key(role, **ROLE_SCOPES[role])}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 10
    for operation, mode in itertools.product(operations, MODES):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def check(case: Any) -> None:
            case.call_and_validate(
                headers=headers, checks=[not_a_server_error, response_schema_conformance]
            )

        try:
            check()
        except Unsatisfiable:
            # Nothing to break on an operation without parameters or body.
            assert mode is GenerationMode.NEGATIVE, operation.label
