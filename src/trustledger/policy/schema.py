"""The policy file as typed data: what is scored, how much, for how long, and what follows.

``docs/policy.md`` documents every key; this module is its source of truth. A policy is
immutable once loaded (every model is frozen). Points are decimals with at most two
places; the evaluator works in hundredths ("cents") so sums are exact.

Structural checks (types, required keys, unknown keys) are pydantic's; cross-references
(a record type naming an unknown domain, a list rule naming an unknown record type, ...)
are :func:`check_references`, which returns key paths so the loader can name the line.
"""

from __future__ import annotations

import re
import typing
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationInfo,
    field_validator,
    model_validator,
)

from trustledger.domain.duration import Duration
from trustledger.domain.identifiers import BUILTIN_KINDS, normalise
from trustledger.domain.subject import SubjectKind

__all__ = [
    "FORMAT_VERSION",
    "RATINGS",
    "Decay",
    "Domain",
    "DurationField",
    "GradeBand",
    "IdentifierType",
    "IdentitySettings",
    "LegacyIdentifier",
    "ListDef",
    "ListRule",
    "Measure",
    "MeasureWhen",
    "Path",
    "Policy",
    "PolicyHeader",
    "Provider",
    "RecordType",
    "check_references",
    "translatable_texts",
]

FORMAT_VERSION = 1

#: The ratings a public inspection result may show, best first.
Rating = Literal["excellent", "good", "fair", "poor"]
RATINGS: tuple[str, ...] = typing.get_args(Rating)

#: A key path inside the policy document, e.g. ``("record_types", "loan_default", "points")``.
Path = tuple[str | int, ...]

DurationField = Annotated[Duration, PlainValidator(Duration.parse), PlainSerializer(str)]
Points = Annotated[Decimal, Field(decimal_places=2, allow_inf_nan=False)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PolicyHeader(_Model):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str
    jurisdiction: str = ""
    format_version: Literal[1] = 1
    base_score: Points
    min_score: Points | None = None
    max_score: Points | None = None
    #: How long a reviewer has to decide an objection before the record stops counting.
    review_period: DurationField = Duration(days=30)
    #: The jurisdiction's time zone (IANA name): what "today" means for its providers.
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f'unknown time zone {value!r}: use an IANA name such as "Asia/Shanghai"'
            ) from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @model_validator(mode="after")
    def _bounds(self) -> PolicyHeader:
        if self.min_score is not None and self.min_score > self.base_score:
            raise ValueError("min_score must not be above base_score")
        if self.max_score is not None and self.max_score < self.base_score:
            raise ValueError("max_score must not be below base_score")
        return self


class GradeBand(_Model):
    grade: str = Field(min_length=1, max_length=8)
    #: The lowest score that earns this grade; the last (lowest) band leaves it out.
    min_score: Points | None = None
    meaning: str = ""


class Domain(_Model):
    title: str
    description: str = ""
    #: The domain's total may not fall below this (a negative number), e.g. -300.
    cap_negative: Points | None = Field(default=None, le=0)
    #: The domain's total may not rise above this (a positive number), e.g. 50.
    cap_positive: Points | None = Field(default=None, ge=0)


class Decay(_Model):
    kind: Literal["none", "half_life", "linear"] = "none"
    #: Half-life, or the time a linear decay takes to reach zero.
    period: DurationField | None = None

    @model_validator(mode="after")
    def _period(self) -> Decay:
        if self.kind != "none" and self.period is None:
            raise ValueError(f'decay kind {self.kind!r} needs a period, such as "2y"')
        if self.kind == "none" and self.period is not None:
            raise ValueError("decay kind 'none' takes no period")
        return self


class RecordType(_Model):
    domain: str
    title: str
    description: str = ""
    applies_to: tuple[SubjectKind, ...] = Field(
        default=(SubjectKind.PERSON, SubjectKind.ORGANISATION), min_length=1
    )
    points: Points
    decay: Decay = Decay()
    #: How long after ``valid_from`` the record counts; after that it contributes nothing.
    counts_for: DurationField
    #: How long the record stays in the subject's file (at least ``counts_for``).
    retention: DurationField | None = None
    #: The law or rule under which this fact is recorded at all.
    legal_basis: str = Field(min_length=1)
    #: Whether a record under objection keeps counting until the review decides.
    disputed_counts: bool = False
    #: Waiting period after the obligation is fulfilled before repair may be asked.
    repair_after: DurationField | None = None
    #: Whether records of this type appear on the public register (organisations only).
    public: bool = False
    #: The rating an inspection result of this type shows on the organisation's public
    #: page (the latest rated record of each domain: a door sign). Public types only.
    rating: Rating | None = None

    @field_validator("rating")
    @classmethod
    def _rating_is_public(cls, value: Rating | None, info: ValidationInfo) -> Rating | None:
        # ``public`` comes first, so it is validated (or defaulted) by now; when it was
        # refused, that problem is reported on its own.
        if value is not None and info.data.get("public") is False:
            raise ValueError(
                "a rating is shown on the public register: only a record type with "
                "public = true may have one"
            )
        return value

    @model_validator(mode="after")
    def _retention(self) -> RecordType:
        if self.retention is not None and self.retention < self.counts_for:
            raise ValueError("retention must be at least counts_for")
        return self

    @property
    def kept_for(self) -> Duration:
        return self.retention or self.counts_for


class ListRule(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str = ""
    #: Record-type rule: a counting record of one of these types puts the subject on.
    record_types: tuple[str, ...] = ()
    #: Threshold rules: the subject's score is below / at least this.
    score_below: Points | None = None
    score_at_least: Points | None = None
    #: Record-type rule: how long the entry lasts from the record's date.
    #: Threshold rule: the least time the entry lasts once the threshold was crossed.
    duration: DurationField | None = None
    #: Threshold rules only: no counting negative record within this period.
    no_negative_within: DurationField | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ListRule:
        kinds = [
            bool(self.record_types),
            self.score_below is not None,
            self.score_at_least is not None,
        ]
        if sum(kinds) != 1:
            raise ValueError(
                "a list rule has exactly one of record_types, score_below or score_at_least"
            )
        if self.record_types and self.duration is None:
            raise ValueError('a record-type list rule needs a duration, such as "3y"')
        if self.record_types and self.no_negative_within is not None:
            raise ValueError("no_negative_within applies to threshold rules only")
        return self

    @property
    def is_threshold(self) -> bool:
        return not self.record_types


class ListDef(_Model):
    kind: Literal["red", "black"]
    title: str
    description: str = ""
    #: Whether organisations' entries are published (the public register and API).
    public: bool = False
    #: Whether persons' entries are published too (name and a masked identifier). Off
    #: unless the policy turns it on; needs ``public``.
    publish_persons: bool = False
    legal_basis: str = Field(min_length=1)
    rules: tuple[ListRule, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _persons(self) -> ListDef:
        if self.publish_persons and not self.public:
            raise ValueError("publish_persons needs public = true")
        return self


class MeasureWhen(_Model):
    """When a measure is triggered. Any one condition that holds triggers it."""

    lists: tuple[str, ...] = ()
    #: Compared with the grade of the measure's own score: base plus the contributions
    #: of the domains in ``affected_by`` only.
    grade_at_most: str | None = None
    grade_at_least: str | None = None
    record_types: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _something(self) -> MeasureWhen:
        if not (self.lists or self.grade_at_most or self.grade_at_least or self.record_types):
            raise ValueError(
                "'when' needs at least one of lists, grade_at_most, grade_at_least or record_types"
            )
        return self


class Measure(_Model):
    kind: Literal["incentive", "sanction"]
    title: str
    description: str = ""
    #: The law that allows this measure at all.
    legal_basis: str = Field(min_length=1)
    #: Domain name -> the legal basis that links misconduct in that domain to this measure.
    #: Only records of these domains may affect the measure.
    affected_by: dict[str, str] = Field(min_length=1)
    when: MeasureWhen
    #: Outcome when triggered: a sanction denies or conditions; an incentive allows.
    effect: Literal["allow", "deny", "allow_with_conditions"]
    conditions: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _effect(self) -> Measure:
        if self.kind == "sanction" and self.effect == "allow":
            raise ValueError("a sanction's effect is 'deny' or 'allow_with_conditions'")
        if self.kind == "incentive" and self.effect == "deny":
            raise ValueError("an incentive's effect is 'allow' or 'allow_with_conditions'")
        if self.effect == "allow_with_conditions" and not self.conditions:
            raise ValueError("effect 'allow_with_conditions' needs conditions")
        return self


class IdentifierType(_Model):
    """A generic identifier kind whose format the policy gives (``uscc`` and ``cn_ric``
    are built in and need no entry)."""

    title: str
    #: A regular expression the whole (normalised, upper-cased) value must match.
    pattern: str
    subject_kind: SubjectKind

    @model_validator(mode="after")
    def _compiles(self) -> IdentifierType:
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(f"pattern is not a valid regular expression: {exc}") from None
        return self


class Provider(_Model):
    kind: str
    title: str
    #: The record types this provider may submit.
    grants: tuple[str, ...] = Field(min_length=1)
    #: The provider's mapping file (TOML): how its own files' columns, codes and units
    #: become records (docs/ingest.md). A path relative to the policy file; without one,
    #: its files are in trustledger's own format.
    mapping: str | None = Field(default=None, min_length=1)


class LegacyIdentifier(_Model):
    """An identifier that fails its check but is legal (an early pilot Unified Social
    Credit Code issued before GB 32100-2015's check character was settled): accepted
    from a provider only because it is listed here, with why."""

    kind: str
    value: str = Field(min_length=1)
    #: Why it is legal: the registration it comes from, who confirmed it.
    reason: str = Field(min_length=1)

    @field_validator("value")
    @classmethod
    def _normalised(cls, value: str) -> str:
        return normalise(value, compact=True)


class IdentitySettings(_Model):
    """How records without a usable identifier are resolved to subjects (see
    ``docs/identity.md``). Match weights are log2 odds from the matching model."""

    #: At or above this weight a record is attached to the subject it matches best.
    accept_match_weight: float = 8.0
    #: At or above this (and below the accept weight) it waits in the review queue.
    review_match_weight: float = 2.0
    #: The SHA-256 of the loaded matching model to use; by default the newest loaded.
    model_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    legacy_identifiers: tuple[LegacyIdentifier, ...] = ()

    @model_validator(mode="after")
    def _ordered(self) -> IdentitySettings:
        if self.review_match_weight > self.accept_match_weight:
            raise ValueError("review_match_weight must not be above accept_match_weight")
        return self


class Policy(_Model):
    """A whole policy document. See ``docs/policy.md``."""

    policy: PolicyHeader
    grades: tuple[GradeBand, ...] = Field(min_length=2)
    domains: dict[str, Domain] = Field(min_length=1)
    record_types: dict[str, RecordType] = Field(min_length=1)
    lists: dict[str, ListDef] = Field(default_factory=dict)
    measures: dict[str, Measure] = Field(default_factory=dict)
    purposes: dict[str, str] = Field(default_factory=dict)
    providers: dict[str, Provider] = Field(default_factory=dict)
    identifier_types: dict[str, IdentifierType] = Field(default_factory=dict)
    #: The policy's texts in other languages: language code -> key path -> text, e.g.
    #: ``translations.zh."record_types.fare_evasion.title" = "逃票"``. Only the texts that
    #: :func:`translatable_texts` lists may be translated; the web pages show them.
    translations: dict[str, dict[str, str]] = Field(default_factory=dict)
    #: Identity resolution: match thresholds and legacy identifiers (issue 4).
    identity: IdentitySettings = IdentitySettings()

    def text(self, lang: str, path: str, default: str) -> str:
        """The text at ``path`` in ``lang``, else ``default`` (the policy's own)."""
        return self.translations.get(lang, {}).get(path, default)

    def grade_for(self, score_cents: int) -> str:
        """The grade of a score given in hundredths of a point."""
        for band in self.grades:
            if band.min_score is None or score_cents >= int(band.min_score * 100):
                return band.grade
        return self.grades[-1].grade

    def grade_rank(self, grade: str) -> int:
        """0 for the best grade, rising as grades get worse."""
        for i, band in enumerate(self.grades):
            if band.grade == grade:
                return i
        raise KeyError(grade)


def translatable_texts(policy: Policy) -> dict[str, str]:
    """Every text of the policy a translation may give, by its key path, with the policy's
    own text: titles, descriptions and meanings. (Legal bases and the rules' numbers are
    not translated: a citation is cited as the law is written.)"""
    texts = {"policy.title": policy.policy.title}
    for band in policy.grades:
        texts[f"grades.{band.grade}.meaning"] = band.meaning
    for kind, table in (
        ("domains", policy.domains),
        ("record_types", policy.record_types),
        ("lists", policy.lists),
        ("measures", policy.measures),
    ):
        for name, item in table.items():
            texts[f"{kind}.{name}.title"] = item.title
            texts[f"{kind}.{name}.description"] = item.description
    for lname, ldef in policy.lists.items():
        for rule in ldef.rules:
            texts[f"lists.{lname}.rules.{rule.id}.description"] = rule.description
    for mname, measure in policy.measures.items():
        for i, condition in enumerate(measure.conditions):
            texts[f"measures.{mname}.conditions.{i}"] = condition
    for pname, provider in policy.providers.items():
        texts[f"providers.{pname}.title"] = provider.title
    return texts


_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


def check_references(policy: Policy) -> list[tuple[Path, str]]:
    """Cross-reference and ordering problems, each with the key path it concerns."""
    problems: list[tuple[Path, str]] = []
    grades = [b.grade for b in policy.grades]

    if policy.translations:
        known_texts = translatable_texts(policy)
        for lang, texts in policy.translations.items():
            if not _LANGUAGE.match(lang):
                problems.append(
                    (("translations", lang), "a language is a code such as zh or zh-Hant")
                )
            for key, text in texts.items():
                if key not in known_texts:
                    problems.append(
                        (
                            ("translations", lang, key),
                            "not a text of this policy that can be translated (a title, "
                            "description, meaning, condition or provider title, by its "
                            'key path, e.g. "record_types.fare_evasion.title")',
                        )
                    )
                elif not text.strip():
                    problems.append((("translations", lang, key), "the translation is empty"))

    seen: set[str] = set()
    previous: Decimal | None = None
    for i, band in enumerate(policy.grades):
        if band.grade in seen:
            problems.append((("grades", i, "grade"), f"grade {band.grade!r} appears twice"))
        seen.add(band.grade)
        last = i == len(policy.grades) - 1
        if band.min_score is None and not last:
            problems.append(
                (("grades", i, "min_score"), "only the last (lowest) grade may leave out min_score")
            )
        if band.min_score is not None:
            if previous is not None and band.min_score >= previous:
                problems.append(
                    (
                        ("grades", i, "min_score"),
                        "grades must be listed from best to worst with falling min_score",
                    )
                )
            previous = band.min_score

    for name, rt in policy.record_types.items():
        if rt.domain not in policy.domains:
            problems.append(
                (
                    ("record_types", name, "domain"),
                    f"unknown domain {rt.domain!r}; known: {_known(policy.domains)}",
                )
            )

    for lname, ldef in policy.lists.items():
        rule_ids: set[str] = set()
        for i, rule in enumerate(ldef.rules):
            if rule.id in rule_ids:
                problems.append(
                    (("lists", lname, "rules", i, "id"), f"rule id {rule.id!r} appears twice")
                )
            rule_ids.add(rule.id)
            for j, rt_name in enumerate(rule.record_types):
                if rt_name not in policy.record_types:
                    problems.append(
                        (
                            ("lists", lname, "rules", i, "record_types", j),
                            f"unknown record type {rt_name!r}",
                        )
                    )

    for mname, measure in policy.measures.items():
        for domain in measure.affected_by:
            if domain not in policy.domains:
                problems.append(
                    (
                        ("measures", mname, "affected_by", domain),
                        f"unknown domain {domain!r}; known: {_known(policy.domains)}",
                    )
                )
        for j, lname in enumerate(measure.when.lists):
            if lname not in policy.lists:
                problems.append(
                    (
                        ("measures", mname, "when", "lists", j),
                        f"unknown list {lname!r}; known: {_known(policy.lists)}",
                    )
                )
        for key in ("grade_at_most", "grade_at_least"):
            value = getattr(measure.when, key)
            if value is not None and value not in grades:
                problems.append(
                    (
                        ("measures", mname, "when", key),
                        f"unknown grade {value!r}; known: {', '.join(grades)}",
                    )
                )
        for j, rt_name in enumerate(measure.when.record_types):
            if rt_name not in policy.record_types:
                problems.append(
                    (
                        ("measures", mname, "when", "record_types", j),
                        f"unknown record type {rt_name!r}",
                    )
                )

    for pname, provider in policy.providers.items():
        for j, rt_name in enumerate(provider.grants):
            if rt_name not in policy.record_types:
                problems.append(
                    (("providers", pname, "grants", j), f"unknown record type {rt_name!r}")
                )

    for iname in policy.identifier_types:
        if iname in BUILTIN_KINDS:
            problems.append(
                (
                    ("identifier_types", iname),
                    f"identifier type {iname!r} is built in and cannot be redefined",
                )
            )

    listed: set[tuple[str, str]] = set()
    for i, legacy in enumerate(policy.identity.legacy_identifiers):
        where: Path = ("identity", "legacy_identifiers", i)
        if legacy.kind not in BUILTIN_KINDS and legacy.kind not in policy.identifier_types:
            problems.append(
                (
                    (*where, "kind"),
                    f"unknown identifier kind {legacy.kind!r}; known: "
                    f"{_known({**dict.fromkeys(BUILTIN_KINDS), **policy.identifier_types})}",
                )
            )
        if (legacy.kind, legacy.value) in listed:
            problems.append(((*where, "value"), f"{legacy.value} is listed twice"))
        listed.add((legacy.kind, legacy.value))
    return problems


def _known(names: dict[str, Any]) -> str:
    return ", ".join(sorted(names)) or "(none)"
