"""Fixtures for the HTTP service: the real app on the ``registry`` database (SQLite and
PostgreSQL), driven in-process by Starlette's TestClient, with a clock that ticks a
millisecond per call, a fresh audit key, and one small seeded population.

``api.key(role, ...)`` makes a key exactly as ``trustledger keys create`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from trustledger.audit import AuditKey
from trustledger.domain.principal import Role
from trustledger.identifiers import make_ric, make_uscc
from trustledger.service.keys import create_key
from trustledger.web.app import Settings, create_app

#: A judgment debtor who does not perform (judicial), with a late fare too (transport).
DEBTOR = make_ric("440305", date(1985, 4, 12), 123)
#: A borrower in default (finance) and nothing else.
BORROWER = make_ric("110105", date(1990, 1, 31), 456)
#: A clean person.
CLEAN = make_ric("310101", date(1979, 7, 1), 8)
#: A restaurant that failed a food inspection; public records.
SHOP = make_uscc("9", "1", "440300", "MA5FXX1K")
#: An organisation with a revoked licence: on the public black list.
BAD_CO = make_uscc("9", "1", "440300", "MA5FXX2L")


def record(
    reference: str,
    record_type: str,
    valid_from: str,
    identifier: str,
    *,
    kind: str = "cn_ric",
    name: str = "Somebody",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "reference": reference,
        "record_type": record_type,
        "valid_from": valid_from,
        "subject_id_kind": kind,
        "subject_id": identifier,
        "subject_name": name,
        **extra,
    }


SEED: dict[str, list[dict[str, Any]]] = {
    "intermediate_court": [
        record("J-1", "court_judgment_unfulfilled", "2026-03-12", DEBTOR, name="Wang Wei"),
    ],
    "city_commercial_bank": [
        record("L-1", "loan_default_90d", "2026-02-01", BORROWER, name="Li Na", amount=52000),
        record("L-2", "loan_repaid_on_time", "2026-01-05", CLEAN, name="Zhao Min"),
    ],
    "city_rail_transit": [
        record("F-1", "fare_evasion", "2026-05-02", DEBTOR, name="Wang Wei"),
    ],
    "market_regulator": [
        record(
            "R-1",
            "business_licence_revoked",
            "2026-04-01",
            BAD_CO,
            kind="uscc",
            name="Bad Trading Co.",
        ),
        record(
            "R-2", "annual_report_filed", "2026-03-01", SHOP, kind="uscc", name="Good Noodles Ltd."
        ),
    ],
    "food_inspectorate": [
        record(
            "I-1", "food_inspection_fail", "2026-05-20", SHOP, kind="uscc", name="Good Noodles Ltd."
        ),
    ],
}


class TickingClock:
    """Starts at ``start`` and moves a millisecond each time it is read."""

    def __init__(self, start: datetime) -> None:
        self.t = start

    def __call__(self) -> datetime:
        self.t += timedelta(milliseconds=1)
        return self.t


@dataclass
class Api:
    client: TestClient
    engine: Engine
    clock: TickingClock
    audit_key: AuditKey
    keys: dict[str, str] = field(default_factory=dict)

    def key(self, role: str | Role, **scope: Any) -> str:
        made = create_key(self.engine, role=Role(role), now=self.clock(), **scope)
        return made.token

    def as_(self, token: str | None) -> dict[str, str]:
        return {} if token is None else {"Authorization": f"Bearer {token}"}

    def submit(self, token: str, rows: list[dict[str, Any]], idem: str) -> Any:
        return self.client.post(
            "/v1/records",
            json={"records": rows},
            headers={**self.as_(token), "Idempotency-Key": idem},
        )

    def subject_id(self, identifier: str) -> int:
        from trustledger.store.subjects import find_subjects

        with self.engine.connect() as conn:
            return find_subjects(conn, identifier)[0].id


@pytest.fixture
def make_api(registry: Engine, now: datetime) -> Iterator[Callable[..., Api]]:
    """Build the app; ``seed=False`` leaves the registry empty, ``rate`` sets the limit."""
    clients: list[TestClient] = []

    def build(*, seed: bool = True, rate: float = 10_000.0) -> Api:
        clock = TickingClock(now)
        key = AuditKey.generate()
        app = create_app(
            Settings(engine=registry, audit_key=key, rate_per_second=rate, clock=clock)
        )
        client = TestClient(app, raise_server_exceptions=False)
        clients.append(client)
        api = Api(client, registry, clock, key)
        if seed:
            for provider, rows in SEED.items():
                token = api.key("provider", provider=provider)
                response = api.submit(token, rows, f"seed-{provider}")
                assert response.status_code == 201, response.text
        return api

    yield build
    for c in clients:
        c.close()


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()
