"""Synthetic populations for demos and benchmarks: deterministic, fast, stdlib only.

>>> from datetime import date
>>> from trustledger.synth import generate
>>> population = generate(100, seed=42, as_of=date(2025, 6, 30))
>>> population.subjects[0].id_kind
'cn_ric'
"""

from trustledger.synth.population import (
    DEFAULT_RECORDS_PER_SUBJECT,
    FIELDS,
    PROVIDERS,
    RECORD_TYPES,
    WINDOW_MONTHS,
    Population,
    ProviderSpec,
    RecordTypeSpec,
    SyntheticRecord,
    SyntheticSubject,
    generate,
    read_provider_file,
    record_row,
    write_provider_files,
)

__all__ = [
    "DEFAULT_RECORDS_PER_SUBJECT",
    "FIELDS",
    "PROVIDERS",
    "RECORD_TYPES",
    "WINDOW_MONTHS",
    "Population",
    "ProviderSpec",
    "RecordTypeSpec",
    "SyntheticRecord",
    "SyntheticSubject",
    "generate",
    "read_provider_file",
    "record_row",
    "write_provider_files",
]
