"""Landing rows without a usable identifier the way ingestion does (the contract in
``trustledger.resolve``), for the identity tests and the web matrix."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Engine

from trustledger.domain.principal import Actor, Principal, Role
from trustledger.domain.record import RecordAction
from trustledger.domain.subject import SubjectKind
from trustledger.errors import RowProblem
from trustledger.resolve import Candidate, Resolution, record_links, resolve_candidates
from trustledger.service.audit import AuditLog
from trustledger.service.identity import link_entries
from trustledger.service.policies import active_policy
from trustledger.store import records as record_store
from trustledger.store.records import NewVersion

__all__ = ["PROVIDER", "Row", "land"]

PROVIDER = Actor(Principal("prov-key", Role.PROVIDER, provider="intermediate_court"), "req-p")


@dataclass
class Row:
    """A provider's row without a usable identifier, and the record it reports."""

    reference: str
    name: str | None
    birth_date: date | None = None
    record_type: str = "court_judgment_unfulfilled"
    provider: str = "intermediate_court"
    kind: SubjectKind | None = SubjectKind.PERSON
    address: str | None = None
    phone: str | None = None
    identifier_kind: str | None = None
    identifier_value: str | None = None
    valid_from: date = date(2026, 3, 1)


def land(
    engine: Engine, rows: list[Row], *, now: datetime, audit: AuditLog | None = None
) -> list[tuple[int | None, Resolution | RowProblem]]:
    """Resolve rows, insert the records of those resolved and record the links, in one
    transaction; (record id or None, result) for each row."""
    with engine.begin() as conn:
        policy = active_policy(conn).policy
        candidates = [
            Candidate(
                file="batch.csv",
                line=n + 2,
                provider=r.provider,
                kind=r.kind,
                name=r.name,
                birth_date=r.birth_date,
                address=r.address,
                phone=r.phone,
                identifier_kind=r.identifier_kind,
                identifier_value=r.identifier_value,
            )
            for n, r in enumerate(rows)
        ]
        results = resolve_candidates(conn, candidates, policy=policy, now=now)
        assert len(results) == len(rows)
        by_provider: dict[str, list[tuple[Row, Resolution]]] = {}
        for r, res in zip(rows, results, strict=True):
            if isinstance(res, Resolution):
                by_provider.setdefault(r.provider, []).append((r, res))
        links: list[tuple[int, Resolution]] = []
        ids: dict[str, int] = {}
        for provider, items in by_provider.items():
            rids = record_store.insert_records(
                conn, provider, [r.reference for r, _ in items], now=now
            )
            record_store.insert_versions(
                conn,
                [
                    NewVersion(
                        record_id=rid,
                        version=1,
                        action=RecordAction.CREATE,
                        subject_id=res.subject_id,
                        record_type=r.record_type,
                        provider=provider,
                        valid_from=r.valid_from,
                        valid_to=None,
                        amount=None,
                        note=None,
                        batch="test",
                    )
                    for rid, (r, res) in zip(rids, items, strict=True)
                ],
                now=now,
            )
            for rid, (r, res) in zip(rids, items, strict=True):
                links.append((rid, res))
                ids[r.reference] = rid
        record_links(conn, links, actor="test-batch", now=now)
        if audit is not None:
            audit.append(conn, PROVIDER, link_entries(links), now=now)
    return [(ids.get(r.reference), res) for r, res in zip(rows, results, strict=True)]


def seed_identity(engine: Engine, now: datetime) -> dict[str, str]:
    """What the web matrix acts on, one of each per deciding role (operator, reviewer):
    a queued link to accept and one to reject (a registered person, then a record with
    the same name and a birth date one digit off), two subjects to merge (the same name
    twice, no birth date), and a subject with two records to split one off. Returns the
    names the matrix formats its paths and bodies with (``review@operator``...)."""
    from trustledger.domain.subject import Identifier
    from trustledger.identifiers import make_ric
    from trustledger.store.subjects import SubjectDraft, insert_subjects

    names: dict[str, str] = {}
    given = iter("伟芳娜敏静磊强军洋勇艳杰娟涛明超")
    for n, role in enumerate(("operator", "reviewer")):
        for k, use in enumerate(("review", "reject", "split")):
            name = "王" + next(given)
            born = date(1970 + n, 1 + k, 21)
            with engine.begin() as conn:
                [sid] = insert_subjects(
                    conn,
                    [
                        SubjectDraft(
                            kind=SubjectKind.PERSON,
                            name=name,
                            created_by="matrix",
                            identifiers=(Identifier("cn_ric", make_ric("310101", born, 11 + n)),),
                            birth_date=born,
                        )
                    ],
                    now=now,
                )
            if use == "split":
                landed = land(
                    engine,
                    [Row(f"IDS-{role}-{i}", name, born) for i in range(2)],
                    now=now,
                )
                names[f"split_subject@{role}"] = str(sid)
                names[f"split_record@{role}"] = str(landed[0][0])
                continue
            off = born.replace(day=23)  # one digit off: a link to review
            [(_, res)] = land(engine, [Row(f"ID-{role}-{use}", name, off)], now=now)
            assert isinstance(res, Resolution) and res.outcome == "review", res
        absorbed = land(
            engine,
            [Row(f"IDM-{role}-{i}", "赵" + next(given), None) for i in range(2)],
            now=now,
        )
        subjects = [res.subject_id for _, res in absorbed if isinstance(res, Resolution)]
        names[f"survivor@{role}"], names[f"absorbed@{role}"] = map(str, subjects)
    from sqlalchemy import select

    from trustledger.store.tables import identity_decisions as t

    with engine.connect() as conn:
        reviews = [
            r.id for r in conn.execute(select(t.c.id).where(t.c.kind == "review").order_by(t.c.id))
        ]
    names["review@operator"], names["reject@operator"] = map(str, reviews[0:2])
    names["review@reviewer"], names["reject@reviewer"] = map(str, reviews[2:4])
    # Roles that are refused before anything happens get the operator's.
    for key in [k for k in names if k.endswith("@operator")]:
        names[key.split("@")[0]] = names[key]
    return names
