"""The batch engines' input: a population as Parquet, in two directories::

    DIR/subjects/*.parquet   subject_id int64, kind string ("person" | "organisation")
    DIR/records/*.parquet    one row per record: the version current as known at the time
                             the population was exported (retractions included, so an
                             engine can say why they do not count)

Other files in ``DIR`` are left alone: a simulation keeps its demographic attributes in
``DIR/demographics/`` precisely so that no engine reads them. ``trustledger export
--parquet DIR`` writes this layout from the store; ``trustledger demo --out DIR`` and
``trustledger simulate`` write it from a synthetic population, streaming, one part file
per chunk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pyarrow as pa

__all__ = [
    "RECORDS",
    "RECORD_SCHEMA",
    "SUBJECTS",
    "SUBJECT_SCHEMA",
    "parts",
]

SUBJECTS: Final = "subjects"
RECORDS: Final = "records"

SUBJECT_SCHEMA: Final = pa.schema(
    [
        pa.field("subject_id", pa.int64(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
    ]
)

RECORD_SCHEMA: Final = pa.schema(
    [
        pa.field("subject_id", pa.int64(), nullable=False),
        pa.field("record_id", pa.int64(), nullable=False),
        pa.field("version", pa.int32(), nullable=False),
        pa.field("record_type", pa.string(), nullable=False),
        pa.field("provider", pa.string(), nullable=False),
        pa.field("valid_from", pa.date32(), nullable=False),
        pa.field("valid_to", pa.date32()),
        pa.field("repaired_on", pa.date32()),
        # "create" | "correct" | "retract" | "expire" (trustledger.domain.record.RecordAction)
        pa.field("action", pa.string(), nullable=False),
        pa.field("disputed", pa.bool_(), nullable=False),
        pa.field("review_overdue", pa.bool_(), nullable=False),
        pa.field("dispute_settled", pa.bool_(), nullable=False),
    ]
)


def parts(directory: Path, table: str) -> list[Path]:
    """The Parquet part files of ``table`` ("subjects" or "records") under ``directory``,
    sorted; a clear error when there are none."""
    found = sorted((directory / table).glob("*.parquet"))
    if not found:
        raise FileNotFoundError(
            f"{directory / table}: no Parquet files; a batch input directory holds "
            f"{SUBJECTS}/*.parquet and {RECORDS}/*.parquet (see `trustledger export --parquet`)"
        )
    return found
