"""Reading providers' files their own way: mappings, readers and row checks.

* :mod:`~trustledger.ingest.mapping`: a provider's mapping file (TOML) from its columns,
  codes and units to trustledger's fields, and the dedupe keys of its facts;
* :mod:`~trustledger.ingest.readers`: CSV (encoding and delimiter detected or declared),
  JSON Lines and Parquet, read in chunks so that memory stays flat;
* :mod:`~trustledger.ingest.check`: a chunk mapped and checked column by column.

No database and no clock here: ``trustledger.service.ingest`` stores what these read, in
one transaction per batch, and keeps refused batches in quarantine.
"""

from trustledger.ingest.check import Checked, Layout, RowChecker
from trustledger.ingest.mapping import NATIVE, FieldSpec, Mapping, MappingError, load_mapping
from trustledger.ingest.readers import Chunk, Reader, open_reader

__all__ = [
    "NATIVE",
    "Checked",
    "Chunk",
    "FieldSpec",
    "Layout",
    "Mapping",
    "MappingError",
    "Reader",
    "RowChecker",
    "load_mapping",
    "open_reader",
]
