"""A synthetic population written straight to Parquet: millions of subjects, vectorised.

:mod:`trustledger.synth.population` makes a lived-in city one record at a time, with
names, identifiers and provider files, for the demo's database; a million subjects and
twenty million records need arrays instead. This module draws the same mix (the record
types of the example catalogue, their providers, the kinds of subject they apply to, the
yearly rates and the latent-risk tiers of :mod:`~trustledger.synth.population`) with
numpy, a block of :data:`BLOCK` subjects at a time, and writes the batch engines' input
layout (:mod:`trustledger.batch.layout`)::

    DIR/subjects/part-00000.parquet       subject_id, kind
    DIR/records/part-00000.parquet        one row per record, its current version
    DIR/demographics/part-00000.parquet   district, area, age band, sex, income band:
                                          what no policy may use (engines never read it)
    DIR/errors/part-00000.parquet         only with injected errors: which records are wrong
    DIR/population.json                   how it was made, and its counts

Memory does not grow with the population: a block is generated, written as one row group
of the current part file, and dropped. A part file holds ``chunk_subjects`` subjects.

Deterministic: each block draws from its own random stream, seeded by ``(seed, block)``,
so the rows depend on the seed, the size, ``as_of`` and the scenario, and not on how they
are cut into part files; the same arguments give the same bytes.

What the records look like:

- valid_from spread over the ten years before ``as_of`` (persons from their 18th
  birthday, organisations from their founding), so some records still count at full
  weight, some have decayed, and many stopped counting years ago;
- states (tax arrears, an abnormal-operations listing, an unperformed judgment) end with
  a ``valid_to`` when they were resolved;
- about 1% corrected (version 2, sometimes 3, valid time moved a few days), 0.4% of
  negative records retracted, and, given a policy's retention, records past it expired
  (the version ``trustledger maintain`` would have written);
- about 2% of the past year's negative records under objection, some past the review
  deadline, a few disputed again after an upheld review; given a policy's
  ``repair_after``, about 4% of negative records whose obligation ended long enough ago
  repaired.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     summary = write_population(Path(tmp) / "city", 500, seed=1, as_of=date(2026, 6, 30))
...     summary.subjects, summary.parts
(500, 1)
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from trustledger.batch.layout import RECORD_SCHEMA, RECORDS, SUBJECT_SCHEMA, SUBJECTS
from trustledger.domain.duration import Duration, add_months
from trustledger.errors import InvalidInput
from trustledger.policy.schema import Policy
from trustledger.synth import names
from trustledger.synth.population import (
    _COMPANY_SLOTS_CUM,
    _LOAN_DEFAULT,
    _LOAN_OVERDUE,
    _ORG_RATES,
    _ORG_SORT_CUM,
    _PERSON_RATES,
    _PERSON_SLOTS_CUM,
    _RISK_TIERS,
    _SMALL_BUSINESS_SLOTS_CUM,
    DEFAULT_RECORDS_PER_SUBJECT,
    PROVIDERS,
    RECORD_TYPES,
    WINDOW_MONTHS,
)
from trustledger.synth.scenario import AGE_BANDS, AREAS, KINDS, SEXES, Scenario

__all__ = [
    "BLOCK",
    "DEFAULT_CHUNK",
    "DEMOGRAPHICS",
    "DEMOGRAPHIC_SCHEMA",
    "ERRORS",
    "ERROR_SCHEMA",
    "FABRICATED_ID_BASE",
    "WINDOW_YEARS",
    "Block",
    "ErrorSpec",
    "PolicyFacts",
    "WriteSummary",
    "generate_blocks",
    "write_population",
]

#: Subjects per random stream and per row group.
BLOCK: Final = 10_000
#: Subjects per part file (a multiple of BLOCK).
DEFAULT_CHUNK: Final = 100_000
#: Records start at most this many years before ``as_of``.
WINDOW_YEARS: Final = 10
#: Ids of fabricated records (injected errors) start here, clear of real record ids.
FABRICATED_ID_BASE: Final = 10**12

DEMOGRAPHICS: Final = "demographics"
ERRORS: Final = "errors"
DEMOGRAPHIC_SCHEMA: Final = pa.schema(
    [
        pa.field("subject_id", pa.int64(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("district", pa.string(), nullable=False),
        pa.field("area", pa.string(), nullable=False),
        # Persons only; null for organisations.
        pa.field("age_band", pa.string()),
        pa.field("sex", pa.string()),
        pa.field("income_band", pa.string()),
    ]
)
ERROR_SCHEMA: Final = pa.schema(
    [
        pa.field("record_id", pa.int64(), nullable=False),
        # "misattributed": a real record filed under another subject of the same kind;
        # "fabricated": a copy of a real negative record given to someone it never
        # happened to.
        pa.field("error", pa.string(), nullable=False),
        pa.field("subject_id", pa.int64(), nullable=False),
        # Whose record it really is (null for a fabricated one).
        pa.field("true_subject_id", pa.int64()),
    ]
)

_EPOCH: Final = date(1970, 1, 1)
_YEAR: Final = 365.25
_TYPE_NAMES: Final = tuple(RECORD_TYPES)
_CODE: Final = {name: i for i, name in enumerate(_TYPE_NAMES)}
_PROVIDER_NAMES: Final = tuple(PROVIDERS)
_PROVIDER_OF: Final = np.array(
    [_PROVIDER_NAMES.index(RECORD_TYPES[n].provider) for n in _TYPE_NAMES], dtype=np.int8
)
_NEGATIVE: Final = np.array([RECORD_TYPES[n].points < 0 for n in _TYPE_NAMES])
_ACTIONS: Final = ("create", "correct", "retract", "expire")
_CREATE, _CORRECT, _RETRACT, _EXPIRE = range(4)
#: Providers joined the registry over time: of the records dated more than
#: WINDOW_MONTHS (six years) before ``as_of``, only this share was ever reported. The
#: last six years are drawn at the population module's rates, so what still counts looks
#: like its city; the older years add history (expired records, old list stretches).
HISTORY_SHARE: Final = 0.2

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class PolicyFacts:
    """What a policy says that shapes the stored data, not the score: how long a record
    stays in the file (after which ``maintain`` expires it) and how long after its
    obligation ends a subject may ask for repair."""

    retention: Mapping[str, Duration] = field(default_factory=dict)
    repair_after: Mapping[str, Duration] = field(default_factory=dict)

    @classmethod
    def of(cls, policy: Policy) -> PolicyFacts:
        return cls(
            retention={n: rt.kept_for for n, rt in policy.record_types.items()},
            repair_after={
                n: rt.repair_after
                for n, rt in policy.record_types.items()
                if rt.repair_after is not None
            },
        )


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """Wrong data to inject: ``share`` of the records, of which ``misattributed`` (a share)
    are real records filed under another subject and the rest fabricated copies of real
    negative records given to someone else. Drawn from a random stream of their own, so
    the population under them is exactly the error-free one."""

    share: float
    misattributed: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.share <= 1.0:
            raise InvalidInput(f"error share must be between 0 and 1, got {self.share}")
        if not 0.0 <= self.misattributed <= 1.0:
            raise InvalidInput(
                f"misattributed share must be between 0 and 1, got {self.misattributed}"
            )


@dataclass(frozen=True, slots=True)
class Block:
    """One block of the population as Arrow tables (errors is empty without an ErrorSpec)."""

    index: int
    subjects: pa.Table
    records: pa.Table
    demographics: pa.Table
    errors: pa.Table


@dataclass(frozen=True, slots=True)
class WriteSummary:
    directory: Path
    subjects: int
    records: int
    parts: int
    errors: int

    def as_json(self) -> dict[str, Any]:
        return {
            "subjects": self.subjects,
            "records": self.records,
            "parts": self.parts,
            "errors": self.errors,
        }


def _days(day: date) -> int:
    return (day - _EPOCH).days


def add_months_days(days: IntArray, months: int) -> IntArray:
    """Days since 1970 plus calendar ``months``, clamped to the month's end, like
    :func:`trustledger.domain.duration.add_months`."""
    d = days.astype("datetime64[D]")
    month = d.astype("datetime64[M]")
    dom = (d - month.astype("datetime64[D]")).astype(np.int64)
    target = month + np.timedelta64(months, "M")
    length = ((target + np.timedelta64(1, "M")).astype("datetime64[D]")) - target.astype(
        "datetime64[D]"
    )
    clamped = np.minimum(dom, length.astype(np.int64) - 1)
    out: IntArray = target.astype("datetime64[D]").astype(np.int64) + clamped
    return out


def _after(duration: Duration, days: IntArray) -> IntArray:
    out = add_months_days(days, duration.months) if duration.months else days.copy()
    return out + duration.days


def _minor(risk: FloatArray) -> FloatArray:
    """As population._minor: minor events come a little faster than risk, capped."""
    return np.power(np.minimum(risk, 6.0), 1.25)


class _Draw:
    """One block's draws: the subjects, then their records."""

    def __init__(
        self,
        *,
        block: int,
        first_id: int,
        n: int,
        seed: int,
        as_of: date,
        scenario: Scenario,
        facts: PolicyFacts,
    ) -> None:
        self.rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, block])))
        self.n = n
        self.ids = np.arange(first_id, first_id + n, dtype=np.int64)
        self.as_of = as_of
        self.end = _days(as_of)
        self.start = _days(add_months(as_of, -12 * WINDOW_YEARS))
        self.scenario = scenario
        self.facts = facts
        self.volume = scenario.records_per_subject / DEFAULT_RECORDS_PER_SUBJECT
        self.history_from = _days(add_months(as_of, -WINDOW_MONTHS))
        self.subj: list[IntArray] = []
        self.code: list[npt.NDArray[np.int8]] = []
        self.valid_from: list[IntArray] = []
        self.valid_to: list[IntArray] = []  # -1 for none

    # -- helpers -------------------------------------------------------------------

    def pick(self, weights: list[float] | tuple[float, ...], size: int) -> IntArray:
        cum = np.cumsum(np.asarray(weights, dtype=np.float64))
        out: IntArray = np.searchsorted(cum, self.rng.random(size) * cum[-1], side="right")
        return out.astype(np.int64)

    def pick_cum(self, cum: list[int], size: int) -> IntArray:
        return self.pick(np.diff(np.asarray([0, *cum])).tolist(), size)

    def emit(self, name: str, subj: IntArray, day: IntArray, until: IntArray | None = None) -> None:
        if subj.size == 0:
            return
        self.subj.append(subj)
        self.code.append(np.full(subj.size, _CODE[name], dtype=np.int8))
        self.valid_from.append(day.astype(np.int64))
        self.valid_to.append(
            np.full(subj.size, -1, dtype=np.int64) if until is None else until.astype(np.int64)
        )

    def days_in(self, subj: IntArray, first: IntArray, last: IntArray) -> IntArray:
        """A day in [first, last] of each subject in ``subj``."""
        span = last[subj] - first[subj] + 1
        return first[subj] + (self.rng.random(subj.size) * span).astype(np.int64)

    def many(self, name: str, who: BoolArray, rate: FloatArray | float) -> None:
        """A Poisson number of ``name`` records, ``rate`` a year (per subject), over each
        chosen subject's span, times the scenario's enforcement factor."""
        lam = np.where(who, rate * self.years * self.factor(name), 0.0)
        counts = self.rng.poisson(lam)
        subj = np.repeat(np.arange(self.n, dtype=np.int64), counts)
        self.emit(name, subj, self.days_in(subj, self.first, self.last))

    def states(
        self,
        name: str,
        subj: IntArray,
        day: IntArray,
        resolved_share: float,
        days_to_resolve: tuple[int, int],
    ) -> None:
        """Facts that last: most end some days later, unless that is after ``as_of``."""
        resolved = self.rng.random(subj.size) < resolved_share
        low, high = days_to_resolve
        until = day + low + (self.rng.random(subj.size) * (high - low + 1)).astype(np.int64)
        until = np.where(resolved & (until <= self.end), until, -1)
        self.emit(name, subj, day, until)

    def many_states(
        self,
        name: str,
        who: BoolArray,
        rate: FloatArray,
        resolved_share: float,
        days_to_resolve: tuple[int, int],
    ) -> None:
        lam = np.where(who, rate * self.years * self.factor(name), 0.0)
        subj = np.repeat(np.arange(self.n, dtype=np.int64), self.rng.poisson(lam))
        day = self.days_in(subj, self.first, self.last)
        self.states(name, subj, day, resolved_share, days_to_resolve)

    # -- subjects --------------------------------------------------------------------

    def subjects(self) -> None:
        rng, n, sc = self.rng, self.n, self.scenario
        self.org = rng.random(n) < sc.org_share
        person = ~self.org
        self.person = person
        # Latent risk, as population._Generator.risk: most reliable, a minority in trouble.
        roll = rng.random(n)
        mu = np.full(n, -0.5)
        sigma = np.full(n, 0.5)
        below = 0.0
        for share, tier_mu, tier_sigma in _RISK_TIERS:
            hit = (roll >= below) & (roll < below + share)
            mu[hit], sigma[hit] = tier_mu, tier_sigma
            below += share
        self.risk = np.exp(mu + sigma * rng.standard_normal(n))

        district = self.pick([d.weight for d in sc.districts], n)
        rural_share = np.array([d.rural_share for d in sc.districts])[district]
        self.district = district
        self.rural = rng.random(n) < rural_share
        age_band = self.pick([b[3] for b in AGE_BANDS], n)
        low = np.array([b[1] for b in AGE_BANDS])[age_band]
        high = np.array([b[2] for b in AGE_BANDS])[age_band]
        age = low + (rng.random(n) * (high - low + 1)).astype(np.int64)
        self.age_band = np.where(person, age_band, -1)
        self.sex = np.where(person, (rng.random(n) < 0.5).astype(np.int64), -1)
        income = self.pick(list(sc.income_bands.values()), n)
        self.income = np.where(person, income, -1)

        # The scenario's groups: one mask per rule.
        self.attributes: dict[str, tuple[IntArray, tuple[str, ...]]] = {
            "kind": (self.org.astype(np.int64), KINDS),
            "district": (district, tuple(d.name for d in sc.districts)),
            "area": (self.rural.astype(np.int64), AREAS),
            "age_band": (self.age_band, tuple(b[0] for b in AGE_BANDS)),
            "sex": (self.sex, SEXES),
            "income_band": (self.income, tuple(sc.income_bands)),
        }
        self.enforcement = [(self.mask(rule.where), rule) for rule in sc.enforcement]
        for rule in sc.risk:
            self.risk = np.where(self.mask(rule.where), self.risk * rule.factor, self.risk)
        self._factors: dict[str, FloatArray | float] = {}

        # Birth (persons) and founding (organisations), as days since 1970.
        birth = (
            self.end
            - np.round(age * 365.2425).astype(np.int64)
            - (rng.random(n) * 365).astype(np.int64)
        )
        self.birth = birth
        adult = birth + round(18 * 365.2425)
        inside = rng.random(n) < 0.25
        founded = np.where(
            inside,
            self.start + (rng.random(n) * (self.end - 90 - self.start)).astype(np.int64),
            self.start - 1 - (rng.random(n) * 25 * 365).astype(np.int64),
        )
        self.founded = founded
        self.first = np.where(
            person, np.maximum(self.start, adult), np.maximum(self.start, founded + 30)
        )
        self.last = np.full(n, self.end, dtype=np.int64)
        # Organisations: company, individual business, co-operative, civil-affairs body.
        sort = self.pick_cum(_ORG_SORT_CUM, n)
        industry = self.pick([i.weight for i in names.INDUSTRIES], n)
        ind_food = np.array([i.food for i in names.INDUSTRIES])[industry]
        ind_manu = np.array([i.manufacturing for i in names.INDUSTRIES])[industry]
        shop = (rng.random(n) * len(names.SHOPS)).astype(np.int64)
        shop_food = np.array([f for _, f in names.SHOPS])[shop]
        self.company = self.org & (sort == 0)
        self.files_reports = self.org & (sort <= 2)
        self.small_business = self.org & ((sort == 1) | (sort == 2))
        self.food = self.company & ind_food | (self.org & (sort == 1) & shop_food)
        self.manufacturing = self.company & ind_manu

    def mask(self, where: Mapping[str, str | tuple[str, ...]]) -> BoolArray:
        hit = np.ones(self.n, dtype=bool)
        for attribute, value in where.items():
            codes, labels = self.attributes[attribute]
            wanted = (value,) if isinstance(value, str) else value
            hit &= np.isin(codes, [labels.index(v) for v in wanted])
        return hit

    def factor(self, name: str) -> FloatArray | float:
        """The scenario's enforcement factor for ``name``, per subject."""
        cached = self._factors.get(name)
        if cached is None:
            out: FloatArray | float = 1.0
            for mask, rule in self.enforcement:
                if not rule.record_types or name in rule.record_types:
                    out = np.where(mask, rule.factor, 1.0) * out
            self._factors[name] = cached = out
        return cached

    @property
    def years(self) -> FloatArray:
        out: FloatArray = np.maximum(self.last - self.first + 1, 0) / _YEAR
        return out

    # -- records ---------------------------------------------------------------------

    def records(self) -> None:
        rng, n = self.rng, self.n
        person, org = self.person, self.org
        risk = self.risk
        risk2, minor = risk * risk, _minor(risk)
        volume = self.volume

        # A revoked licence ends the business: nothing routine follows it.
        p_revoked = np.minimum(
            1.0,
            _ORG_RATES["business_licence_revoked"]
            * risk2
            * self.years
            * self.factor("business_licence_revoked"),
        )
        revoked = org & (rng.random(n) < p_revoked)
        idx = np.flatnonzero(revoked)
        day = self.days_in(idx, self.first, self.last)
        self.emit("business_licence_revoked", idx, day)
        self.last[idx] = day

        # Loans, in parallel lines ("slots"), one record per loan-year.
        slots = np.zeros(n, dtype=np.int64)
        slots[person] = self.pick_cum(_PERSON_SLOTS_CUM, int(person.sum()))
        slots[self.company] = self.pick_cum(_COMPANY_SLOTS_CUM, int(self.company.sum()))
        small = self.small_business
        slots[small] = self.pick_cum(_SMALL_BUSINESS_SLOTS_CUM, int(small.sum()))
        slots = (slots * volume + rng.random(n)).astype(np.int64)
        self.loans(slots, risk2, minor)

        p = _PERSON_RATES
        o = _ORG_RATES
        cards = person & (rng.random(n) < 0.55)
        self.many("credit_card_overdue", cards, p["credit_card_overdue"] * minor)
        utility = np.where(person, p["utility_arrears"], o["utility_arrears"]) * minor
        self.many("utility_arrears", np.ones(n, dtype=bool), utility)
        riders = person & (rng.random(n) < 0.5)
        self.many("fare_evasion", riders, p["fare_evasion"] * minor)
        self.many("train_seat_occupation", riders, p["train_seat_occupation"] * minor)
        drivers = person & (rng.random(n) < 0.45)
        self.many("traffic_violation_serious", drivers, p["traffic_violation_serious"] * minor)

        everyone = np.ones(n, dtype=bool)
        late = np.where(person, p["tax_filing_late"], o["tax_filing_late"]) * minor
        self.many("tax_filing_late", everyone, late)
        arrears = np.where(person, p["tax_arrears"], o["tax_arrears"]) * risk**1.5
        self.many_states("tax_arrears", everyone, arrears, 0.75, (20, 400))
        evasion = np.where(person, p["tax_evasion_confirmed"], o["tax_evasion_confirmed"]) * risk2
        self.many("tax_evasion_confirmed", everyone, evasion)

        # Courts.
        def rate(name: str) -> FloatArray:
            return np.where(person, p[name], o[name])

        self.many(
            "court_judgment_fulfilled_late", everyone, rate("court_judgment_fulfilled_late") * minor
        )
        # A judgment debtor who later performs: the state ends (valid_to) that day.
        self.many_states(
            "court_judgment_unfulfilled",
            everyone,
            rate("court_judgment_unfulfilled") * risk2,
            0.3,
            (30, 720),
        )
        self.many("fraud_conviction", everyone, rate("fraud_conviction") * risk2)

        # Civic life: a few people do most of it, fewer of them among the unreliable.
        engaged = volume / (0.7 + 0.3 * np.minimum(risk, 4.0))
        roll = rng.random(n)
        u = rng.random(n)
        volunteer = np.where(
            roll < 0.11 * engaged, 4.0 + 8.0 * u, np.where(roll < 0.30 * engaged, 0.3 + 1.2 * u, 0)
        )
        self.many("volunteer_service", person, volunteer)
        donor_age = person & (self.birth > self.end - round(60 * 365.2425))
        roll = rng.random(n)
        u = rng.random(n)
        blood = np.where(
            roll < 0.004 * engaged,
            6.0 + 14.0 * u,
            np.where(roll < 0.035 * engaged, 0.4 + 1.4 * u, 0.0),
        )
        self.many("blood_donation", donor_age, blood)
        giving = rng.random(n)
        charity = np.where(
            person,
            np.where(giving < 0.12 * engaged, 0.3 + rng.random(n), 0.0),
            np.where(giving < 0.12 * volume, 0.5, 0.0),
        )
        self.many("charitable_donation", everyone, charity)
        self.many("civic_award", everyone, np.where(person, 0.002 * engaged, 0.003))

        # Organisations.
        self.annual(minor)
        self.many("wage_arrears", self.company, o["wage_arrears"] * risk**1.5)
        self.many(
            "false_advertising_penalty", self.files_reports, o["false_advertising_penalty"] * minor
        )
        self.many(
            "product_quality_violation", self.manufacturing, o["product_quality_violation"] * minor
        )
        inspections = 1.5 * volume
        p_fail = np.minimum(0.4, o["food_inspection_fail"] * minor)
        p_excellent = np.minimum(0.5, o["food_inspection_excellent"] / risk)
        self.many("food_inspection_fail", self.food, inspections * p_fail)
        self.many("food_inspection_excellent", self.food, inspections * p_excellent)
        self.many("food_safety_major_incident", self.food, o["food_safety_major_incident"] * risk2)

    def loans(self, slots: IntArray, risk2: FloatArray, minor: FloatArray) -> None:
        """Each year of a loan ends repaid on time, 30 days overdue, or in a default that
        ends the line for good (population._Generator.loans, without the renewal gaps)."""
        rng = self.rng
        p_default = np.minimum(0.3, _LOAN_DEFAULT * risk2 * self.factor("loan_default_90d"))
        p_overdue = np.minimum(0.6, _LOAN_OVERDUE * minor * self.factor("loan_overdue_30d"))
        line = np.repeat(np.arange(self.n, dtype=np.int64), slots)
        first, last = self.first[line], self.last[line]
        u = rng.random(line.size)
        opened = np.where(
            first > self.start,
            first + (u * 730).astype(np.int64),
            first - (u * 3 * 365).astype(np.int64),
        )
        k_min = np.maximum(1, -((opened - first) // 365))  # ceil((first - opened) / 365)
        k_max = (last - opened) // 365
        years = np.maximum(k_max - k_min + 1, 0)
        row_line = np.repeat(np.arange(line.size, dtype=np.int64), years)
        offsets = np.cumsum(years) - years
        k = k_min[row_line] + np.arange(row_line.size, dtype=np.int64) - offsets[row_line]
        closes = opened[row_line] + 365 * k
        subj = line[row_line]
        roll = rng.random(subj.size)
        pd = p_default[subj] if isinstance(p_default, np.ndarray) else p_default
        po = p_overdue[subj] if isinstance(p_overdue, np.ndarray) else p_overdue
        default = roll < pd
        overdue = ~default & (roll < pd + po)
        # Nothing follows a default on its line.
        seen: IntArray = np.cumsum(default) - default
        keep: BoolArray = seen == seen[offsets[row_line]]
        low = np.maximum(self.first[subj], closes - 364)
        day = low + (rng.random(subj.size) * (closes - low + 1)).astype(np.int64)
        self.emit("loan_default_90d", subj[keep & default], day[keep & default])
        self.emit("loan_overdue_30d", subj[keep & overdue], day[keep & overdue])
        repaid = keep & ~default & ~overdue
        self.emit("loan_repaid_on_time", subj[repaid], closes[repaid])

    def annual(self, minor: FloatArray) -> None:
        """Annual reports (due by 30 June; a missed one gets the business listed for
        abnormal operations) and the tax bureau's yearly A grade for companies."""
        rng = self.rng
        years = np.arange(self.as_of.year - WINDOW_YEARS, self.as_of.year + 1)
        jan1 = np.array([_days(date(int(y), 1, 1)) for y in years], dtype=np.int64)
        apr1 = np.array([_days(date(int(y), 4, 1)) for y in years], dtype=np.int64)
        jul1 = np.array([_days(date(int(y), 7, 1)) for y in years], dtype=np.int64)
        orgs = np.flatnonzero(self.files_reports)
        subj = np.repeat(orgs, years.size)
        y = np.tile(np.arange(years.size), orgs.size)
        existed = self.founded[subj] < jan1[y]
        subj, y = subj[existed], y[existed]
        missed_p = np.minimum(
            0.6,
            _ORG_RATES["abnormal_operations_listing"]
            * minor[subj]
            * _take(self.factor("abnormal_operations_listing"), subj),
        )
        missed = rng.random(subj.size) < missed_p
        listed_day = jul1[y] + (rng.random(subj.size) * 45).astype(np.int64)
        filed_day = jan1[y] + 31 + (rng.random(subj.size) * 150).astype(np.int64)
        day = np.where(missed, listed_day, filed_day)
        inside = (self.first[subj] <= day) & (day <= self.last[subj])
        listed = missed & inside
        self.states("abnormal_operations_listing", subj[listed], day[listed], 0.55, (30, 540))
        filed = ~missed & inside
        self.emit("annual_report_filed", subj[filed], day[filed])

        companies = np.flatnonzero(self.company)
        subj = np.repeat(companies, years.size)
        y = np.tile(np.arange(years.size), companies.size)
        day = apr1[y] + (rng.random(subj.size) * 30).astype(np.int64)
        p_grade = np.minimum(
            0.6,
            _ORG_RATES["tax_grade_a_taxpayer"]
            / self.risk[subj]
            * _take(self.factor("tax_grade_a_taxpayer"), subj),
        )
        hit = (
            (self.founded[subj] < day - 365)
            & (self.first[subj] <= day)
            & (day <= self.last[subj])
            & (rng.random(subj.size) < p_grade)
        )
        self.emit("tax_grade_a_taxpayer", subj[hit], day[hit])

    def fallback(self, counts: IntArray) -> None:
        """One routine record for a subject that drew none: a registry only learns of
        subjects through records (as in the population module)."""
        none = np.flatnonzero(counts == 0)
        if none.size == 0:
            return
        day = self.days_in(none, np.maximum(self.first, self.history_from), self.last)
        loan = self.person[none] | self.files_reports[none]
        self.emit("loan_repaid_on_time", none[loan], day[loan])
        self.emit("charitable_donation", none[~loan], day[~loan])

    # -- the block's tables ----------------------------------------------------------

    def finish(self, first_record_id: int) -> tuple[pa.Table, dict[str, np.ndarray[Any, Any]]]:
        rng = self.rng
        subj, code = np.concatenate(self.subj), np.concatenate(self.code)
        valid_from, valid_to = np.concatenate(self.valid_from), np.concatenate(self.valid_to)
        reported = (valid_from >= self.history_from) | (rng.random(subj.size) < HISTORY_SHARE)
        self.subj, self.code = [subj[reported]], [code[reported]]
        self.valid_from, self.valid_to = [valid_from[reported]], [valid_to[reported]]
        self.fallback(np.bincount(self.subj[0], minlength=self.n))
        subj, code = np.concatenate(self.subj), np.concatenate(self.code)
        valid_from, valid_to = np.concatenate(self.valid_from), np.concatenate(self.valid_to)
        order = np.lexsort((code, valid_from, subj))
        subj, code = subj[order], code[order]
        valid_from, valid_to = valid_from[order], valid_to[order]
        m = subj.size
        record_id = np.arange(first_record_id, first_record_id + m, dtype=np.int64)
        negative = _NEGATIVE[code]

        version = np.ones(m, dtype=np.int32)
        action = np.full(m, _CREATE, dtype=np.int8)
        # Corrections: the provider fixed the date (and the end of a state with it).
        corrected = rng.random(m) < 0.01
        again = corrected & (rng.random(m) < 0.1)
        shift = rng.integers(-15, 16, m)
        moved = np.minimum(valid_from + shift, self.end)
        moved = np.maximum(moved, self.first[subj])
        delta = moved - valid_from
        valid_from = np.where(corrected, moved, valid_from)
        shifted_to = valid_to + delta
        ended = (valid_to >= 0) & corrected
        valid_to = np.where(
            ended,
            np.where((shifted_to > valid_from) & (shifted_to <= self.end), shifted_to, -1),
            valid_to,
        )
        version += corrected.astype(np.int32) + again.astype(np.int32)
        action[corrected] = _CORRECT
        # Retractions: the provider withdrew the record.
        retracted = negative & (rng.random(m) < 0.004)
        version += retracted.astype(np.int32)
        action[retracted] = _RETRACT
        # Expiry at the end of retention (what `maintain` writes), given the policy.
        expired = np.zeros(m, dtype=bool)
        for name, duration in self.facts.retention.items():
            if name not in _CODE:
                continue
            of_type = (code == _CODE[name]) & (action != _RETRACT)
            if of_type.any():
                ends = _after(duration, valid_from[of_type])
                hit = np.zeros(m, dtype=bool)
                hit[of_type] = ends <= self.end
                expired |= hit
        version += expired.astype(np.int32)
        action[expired] = _EXPIRE
        live = (action == _CREATE) | (action == _CORRECT)
        # Repairs: the obligation was met, the waiting period passed, repair granted.
        repaired_on = np.full(m, -1, dtype=np.int64)
        asks = rng.random(m) < 0.04
        paid = np.where(valid_to >= 0, valid_to, valid_from + rng.integers(30, 366, m))
        wait = rng.integers(0, 181, m)
        for name, duration in self.facts.repair_after.items():
            if name not in _CODE:
                continue
            of_type = (code == _CODE[name]) & live & asks & negative
            if of_type.any():
                day = _after(duration, paid[of_type]) + wait[of_type]
                ok = day <= self.end
                where = np.flatnonzero(of_type)[ok]
                repaired_on[where] = day[ok]
        # Objections: recent negative records, some past the review deadline, a few
        # disputed again after an upheld review.
        recent = valid_from >= self.end - 365
        disputed = negative & live & recent & (rng.random(m) < 0.02)
        overdue = disputed & (rng.random(m) < 0.35)
        settled = disputed & ~overdue & (rng.random(m) < 0.15)

        columns = {
            "subject": subj,
            "record_id": record_id,
            "version": version,
            "code": code,
            "valid_from": valid_from,
            "valid_to": valid_to,
            "repaired_on": repaired_on,
            "action": action,
            "disputed": disputed,
            "review_overdue": overdue,
            "dispute_settled": settled,
        }
        return self.subject_tables(), columns

    def subject_tables(self) -> pa.Table:
        kinds = pa.array(KINDS).take(pa.array(self.org.astype(np.int8)))
        return pa.Table.from_arrays([pa.array(self.ids), kinds], schema=SUBJECT_SCHEMA)

    def demographics(self) -> pa.Table:
        sc = self.scenario
        kinds = pa.array(KINDS).take(pa.array(self.org.astype(np.int8)))
        return pa.Table.from_arrays(
            [
                pa.array(self.ids),
                kinds,
                pa.array([d.name for d in sc.districts]).take(pa.array(self.district)),
                pa.array(AREAS).take(pa.array(self.rural.astype(np.int8))),
                _labels([b[0] for b in AGE_BANDS], self.age_band),
                _labels(list(SEXES), self.sex),
                _labels(list(sc.income_bands), self.income),
            ],
            schema=DEMOGRAPHIC_SCHEMA,
        )


def _take(value: FloatArray | float, idx: IntArray) -> FloatArray | float:
    return value[idx] if isinstance(value, np.ndarray) else value


def _labels(labels: list[str], codes: IntArray) -> pa.Array:
    """Strings for codes; null where the code is -1."""
    return pa.array(labels).take(pa.array(codes, mask=codes < 0))


def _date_column(days: IntArray) -> pa.Array:
    return pa.array(days.astype(np.int32), type=pa.int32(), mask=days < 0).cast(pa.date32())


def _record_table(ids: IntArray, c: Mapping[str, np.ndarray[Any, Any]]) -> pa.Table:
    code = pa.array(c["code"])
    return pa.Table.from_arrays(
        [
            pa.array(ids[c["subject"]]),
            pa.array(c["record_id"]),
            pa.array(c["version"]),
            pa.array(_TYPE_NAMES).take(code),
            pa.array(_PROVIDER_NAMES).take(pa.array(_PROVIDER_OF[c["code"]])),
            _date_column(c["valid_from"]),
            _date_column(c["valid_to"]),
            _date_column(c["repaired_on"]),
            pa.array(_ACTIONS).take(pa.array(c["action"])),
            pa.array(c["disputed"]),
            pa.array(c["review_overdue"]),
            pa.array(c["dispute_settled"]),
        ],
        schema=RECORD_SCHEMA,
    )


def _inject(
    draw: _Draw,
    c: dict[str, np.ndarray[Any, Any]],
    spec: ErrorSpec,
    seed: int,
    block: int,
    next_fabricated: int,
) -> tuple[dict[str, np.ndarray[Any, Any]], dict[str, np.ndarray[Any, Any]]]:
    """Wrong data: move some records to another subject of the same kind, and give
    copies of real negative records to subjects they never happened to."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, block, 1])))
    m = c["subject"].size
    org = draw.org
    kind_ids = [np.flatnonzero(~org), np.flatnonzero(org)]

    def someone_else(subj: IntArray) -> IntArray:
        """A random other subject of the same kind as each of ``subj`` (itself if alone)."""
        out = subj.copy()
        for kind, pool in enumerate(kind_ids):
            mine = np.flatnonzero(org[subj] == bool(kind))
            if mine.size == 0 or pool.size < 2:
                continue
            # Draw among the pool less the subject itself: skip over its own place.
            j = (rng.random(mine.size) * (pool.size - 1)).astype(np.int64)
            own = np.searchsorted(pool, subj[mine])
            out[mine] = pool[j + (j >= own)]
        return out

    moved = rng.random(m) < spec.share * spec.misattributed
    true_subject = c["subject"].copy()
    new_subject = c["subject"].copy()
    new_subject[moved] = someone_else(c["subject"][moved])
    moved &= new_subject != true_subject
    c = dict(c)
    c["subject"] = new_subject

    negatives = np.flatnonzero(
        _NEGATIVE[c["code"]] & ((c["action"] == _CREATE) | (c["action"] == _CORRECT))
    )
    k = int(rng.binomial(m, spec.share * (1.0 - spec.misattributed))) if negatives.size else 0
    source = negatives[(rng.random(k) * negatives.size).astype(np.int64)]
    fake_subject = someone_else(true_subject[source])
    fake_ids = np.arange(next_fabricated, next_fabricated + k, dtype=np.int64)
    fake = {
        "subject": fake_subject,
        "record_id": fake_ids,
        "version": np.ones(k, dtype=np.int32),
        "code": c["code"][source],
        "valid_from": c["valid_from"][source],
        "valid_to": c["valid_to"][source],
        "repaired_on": np.full(k, -1, dtype=np.int64),
        "action": np.full(k, _CREATE, dtype=np.int8),
        "disputed": np.zeros(k, dtype=bool),
        "review_overdue": np.zeros(k, dtype=bool),
        "dispute_settled": np.zeros(k, dtype=bool),
    }
    merged = {key: np.concatenate([c[key], fake[key]]) for key in c}
    order = np.lexsort((merged["record_id"], merged["subject"]))
    merged = {key: value[order] for key, value in merged.items()}
    errors = {
        "record_id": np.concatenate([c["record_id"][moved], fake_ids]),
        "error": np.concatenate(
            [np.zeros(int(moved.sum()), dtype=np.int8), np.ones(k, dtype=np.int8)]
        ),
        "subject_id": draw.ids[np.concatenate([new_subject[moved], fake_subject])],
        "true_subject_id": np.concatenate(
            [draw.ids[true_subject[moved]], np.full(k, -1, dtype=np.int64)]
        ),
    }
    return merged, errors


def _error_table(e: Mapping[str, np.ndarray[Any, Any]]) -> pa.Table:
    true = e["true_subject_id"]
    return pa.Table.from_arrays(
        [
            pa.array(e["record_id"]),
            pa.array(["misattributed", "fabricated"]).take(pa.array(e["error"])),
            pa.array(e["subject_id"]),
            pa.array(true, mask=true < 0),
        ],
        schema=ERROR_SCHEMA,
    )


def _check(n_subjects: int, seed: int) -> None:
    if n_subjects < 1:
        raise InvalidInput(f"a population needs at least one subject, got {n_subjects}")
    if seed < 0:
        raise InvalidInput(f"the seed must not be negative, got {seed}")


def generate_blocks(
    n_subjects: int,
    *,
    seed: int,
    as_of: date,
    scenario: Scenario | None = None,
    facts: PolicyFacts | None = None,
    errors: ErrorSpec | None = None,
) -> Iterator[Block]:
    """The population, one block of :data:`BLOCK` subjects (ids from 1) at a time."""
    _check(n_subjects, seed)
    scenario = scenario or Scenario()
    facts = facts or PolicyFacts()
    next_record = 1
    next_fabricated = FABRICATED_ID_BASE
    empty_errors = ERROR_SCHEMA.empty_table()
    for block in range(math.ceil(n_subjects / BLOCK)):
        first_id = block * BLOCK + 1
        draw = _Draw(
            block=block,
            first_id=first_id,
            n=min(BLOCK, n_subjects - block * BLOCK),
            seed=seed,
            as_of=as_of,
            scenario=scenario,
            facts=facts,
        )
        draw.subjects()
        draw.records()
        subjects, columns = draw.finish(next_record)
        next_record += columns["record_id"].size
        error_table = empty_errors
        if errors is not None and errors.share > 0:
            columns, wrong = _inject(draw, columns, errors, seed, block, next_fabricated)
            next_fabricated += int((wrong["error"] == 1).sum())
            error_table = _error_table(wrong)
        done = Block(
            index=block,
            subjects=subjects,
            records=_record_table(draw.ids, columns),
            demographics=draw.demographics(),
            errors=error_table,
        )
        # Only the finished tables outlive the block: memory stays one block's worth.
        del draw, columns
        yield done
        del done


def write_population(
    directory: Path,
    n_subjects: int,
    *,
    seed: int,
    as_of: date,
    scenario: Scenario | None = None,
    facts: PolicyFacts | None = None,
    errors: ErrorSpec | None = None,
    chunk_subjects: int = DEFAULT_CHUNK,
    progress: Callable[[int, int], None] | None = None,
) -> WriteSummary:
    """Write the population under ``directory`` (see the module docstring), streaming.

    ``directory`` must not hold a population already. Everything is written into a
    hidden directory beside it first and moved into place at the end, so a failure
    leaves nothing half-written. ``progress(done, total)`` counts subjects.
    """
    _check(n_subjects, seed)
    if chunk_subjects < BLOCK or chunk_subjects % BLOCK:
        raise InvalidInput(f"chunk_subjects must be a multiple of {BLOCK}, got {chunk_subjects}")
    for table in (SUBJECTS, RECORDS, DEMOGRAPHICS, ERRORS):
        if (directory / table).exists():
            raise InvalidInput(
                f"{directory / table}: already exists; write the population to a new "
                "directory (nothing was changed)"
            )
    scenario = scenario or Scenario()
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".population-", dir=directory))
    try:
        summary = _write(
            staging, n_subjects, seed, as_of, scenario, facts, errors, chunk_subjects, progress
        )
        manifest = {
            "generator": "trustledger.synth.columnar",
            "subjects": summary.subjects,
            "records": summary.records,
            "errors": summary.errors,
            "seed": seed,
            "as_of": as_of.isoformat(),
            "scenario": scenario.model_dump(mode="json"),
            "error_share": errors.share if errors else 0.0,
            "misattributed_share": errors.misattributed if errors else None,
            "window_years": WINDOW_YEARS,
            "chunk_subjects": chunk_subjects,
        }
        (staging / "population.json").write_text(
            json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        for item in sorted(staging.iterdir()):
            item.replace(directory / item.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return WriteSummary(directory, summary.subjects, summary.records, summary.parts, summary.errors)


def _write(
    staging: Path,
    n_subjects: int,
    seed: int,
    as_of: date,
    scenario: Scenario,
    facts: PolicyFacts | None,
    errors: ErrorSpec | None,
    chunk_subjects: int,
    progress: Callable[[int, int], None] | None,
) -> WriteSummary:
    tables = [SUBJECTS, RECORDS, DEMOGRAPHICS] + ([ERRORS] if errors and errors.share else [])
    schemas = {
        SUBJECTS: SUBJECT_SCHEMA,
        RECORDS: RECORD_SCHEMA,
        DEMOGRAPHICS: DEMOGRAPHIC_SCHEMA,
        ERRORS: ERROR_SCHEMA,
    }
    for table in tables:
        (staging / table).mkdir()
    blocks_per_part = chunk_subjects // BLOCK
    writers: dict[str, pq.ParquetWriter] = {}
    subjects = records = wrong = parts = 0
    try:
        for block in generate_blocks(
            n_subjects, seed=seed, as_of=as_of, scenario=scenario, facts=facts, errors=errors
        ):
            if block.index % blocks_per_part == 0:
                for writer in writers.values():
                    writer.close()
                name = f"part-{parts:05d}.parquet"
                writers = {
                    t: pq.ParquetWriter(staging / t / name, schemas[t], compression="zstd")
                    for t in tables
                }
                parts += 1
            parts_of = {
                SUBJECTS: block.subjects,
                RECORDS: block.records,
                DEMOGRAPHICS: block.demographics,
                ERRORS: block.errors,
            }
            for t in tables:
                writers[t].write_table(parts_of[t])
            subjects += block.subjects.num_rows
            records += block.records.num_rows
            wrong += block.errors.num_rows
            del block, parts_of
            if progress is not None:
                progress(subjects, n_subjects)
    finally:
        for writer in writers.values():
            writer.close()
    return WriteSummary(staging, subjects, records, parts, wrong)
