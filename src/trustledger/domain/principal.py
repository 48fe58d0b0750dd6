"""Who is asking: principals, their roles, and the purpose they state.

A principal is whoever holds an API key. Its role fixes what it may do (see the matrix in
``docs/api.md``); a provider key is bound to one provider, a relying-party key to the
measures it is registered for, and a subject key to one subject.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from trustledger.domain.subject import SubjectId

__all__ = [
    "ANONYMOUS",
    "BUILTIN_PURPOSES",
    "Actor",
    "Principal",
    "Role",
]


class Role(StrEnum):
    OPERATOR = "operator"
    PROVIDER = "provider"
    RELYING_PARTY = "relying_party"
    REVIEWER = "reviewer"
    SUBJECT = "subject"
    PUBLIC = "public"

    @property
    def with_article(self) -> str:
        """``an operator``, ``a reviewer``: for messages."""
        return f"{'an' if self.value[0] in 'aeiou' else 'a'} {self.value}"


#: Purposes of the registry's own people, beside the policy's purposes for relying
#: parties. An operator or reviewer names one of the first two on every read of a
#: subject's data; a subject reading its own data is logged with ``data_subject_access``.
BUILTIN_PURPOSES: Final[dict[str, str]] = {
    "registry_administration": "Running the registry: data quality, support, supervision.",
    "objection_review": "Reviewing an objection or a repair request.",
    "data_subject_access": "A subject reading its own file.",
}


@dataclass(frozen=True, slots=True)
class Principal:
    """The holder of an API key (or nobody: :data:`ANONYMOUS`)."""

    key_id: str | None
    role: Role
    label: str = ""
    provider: str | None = None
    measures: tuple[str, ...] = ()
    subject_id: SubjectId | None = None
    #: Requests per second this key may make; ``None`` means the server's default.
    rate_per_second: int | None = None

    @property
    def scope(self) -> str:
        """What the key is bound to, for people: a provider, measures, a subject, or ""."""
        if self.provider:
            return self.provider
        if self.measures:
            return ",".join(self.measures)
        return f"subject {self.subject_id}" if self.subject_id is not None else ""


ANONYMOUS: Final = Principal(key_id=None, role=Role.PUBLIC, label="anonymous")


@dataclass(frozen=True, slots=True)
class Actor:
    """A principal acting in one request: what the audit log records as "who"."""

    principal: Principal
    request_id: str
    purpose: str | None = None

    @property
    def key_id(self) -> str | None:
        return self.principal.key_id

    def with_purpose(self, purpose: str | None) -> Actor:
        """The same principal and request, logged with ``purpose``."""
        return Actor(self.principal, self.request_id, purpose)

    @property
    def role(self) -> Role:
        return self.principal.role
