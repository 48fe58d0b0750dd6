"""Errors raised by trustledger.

Every error says what is wrong and where: the file and line of a policy, the field of an
identifier, the FILE:LINE:FIELD of every bad row of a batch. Each carries the HTTP status the
web layer answers with, so routers map errors without a table of their own.

The tree::

    TrustledgerError                      (500)
     +-- InvalidInput                     (422)
     |    +-- FieldError                  field, reason (one field of a request)
     |    +-- IdentifierError             field, reason
     |    +-- DurationError               value, reason
     |    +-- PolicyError                 problems: list[PolicyProblem] (FILE:LINE: reason)
     |    +-- BatchRejected               problems: list[RowProblem] (FILE:LINE:FIELD: reason)
     +-- Unauthenticated                  (401) no key, or an unknown or revoked one
     +-- Forbidden                        (403) the principal may not do this
     +-- NotFound                         (404)
     +-- Conflict                         (409)
     +-- RateLimited                      (429) retry_after seconds
     +-- StoreError                       (500) the database is missing, old or unreachable
     +-- AuditError                       (500) the audit log does not verify
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "AuditError",
    "BatchRejected",
    "Conflict",
    "DurationError",
    "FieldError",
    "Forbidden",
    "IdentifierError",
    "InvalidInput",
    "NotFound",
    "PolicyError",
    "PolicyProblem",
    "RateLimited",
    "RowProblem",
    "StoreError",
    "TrustledgerError",
    "Unauthenticated",
]


class TrustledgerError(Exception):
    """Base of every error trustledger raises on purpose."""

    http_status: int = 500


class InvalidInput(TrustledgerError):
    """Input was refused; nothing was stored."""

    http_status = 422


class FieldError(InvalidInput):
    """Bad input in one named field of a request; the web layer answers 422 naming it.

    >>> str(FieldError("purpose", "required"))
    'purpose: required'
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class IdentifierError(InvalidInput, ValueError):
    """An identifier failed validation.

    >>> str(IdentifierError("uscc", "check character is 'X', expected '3'"))
    "uscc: check character is 'X', expected '3'"
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class DurationError(InvalidInput, ValueError):
    """A duration such as ``"5y"`` or ``"18m"`` could not be read."""

    def __init__(self, value: object, reason: str) -> None:
        self.value = value
        self.reason = reason
        super().__init__(f"invalid duration {value!r}: {reason}")


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    """One problem in a policy file, located as FILE:LINE."""

    file: str
    line: int | None
    reason: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.reason}"


class PolicyError(InvalidInput):
    """A policy file could not be loaded or was refused by the linter."""

    def __init__(self, problems: list[PolicyProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One bad row of a batch, located as FILE:LINE:FIELD."""

    file: str
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.field}: {self.reason}"


class BatchRejected(InvalidInput):
    """A batch was refused whole; ``problems`` lists every bad row."""

    def __init__(self, problems: list[RowProblem], *, total_rows: int | None = None) -> None:
        self.problems = problems
        self.total_rows = total_rows
        head = f"batch rejected: {len(problems)} problem(s)"
        if total_rows is not None:
            head += f" in {total_rows} row(s); nothing was stored"
        super().__init__("\n".join([head, *(str(p) for p in problems)]))


class Unauthenticated(TrustledgerError):
    """No credentials, or credentials the registry does not accept."""

    http_status = 401


class Forbidden(TrustledgerError):
    """The principal is known but may not do this; the message says why."""

    http_status = 403


class _Named(TrustledgerError):
    """An error whose message may start with the request field it is about, as a
    :class:`FieldError`'s does: ``"record_id: subject 7 has no record 12"`` has
    ``field == "record_id"`` (the web layer answers it in ``field``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        head, sep, _ = message.partition(": ")
        self.field: str | None = head if sep and _FIELD.fullmatch(head) else None


_FIELD = re.compile(r"[a-z][a-z_]*(\.[a-z_]+)*")


class NotFound(_Named, LookupError):
    """The subject, record, policy or version asked for does not exist.

    >>> NotFound("case: no case 'obj_1'").field
    'case'
    """

    http_status = 404


class Conflict(_Named):
    """The request conflicts with what is stored."""

    http_status = 409


class StoreError(TrustledgerError):
    """The database is missing, not initialised, or unreachable."""

    http_status = 500


class RateLimited(TrustledgerError):
    """Too many requests from one key; try again after ``retry_after`` seconds."""

    http_status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class AuditError(TrustledgerError):
    """The audit log does not verify, or cannot be appended to.

    ``seq`` names the first bad event when there is one.
    """

    http_status = 500

    def __init__(self, message: str, *, seq: int | None = None) -> None:
        self.seq = seq
        super().__init__(message)
