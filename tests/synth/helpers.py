"""Reading a Parquet population back for checks: rows as dicts, records as the pure
evaluator's RecordVersions."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from trustledger.domain.record import RecordAction, RecordVersion

RECORDED = datetime(2000, 1, 1, tzinfo=UTC)


def read(directory: Path, table: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for part in sorted((directory / table).glob("*.parquet")):
        rows.extend(pq.read_table(part).to_pylist())
    return rows


def record_versions(rows: list[dict[str, Any]]) -> dict[int, list[RecordVersion]]:
    """subject_id -> its records, as the store would hand them to the evaluator."""
    out: dict[int, list[RecordVersion]] = defaultdict(list)
    for r in rows:
        out[r["subject_id"]].append(
            RecordVersion(
                record_id=r["record_id"],
                version=r["version"],
                subject_id=r["subject_id"],
                record_type=r["record_type"],
                provider=r["provider"],
                valid_from=r["valid_from"],
                recorded_at=RECORDED,
                action=RecordAction(r["action"]),
                valid_to=r["valid_to"],
                disputed=r["disputed"],
                review_overdue=r["review_overdue"],
                repaired_on=r["repaired_on"],
                dispute_settled=r["dispute_settled"],
            )
        )
    return out
