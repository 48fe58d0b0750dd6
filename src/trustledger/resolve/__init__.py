"""Identity resolution: which subject a record without a usable identifier is about.

The contract with ingestion (see ``docs/identity.md``): for each row whose subject
identifier is missing or fails validation, ingestion builds a :class:`Candidate` and
calls :func:`resolve_candidates` in the batch's transaction. Each result is either a
:class:`~trustledger.errors.RowProblem` (the row is refused) or a :class:`Resolution`
whose ``subject_id`` is the subject to attach the record to now. Once the records are
inserted, ingestion calls :func:`record_links` with ``(record_id, resolution)`` pairs,
which stores the identity decisions and the review-queue entries.
"""

from trustledger.resolve.resolver import Candidate, Resolution, record_links, resolve_candidates

__all__ = ["Candidate", "Resolution", "record_links", "resolve_candidates"]
