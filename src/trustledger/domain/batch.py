"""The fields of a provider's batch file (CSV columns or JSON Lines keys).

``service/ingest.py`` reads them; the synthetic population writes them. See the table in
``docs/cli.md`` (section "ingest") for what each field means.
"""

from __future__ import annotations

from typing import Final

__all__ = ["BATCH_FIELDS", "REQUIRED_COLUMNS"]

BATCH_FIELDS: Final = (
    "reference",
    "action",
    "subject_id_kind",
    "subject_id",
    "subject_name",
    "record_type",
    "valid_from",
    "valid_to",
    "amount",
    "note",
)
#: A CSV header must name these (a retraction row may leave the last four empty).
REQUIRED_COLUMNS: Final = (
    "reference",
    "record_type",
    "valid_from",
    "subject_id_kind",
    "subject_id",
)
