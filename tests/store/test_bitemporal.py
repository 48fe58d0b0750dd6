"""Records valid on day D as known at time K, straight from the store."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, func, select

from trustledger.domain.record import RecordAction
from trustledger.domain.subject import Identifier, SubjectKind
from trustledger.store import records as rs
from trustledger.store import tables
from trustledger.store.subjects import SubjectDraft, insert_subjects, lookup_identifiers


def test_valid_time_and_recorded_time_are_independent(engine: Engine, now: datetime) -> None:
    k1, k2, k3 = now - timedelta(days=30), now - timedelta(days=20), now - timedelta(days=10)
    with engine.begin() as conn:
        a, b = insert_subjects(
            conn,
            [
                SubjectDraft(SubjectKind.PERSON, "A", "test", (Identifier("cn_ric", "A1"),)),
                SubjectDraft(SubjectKind.PERSON, "B", "test", (Identifier("cn_ric", "B1"),)),
            ],
            now=k1,
        )
        assert lookup_identifiers(conn, [Identifier("cn_ric", "B1")]) == {
            Identifier("cn_ric", "B1"): b
        }
        (rid,) = rs.insert_records(conn, "tax_bureau", ["T-1"], now=k1)

        def version(
            n: int, action: RecordAction, subject: int, valid_to: date | None, at: datetime
        ) -> None:
            rs.insert_versions(
                conn,
                [
                    rs.NewVersion(
                        record_id=rid,
                        version=n,
                        action=action,
                        subject_id=subject,
                        record_type="tax_arrears",
                        provider="tax_bureau",
                        valid_from=date(2026, 1, 1),
                        valid_to=valid_to,
                        amount=Decimal("10.00"),
                        note=None,
                        batch=None,
                    )
                ],
                now=at,
            )

        version(1, RecordAction.CREATE, a, None, k1)
        version(2, RecordAction.CORRECT, a, date(2026, 3, 1), k2)  # the arrear was paid
        version(3, RecordAction.CORRECT, b, date(2026, 3, 1), k3)  # it was B's, not A's

    with engine.connect() as conn:

        def ask(subject: int, valid_on: date | None, known_at: datetime) -> list[int]:
            return [
                r.version
                for r in rs.records_as_of(conn, subject, valid_on=valid_on, known_at=known_at)
            ]

        assert ask(a, date(2026, 4, 1), k1) == [1]  # then: still open
        assert ask(a, date(2026, 4, 1), k2) == []  # later known: paid on 1 March
        assert ask(a, date(2026, 2, 1), k2) == [2]  # but it held in February
        assert ask(a, None, k3) == []  # and then it moved to B
        assert ask(b, date(2026, 2, 1), k3) == [3]
        assert ask(b, date(2026, 2, 1), k2) == []  # B had no record as known at k2
        assert ask(a, date(2025, 12, 31), k1) == []  # not valid before it began
        assert [v.version for v in rs.record_history(conn, rid)] == [1, 2, 3]
        assert (
            conn.execute(select(func.count()).select_from(tables.record_versions)).scalar_one() == 3
        )
