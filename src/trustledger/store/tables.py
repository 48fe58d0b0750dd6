"""The database schema, in SQLAlchemy 2 Core. Alembic migrations create exactly this.

Append-only by design: no statement in ``store/`` updates or deletes a row of
``policy_versions``, ``records``, ``record_versions``, ``score_runs`` or ``scores``. A
correction is a new row in ``record_versions``; a new policy text is a new row in
``policy_versions``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = [
    "UTCDateTime",
    "api_batches",
    "api_keys",
    "audit_events",
    "audit_keys",
    "audit_nodes",
    "audit_state",
    "case_events",
    "cases",
    "current_list_entries",
    "current_scores",
    "decision_records",
    "decisions",
    "evidence",
    "identity_decisions",
    "identity_models",
    "identity_profiles",
    "ingest_batches",
    "metadata",
    "notifications",
    "policy_versions",
    "quarantine_files",
    "record_sources",
    "record_versions",
    "records",
    "score_list_entries",
    "score_runs",
    "scores",
    "subject_identifiers",
    "subjects",
]


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC as a naive timestamp on every backend and gives back aware UTC datetimes.

    SQLite has no time zones and PostgreSQL's ``timestamptz`` converts to the session's
    zone; storing naive UTC makes both behave the same and compare correctly as text.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # pragma: no cover - SQLite returns datetime via the type
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


naming = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=naming)

# BigInteger ids on PostgreSQL, INTEGER PRIMARY KEY (the rowid) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")

policy_versions = Table(
    "policy_versions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("filename", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("loaded_at", UTCDateTime, nullable=False),
    UniqueConstraint("name", "version", name="uq_policy_versions_name_version"),
    UniqueConstraint("name", "sha256", name="uq_policy_versions_name_sha256"),
)

subjects = Table(
    "subjects",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),
    Column("name", Text, nullable=False),
    Column("birth_date", Date, nullable=True),
    Column("region", String(12), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
    # Set when the subject's personal data was erased where the law requires it: the row
    # stays as a pseudonymous tombstone, so the audit log's subject ids still mean one
    # (unnamed) subject.
    Column("erased_at", UTCDateTime, nullable=True),
    # Set when an identity decision merged this subject into another (issue 4): its
    # records moved there by new versions; lookups skip it; a split clears it again.
    Column("merged_into", Id, ForeignKey("subjects.id"), nullable=True),
)

subject_identifiers = Table(
    "subject_identifiers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("subject_id", Id, ForeignKey("subjects.id"), nullable=False, index=True),
    Column("kind", String(40), nullable=False),
    Column("value", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("kind", "value", name="uq_subject_identifiers_kind_value"),
    # Lookups by value alone ("who is 9144...?") do not know the kind.
    Index("ix_subject_identifiers_value", "value"),
)

# The identity of a record: who reported it under which reference. Never changes.
records = Table(
    "records",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("provider", String(100), nullable=False),
    Column("reference", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("provider", "reference", name="uq_records_provider_reference"),
)

# Every version of every record; the latest version known at time K is the record "as of K".
record_versions = Table(
    "record_versions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("record_id", Id, ForeignKey("records.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("action", String(10), nullable=False),
    Column("subject_id", Id, ForeignKey("subjects.id"), nullable=False),
    Column("record_type", String(100), nullable=False),
    Column("provider", String(100), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=True),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("amount", Numeric(18, 2), nullable=True),
    Column("note", Text, nullable=True),
    Column("batch", String(100), nullable=True),
    # Credit repair approved: from this day on the record no longer counts or lists.
    Column("repaired_on", Date, nullable=True),
    UniqueConstraint("record_id", "version", name="uq_record_versions_record_id_version"),
    Index("ix_record_versions_subject_id", "subject_id"),
)

score_runs = Table(
    "score_runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("policy_version_id", Id, ForeignKey("policy_versions.id"), nullable=False),
    Column("as_of", Date, nullable=False),
    Column("known_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("subjects", Integer, nullable=False),
    Column("records", Integer, nullable=False),
)

scores = Table(
    "scores",
    metadata,
    Column("run_id", Id, ForeignKey("score_runs.id"), primary_key=True),
    Column("subject_id", Id, ForeignKey("subjects.id"), primary_key=True),
    Column("score_cents", BigInteger, nullable=False),
    Column("grade", String(8), nullable=False),
    Index("ix_scores_run_id_grade", "run_id", "grade"),
)

score_list_entries = Table(
    "score_list_entries",
    metadata,
    Column("run_id", Id, ForeignKey("score_runs.id"), primary_key=True),
    Column("subject_id", Id, ForeignKey("subjects.id"), primary_key=True),
    Column("list", String(100), primary_key=True),
    Column("rule", String(100), primary_key=True),
    Column("since", Date, nullable=False),
    Column("until", Date, nullable=True),
    Column("public", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Index("ix_score_list_entries_run_id_list", "run_id", "list"),
)


# -- The HTTP service (issue 5) ----------------------------------------------------------

# A principal's API key. The secret is never stored: only its SHA-256 (a random 256-bit
# secret needs no slow hash). Revocation sets revoked_at; nothing is ever deleted.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key_id", String(32), nullable=False),
    Column("secret_sha256", String(64), nullable=False),
    Column("role", String(20), nullable=False),
    Column("provider", String(100), nullable=True),
    Column("measures", Text, nullable=True),  # JSON list, relying parties only
    Column("subject_id", Id, ForeignKey("subjects.id"), nullable=True),
    Column("label", Text, nullable=False),
    Column("rate_per_second", Integer, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    # Where notifications to this principal are POSTed (Standard Webhooks, signed with
    # the secret, which is kept because signing needs it).
    Column("webhook_url", Text, nullable=True),
    Column("webhook_secret", String(80), nullable=True),
    UniqueConstraint("key_id", name="uq_api_keys_key_id"),
)

# A provider's batch sent over HTTP, by its idempotency key: the same key and body again
# answer the first response and store nothing; the same key with another body is refused.
api_batches = Table(
    "api_batches",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("provider", String(100), nullable=False),
    Column("idempotency_key", String(200), nullable=False),
    Column("body_sha256", String(64), nullable=False),
    Column("response", Text, nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    UniqueConstraint("provider", "idempotency_key", name="uq_api_batches_provider_idempotency_key"),
)

# A decision on a measure for a subject, with the reasons and the record versions it
# rests on (so that a later correction can reach whoever received it).
decisions = Table(
    "decisions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("made_at", UTCDateTime, nullable=False),
    Column("as_of", Date, nullable=False),
    Column("subject_id", Id, ForeignKey("subjects.id"), nullable=False),
    Column("measure", String(100), nullable=False),
    Column("purpose", String(100), nullable=False),
    Column("outcome", String(30), nullable=False),
    Column("measure_score_cents", BigInteger, nullable=False),
    Column("measure_grade", String(8), nullable=False),
    Column("body", Text, nullable=False),  # the whole response as JSON
    Column("record_versions", Text, nullable=False),  # JSON [[record_id, version], ...]
    Column("policy_version_id", Id, ForeignKey("policy_versions.id"), nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("request_id", String(64), nullable=False),
    # The decision made again, after a record it rests on was corrected or retracted.
    Column("superseded_by", String(40), nullable=True),
    Index("ix_decisions_subject_id", "subject_id"),
)

# The records a decision rests on, for finding who must hear of a correction.
decision_records = Table(
    "decision_records",
    metadata,
    Column("decision_id", String(40), ForeignKey("decisions.id"), primary_key=True),
    Column("record_id", Id, ForeignKey("records.id"), primary_key=True),
    Column("record_version", Integer, nullable=False),
    Index("ix_decision_records_record_id", "record_id"),
)

# The audit log: one row per event, the leaves of an RFC 6962 Merkle tree in ``seq``
# order (0, 1, 2, ...). Each row also holds the signed tree head of the tree that ends
# with it, so ``audit verify`` can name the first event that no longer matches.
audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("key_id", String(32), nullable=True),
    Column("role", String(20), nullable=False),
    Column("purpose", String(100), nullable=True),
    Column("action", String(64), nullable=False),
    # No foreign key: the trail outlives a subject's erased personal data.
    Column("subject_id", BigInteger, nullable=True),
    Column("detail", Text, nullable=False),  # canonical JSON
    Column("root", LargeBinary(32), nullable=False),
    Column("signed_at_ms", BigInteger, nullable=False),
    Column("signature", LargeBinary(64), nullable=False),
    Index("ix_audit_events_subject_id", "subject_id"),
)

# Hashes of the tree's perfect subtrees: level 0 are leaf hashes, a node at level L and
# index i covers leaves [i * 2**L, (i + 1) * 2**L). Proofs are read from here.
audit_nodes = Table(
    "audit_nodes",
    metadata,
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    # The event whose append completed this subtree.
    Column("seq", BigInteger, nullable=False),
)

# One row (id = 1): the tree's size, its right edge (the peaks of its perfect subtrees)
# and the newest head's time, locked by every append so that appends form one sequence.
audit_state = Table(
    "audit_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
    Column("frontier", LargeBinary, nullable=False),
    # When the newest tree head was signed: the next one is never signed earlier.
    Column("signed_at_ms", BigInteger, nullable=False),
)

# The public key the log is signed with, pinned at the first append.
audit_keys = Table(
    "audit_keys",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("public_key", LargeBinary(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)


# -- Subject rights (issue 6) -------------------------------------------------------------

# A review case: a subject's objection to a record, or its request for credit repair.
# The row holds the case's current state; every change is also a row of case_events and
# an audit event. A record is disputed from opened_at until decided_at (recorded time), so
# "as known at K" questions see the dispute exactly when it was known.
cases = Table(
    "cases",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(20), nullable=False),  # objection | repair
    Column("subject_id", Id, ForeignKey("subjects.id"), nullable=False),
    Column("record_id", Id, ForeignKey("records.id"), nullable=False),
    Column("record_version", Integer, nullable=False),
    Column("provider", String(100), nullable=False),
    Column("record_type", String(100), nullable=False),
    Column("reason", Text, nullable=False),
    # Repair: the day the obligation was fulfilled, as the subject states and proves it.
    Column("fulfilled_on", Date, nullable=True),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("opened_by", String(64), nullable=False),
    Column("deadline", UTCDateTime, nullable=False),
    # open -> assigned -> awaiting_provider -> assigned ... -> decided
    Column("status", String(20), nullable=False),
    Column("assigned_to", String(64), nullable=True),
    # objection: upheld | corrected | retracted; repair: approved | refused
    Column("outcome", String(20), nullable=True),
    Column("decided_at", UTCDateTime, nullable=True),
    Column("decided_by", String(64), nullable=True),
    Column("decision_reason", Text, nullable=True),
    # The record version the decision wrote (corrected, retracted, repaired).
    Column("result_version", Integer, nullable=True),
    Index("ix_cases_record_id", "record_id"),
    Index("ix_cases_subject_id", "subject_id"),
    Index("ix_cases_status_deadline", "status", "deadline"),
)

# Everything that happened to a case, in order. Append-only.
case_events = Table(
    "case_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("case_id", String(40), ForeignKey("cases.id"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),  # key id, or cli:<user>, or maintain
    Column("role", String(20), nullable=False),
    Column("action", String(40), nullable=False),
    Column("detail", Text, nullable=False),  # JSON
    Index("ix_case_events_case_id", "case_id"),
)

# A file given as evidence in a case (erasure deletes it with the case).
evidence = Table(
    "evidence",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("case_id", String(40), ForeignKey("cases.id"), nullable=False),
    Column("filename", Text, nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("data", LargeBinary, nullable=True),
    Column("uploaded_at", UTCDateTime, nullable=False),
    Column("uploaded_by", String(64), nullable=False),
    Column("role", String(20), nullable=False),
    Index("ix_evidence_case_id", "case_id"),
)

# The outbox: what a principal must be told (a decision made again after a correction, a
# provider asked for evidence). Stored in the transaction that caused it; delivered by
# webhook with retries by ``trustledger maintain`` and ``serve``; readable through the API
# whether or not a webhook is set.
notifications = Table(
    "notifications",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("key_id", String(32), nullable=False),  # the recipient
    Column("subject_id", BigInteger, nullable=True),
    Column("kind", String(40), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("payload", Text, nullable=False),  # JSON
    # pending -> delivered | failed (retries exhausted) | none (no webhook: API only)
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("delivered_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_notifications_key_id", "key_id"),
    Index("ix_notifications_subject_id", "subject_id"),
    Index("ix_notifications_status_next_attempt_at", "status", "next_attempt_at"),
)

# Each subject's score, grade and list entries now: rebuilt whole by a score run, and
# per subject whenever a review, a repair or ``maintain`` changes its file. The public
# register's lists read this; score_runs and scores keep the history.
current_scores = Table(
    "current_scores",
    metadata,
    Column("subject_id", Id, ForeignKey("subjects.id"), primary_key=True),
    Column("score_cents", BigInteger, nullable=False),
    Column("grade", String(8), nullable=False),
    Column("as_of", Date, nullable=False),
    Column("known_at", UTCDateTime, nullable=False),
    Column("policy_version_id", Id, ForeignKey("policy_versions.id"), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

current_list_entries = Table(
    "current_list_entries",
    metadata,
    Column("subject_id", Id, ForeignKey("subjects.id"), primary_key=True),
    Column("list", String(100), primary_key=True),
    Column("rule", String(100), primary_key=True),
    Column("since", Date, nullable=False),
    Column("until", Date, nullable=True),
    Column("public", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Index("ix_current_list_entries_list", "list"),
)

# Web sign-in (web/pages): a browser session stands for one API key. Only the SHA-256 of
# the session's cookie and of a one-time sign-in code is stored. Ending a session (sign
# out) or revoking its key ends it at once: the key is looked up on every request.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id_sha256", String(64), primary_key=True),
    Column("key_id", String(32), nullable=False),
    # A token kept with the session that every form and htmx request must send back.
    Column("csrf", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
    Index("ix_web_sessions_key_id", "key_id"),
)

signin_codes = Table(
    "signin_codes",
    metadata,
    Column("code_sha256", String(64), primary_key=True),
    Column("key_id", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
)


# -- Ingestion (issue 4) -------------------------------------------------------------------

# Every batch a provider's file was ingested as (or refused as): accepted batches land
# with their records in one transaction; a refused one is kept in quarantine with its
# report and its file (quarantine_files) until a retry accepts it. ``batch`` is the label
# its record versions carry. status: accepted | quarantined | retried (a later attempt
# re-ran it: the row whose retry_of names it).
ingest_batches = Table(
    "ingest_batches",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("batch", String(100), nullable=False),
    Column("provider", String(100), nullable=False),
    # The provider's own id for the batch (--batch-id), when it gave one.
    Column("batch_key", String(200), nullable=True),
    Column("source", Text, nullable=False),  # the file as it was named
    Column("file_sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("format", String(10), nullable=False),
    Column("encoding", String(40), nullable=True),
    Column("delimiter", String(4), nullable=True),
    Column("mapping_source", Text, nullable=True),
    Column("mapping_sha256", String(64), nullable=True),
    Column("mapping_text", Text, nullable=True),
    Column("policy_version_id", Id, ForeignKey("policy_versions.id"), nullable=False),
    Column("status", String(20), nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("stored", BigInteger, nullable=False),
    Column("problems", BigInteger, nullable=False),
    Column("report", Text, nullable=False),  # JSON: the counts, problems and notices
    Column("received_at", UTCDateTime, nullable=False),
    Column("received_by", String(64), nullable=False),
    Column("retry_of", Id, ForeignKey("ingest_batches.id"), nullable=True),
    Index("ix_ingest_batches_provider_file_sha256", "provider", "file_sha256"),
    Index("ix_ingest_batches_status", "status"),
    Index("ix_ingest_batches_received_at", "received_at"),
)

# A quarantined batch's file: its bytes, or (for a file too large to keep) the path it
# was read from, whose SHA-256 a retry checks against ingest_batches.file_sha256.
quarantine_files = Table(
    "quarantine_files",
    metadata,
    Column("batch_id", Id, ForeignKey("ingest_batches.id"), primary_key=True),
    Column("data", LargeBinary, nullable=True),
    Column("path", Text, nullable=True),
)

# The sources of a record whose provider's mapping declares dedupe keys: the record's
# own provider, and every other provider that reported the same fact (the same
# fact_key), which is stored once. ``differences`` holds what a later source said
# otherwise (JSON, field -> its value); the record keeps its first source's facts.
record_sources = Table(
    "record_sources",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("record_id", Id, ForeignKey("records.id"), nullable=False),
    Column("provider", String(100), nullable=False),
    Column("reference", String(200), nullable=False),
    Column("fact_key", String(300), nullable=False),
    Column("batch", String(100), nullable=False),
    Column("linked_at", UTCDateTime, nullable=False),
    Column("differences", Text, nullable=True),
    UniqueConstraint("provider", "reference", name="uq_record_sources_provider_reference"),
    Index("ix_record_sources_fact_key", "fact_key"),
    Index("ix_record_sources_record_id", "record_id"),
)

# -- Identity resolution (issue 4) ---------------------------------------------------------

# What a subject is matched on: one row per source of its attributes, the subject's own
# registration (registration_of) or a record resolved to it (record_id). An index, not
# history: a merge or a split moves rows with their records, erasure deletes them.
identity_profiles = Table(
    "identity_profiles",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("subject_id", Id, ForeignKey("subjects.id"), nullable=False, index=True),
    Column("record_id", Id, nullable=True),
    Column("registration_of", Id, nullable=True),
    Column("kind", String(20), nullable=False),
    Column("name", Text, nullable=False),
    # Toneless pinyin of the name (resolve/names.py), what blocking looks up.
    Column("name_key", String(200), nullable=False, index=True),
    Column("birth_date", Date, nullable=True, index=True),
    Column("address", Text, nullable=True),
    Column("phone", String(40), nullable=True, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("record_id", name="uq_identity_profiles_record_id"),
    UniqueConstraint("registration_of", name="uq_identity_profiles_registration_of"),
)

# Every identity decision, append-only: a record attached to a subject (by identifier,
# legacy identifier, or match), a record queued for review, a review accepted or
# rejected, a merge, a split. Undoing a decision never edits it: the decision that undoes
# it sets ended_at and ended_by once (a soft-deleted edge) and is a row of its own.
identity_decisions = Table(
    "identity_decisions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # attach | review | accept | reject | merge | split
    Column("kind", String(12), nullable=False),
    # For the resolver's decisions: identifier | legacy | accepted | review | new
    Column("outcome", String(12), nullable=True),
    Column("record_id", Id, ForeignKey("records.id"), nullable=True),
    # The subject the decision attaches to (the survivor of a merge).
    Column("subject_id", Id, ForeignKey("subjects.id"), nullable=False),
    # The candidate of a match, the subject merged away, the subject split off.
    Column("other_subject_id", Id, ForeignKey("subjects.id"), nullable=True),
    Column("match_weight", Float, nullable=True),
    Column("match_probability", Float, nullable=True),
    Column("explanation", Text, nullable=False),  # JSON: per-field comparison and weight
    Column("evidence", Text, nullable=False),  # JSON: reason, model, records moved, ...
    Column("decided_at", UTCDateTime, nullable=False),
    Column("decided_by", String(64), nullable=False),
    Column("role", String(20), nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("ended_by", Id, nullable=True),
    Index("ix_identity_decisions_kind_ended_at", "kind", "ended_at"),
    Index("ix_identity_decisions_record_id", "record_id"),
    Index("ix_identity_decisions_subject_id", "subject_id"),
    Index("ix_identity_decisions_other_subject_id", "other_subject_id"),
)

# Trained matching models (Splink settings JSON), loaded from the file the operator ships;
# the newest one loaded is in force unless the policy pins another by its SHA-256.
identity_models = Table(
    "identity_models",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("sha256", String(64), nullable=False),
    Column("filename", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("loaded_at", UTCDateTime, nullable=False),
    Column("loaded_by", String(64), nullable=False),
    UniqueConstraint("sha256", name="uq_identity_models_sha256"),
)
