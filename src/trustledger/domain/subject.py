"""Subjects: the persons and organisations a registry keeps files on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

__all__ = ["Identifier", "Subject", "SubjectId", "SubjectKind"]

SubjectId = int


class SubjectKind(StrEnum):
    PERSON = "person"
    ORGANISATION = "organisation"


@dataclass(frozen=True, slots=True)
class Identifier:
    """A validated, normalised identifier such as a USCC or a resident identity number."""

    kind: str
    value: str


@dataclass(frozen=True, slots=True)
class Subject:
    id: SubjectId
    kind: SubjectKind
    name: str
    created_at: datetime
    birth_date: date | None = None
    region: str | None = None
    identifiers: tuple[Identifier, ...] = field(default_factory=tuple)
