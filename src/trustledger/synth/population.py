"""A deterministic synthetic population: persons, organisations and their records.

``trustledger demo`` and the benchmarks need a registry that looks lived in: thousands of
subjects with valid identifiers and Chinese names, and records from every provider of the
example catalogue (``docs/catalogue.md``) in a realistic mix. Everything comes from
one ``random.Random(seed)``, so a seed always gives the same population, byte for byte.

The mix. Each subject has a latent *risk*: most are reliable, over a quarter strained now
and then, a few in real trouble. Negative events arrive at rates proportional to risk
(serious ones to risk squared), so bad records cluster in a minority of subjects, as they
do in real registers. Routine records (a year of on-time loan repayments, a filed annual
report) make up most files; borrowers hold a steady number of loans, renewed as they are
repaid, and a few dedicated volunteers account for most civic records. Scored with
``policies/example-city.toml`` the default population (10,000 subjects, seed 42) grades
about 3% AAA and 6% AA, 76% A, 12% B, 3% C and under 1% D; about 3.5% of subjects are on
the black list (2% as judgment debtors who do not perform) and 2% on the red list.
``tests/test_synth.py`` keeps it that way.

>>> from datetime import date
>>> population = generate(200, seed=7, as_of=date(2025, 6, 30))
>>> len(population.subjects), population.subjects[0].key
(200, 'P000001')
>>> population == generate(200, seed=7, as_of=date(2025, 6, 30))
True
"""

from __future__ import annotations

import csv
import gc
import json
import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import accumulate
from operator import itemgetter
from pathlib import Path
from random import Random
from typing import IO, Any, Final

from trustledger.domain.batch import BATCH_FIELDS
from trustledger.domain.duration import add_months
from trustledger.domain.identifiers import USCC_CHARSET, make_ric, make_uscc
from trustledger.domain.subject import SubjectKind
from trustledger.synth import names
from trustledger.synth.names import Region

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

PERSON: Final = SubjectKind.PERSON
ORGANISATION: Final = SubjectKind.ORGANISATION
_BOTH: Final = frozenset({PERSON, ORGANISATION})

#: Records start at most this many months before ``as_of``.
WINDOW_MONTHS: Final = 72
#: The records per subject the default mix produces, and what ``records_per_subject``
#: scales the routine (non-negative) activity against.
DEFAULT_RECORDS_PER_SUBJECT: Final = 20.0

#: The columns of a provider file, in order: the batch fields less ``action`` (the
#: generator only ever creates records).
FIELDS: Final = tuple(f for f in BATCH_FIELDS if f != "action")


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """A provider of the example catalogue and how its synthetic file looks."""

    name: str
    kind: str
    prefix: str  # of its references: "ICT-2025-000123"
    file_format: str  # "csv" or "jsonl"


@dataclass(frozen=True, slots=True)
class RecordTypeSpec:
    """A record type of the example catalogue and the provider granted it."""

    name: str
    domain: str
    points: int
    applies_to: frozenset[SubjectKind]
    provider: str


# Kept in step with docs/catalogue.md; tests/test_synth.py checks that the files
# written cover every provider. Formats alternate so that both ingest paths get exercised.
PROVIDERS: Final[Mapping[str, ProviderSpec]] = {
    p.name: p
    for p in (
        ProviderSpec("intermediate_court", "court", "ICT", "jsonl"),
        ProviderSpec("tax_bureau", "tax_office", "TAX", "csv"),
        ProviderSpec("city_commercial_bank", "bank", "BNK", "jsonl"),
        ProviderSpec("water_power_utility", "utility", "UTL", "csv"),
        ProviderSpec("city_rail_transit", "transit_operator", "RAIL", "jsonl"),
        ProviderSpec("traffic_police", "police", "TPB", "csv"),
        ProviderSpec("market_regulator", "regulator", "AMR", "jsonl"),
        ProviderSpec("labour_inspectorate", "inspector", "LAB", "csv"),
        ProviderSpec("food_inspectorate", "inspector", "FDI", "jsonl"),
        ProviderSpec("civic_affairs_office", "agency", "CIV", "csv"),
        ProviderSpec("blood_centre", "agency", "BLD", "csv"),
    )
}

_P, _O, _B = frozenset({PERSON}), frozenset({ORGANISATION}), _BOTH
RECORD_TYPES: Final[Mapping[str, RecordTypeSpec]] = {
    r.name: r
    for r in (
        RecordTypeSpec("loan_overdue_30d", "finance", -20, _B, "city_commercial_bank"),
        RecordTypeSpec("loan_default_90d", "finance", -80, _B, "city_commercial_bank"),
        RecordTypeSpec("credit_card_overdue", "finance", -10, _P, "city_commercial_bank"),
        RecordTypeSpec("utility_arrears", "finance", -10, _B, "water_power_utility"),
        RecordTypeSpec("loan_repaid_on_time", "finance", 10, _B, "city_commercial_bank"),
        RecordTypeSpec("court_judgment_unfulfilled", "judicial", -150, _B, "intermediate_court"),
        RecordTypeSpec("court_judgment_fulfilled_late", "judicial", -30, _B, "intermediate_court"),
        RecordTypeSpec("fraud_conviction", "judicial", -200, _B, "intermediate_court"),
        RecordTypeSpec("tax_arrears", "tax", -100, _B, "tax_bureau"),
        RecordTypeSpec("tax_filing_late", "tax", -15, _B, "tax_bureau"),
        RecordTypeSpec("tax_evasion_confirmed", "tax", -250, _B, "tax_bureau"),
        RecordTypeSpec("tax_grade_a_taxpayer", "tax", 30, _O, "tax_bureau"),
        RecordTypeSpec("false_advertising_penalty", "commerce", -60, _O, "market_regulator"),
        RecordTypeSpec("product_quality_violation", "commerce", -80, _O, "market_regulator"),
        RecordTypeSpec("business_licence_revoked", "commerce", -200, _O, "market_regulator"),
        RecordTypeSpec("abnormal_operations_listing", "commerce", -40, _O, "market_regulator"),
        RecordTypeSpec("wage_arrears", "commerce", -120, _O, "labour_inspectorate"),
        RecordTypeSpec("annual_report_filed", "commerce", 5, _O, "market_regulator"),
        RecordTypeSpec("fare_evasion", "transport", -5, _P, "city_rail_transit"),
        RecordTypeSpec("train_seat_occupation", "transport", -10, _P, "city_rail_transit"),
        RecordTypeSpec("traffic_violation_serious", "transport", -20, _P, "traffic_police"),
        RecordTypeSpec("food_inspection_excellent", "food_safety", 20, _O, "food_inspectorate"),
        RecordTypeSpec("food_inspection_fail", "food_safety", -60, _O, "food_inspectorate"),
        RecordTypeSpec("food_safety_major_incident", "food_safety", -300, _O, "food_inspectorate"),
        RecordTypeSpec("volunteer_service", "civic", 5, _P, "civic_affairs_office"),
        RecordTypeSpec("blood_donation", "civic", 15, _P, "blood_centre"),
        RecordTypeSpec("civic_award", "civic", 50, _B, "civic_affairs_office"),
        RecordTypeSpec("charitable_donation", "civic", 10, _B, "civic_affairs_office"),
    )
}


@dataclass(frozen=True, slots=True)
class SyntheticSubject:
    """A person or organisation of the synthetic population."""

    key: str  # "P000001" or "O000001", stable for a seed
    kind: SubjectKind
    name: str
    name_pinyin: str
    id_kind: str  # "cn_ric" or "uscc"
    id_value: str
    region: str  # GB/T 2260 district code
    address: str
    phone: str  # an 11-digit mobile for a person, "0755-86001234" for an organisation
    birth_date: date | None = None  # persons only


@dataclass(frozen=True, slots=True)
class SyntheticRecord:
    """One record as a provider would submit it."""

    subject_key: str
    provider: str
    record_type: str
    valid_from: date
    valid_to: date | None
    reference: str  # unique per provider: "ICT-2025-000123"
    amount: Decimal | None  # yuan, two decimals
    note: str | None


@dataclass(frozen=True, slots=True)
class Population:
    """The subjects and records :func:`generate` made for ``seed`` and ``as_of``."""

    subjects: list[SyntheticSubject]
    records: list[SyntheticRecord]
    as_of: date
    seed: int


# --- drawing helpers -----------------------------------------------------------------

# A record under construction: (valid_from ordinal, record type, subject key,
# valid_to ordinal or None, amount in fen or None, note or None).
_Raw = tuple[int, str, str, int | None, int | None, str | None]
_Emit = Callable[[str, int, int | None, int | None, str | None], None]


def _cumulative(weights: list[int]) -> list[int]:
    return list(accumulate(weights))


_REGION_CUM: Final = _cumulative([r.weight for r in names.REGIONS])
_SURNAME_CUM: Final = _cumulative([w for _, w in names.SURNAMES])
_SURNAMES: Final = [s for s, _ in names.SURNAMES]
_INDUSTRY_CUM: Final = _cumulative([i.weight for i in names.INDUSTRIES])
_FORM_CUM: Final = _cumulative([w for _, w in names.COMPANY_FORMS])
_TRADE_CHARS: Final = sorted(set("".join(names.TRADE_NAMES)))
# Born 18-29, 30s, 40s, 50s, 60s, 70-85: rough shares of China's adult population.
_AGE_BANDS: Final = ((18, 29), (30, 39), (40, 49), (50, 59), (60, 69), (70, 85))
_AGE_CUM: Final = _cumulative([20, 18, 20, 19, 14, 9])
# Company, individual business, farmers' co-operative, civil-affairs organisation.
_ORG_SORT_CUM: Final = _cumulative([78, 14, 3, 5])
# Organisation codes with an "MA" prefix replaced numeric ones after the USCC reform.
_MA_SINCE: Final = date(2015, 10, 1).toordinal()


def _poisson(rnd: Callable[[], float], lam: float) -> int:
    """A Poisson draw; the rates here are small, so Knuth's method is quick enough."""
    if lam <= 0.0:
        return 0
    if lam > 30.0:
        # Never reached at the default settings; keeps huge records_per_subject sane.
        return max(0, round(lam + math.sqrt(lam) * (sum(rnd() for _ in range(12)) - 6.0)))
    limit = math.exp(-lam)
    k, p = 0, rnd()
    while p > limit:
        k += 1
        p *= rnd()
    return k


def _log_uniform_fen(rnd: Callable[[], float], low: float, high: float, step: int = 1) -> int:
    """An amount between ``low`` and ``high`` yuan, in fen, rounded to ``step`` fen."""
    yuan = math.exp(math.log(low) + rnd() * (math.log(high) - math.log(low)))
    return max(step, round(yuan * 100 / step) * step)


def _minor(risk: float) -> float:
    """How much more often than usual minor negative events come at ``risk``.

    A little faster than risk, so that the reliable majority gets few of them and the
    strained many; capped, because even the worst payer misses a card payment a few times
    a year, not every week (serious records are what set them apart).
    """
    return math.pow(min(risk, 6.0), 1.25)


def _years_before(day: date, years: int) -> date:
    return add_months(day, -12 * years)


# Risk tiers (see _Generator.risk): share of subjects, and mu and sigma of their
# log-normal risk. The rest (about 65%) are reliable, with a median risk of 0.6.
_RISK_TIERS: Final = (
    (0.02, 3.4, 0.3),  # stopped paying anyone: median 30
    (0.05, 2.3, 0.4),  # in real trouble: median 10
    (0.28, 1.4, 0.4),  # strained now and then: median 4
)
# The chance per loan-year of a default (times risk squared) and of a 30-day overdue
# (times _minor(risk)).
_LOAN_DEFAULT: Final = 0.002
_LOAN_OVERDUE: Final = 0.085

# Yearly rates at risk 1 (a little worse than the median subject). Minor events scale
# with _minor(risk), serious ones with risk ** 1.5 or risk squared.
# For abnormal_operations_listing and the food inspections the number is a probability:
# of missing a year's report, of failing or (divided by risk) excelling in an inspection.
# For tax_grade_a_taxpayer it is the yearly chance, divided by risk. Calibrated against
# policies/example-city.toml; see the module docstring for what they produce.
_Rates = Mapping[str, float]
_PERSON_RATES: Final[_Rates] = {
    "credit_card_overdue": 0.18,
    "utility_arrears": 0.09,
    "fare_evasion": 0.13,
    "train_seat_occupation": 0.003,
    "traffic_violation_serious": 0.065,
    "tax_filing_late": 0.045,
    "tax_arrears": 0.003,
    "tax_evasion_confirmed": 0.00004,
    "court_judgment_fulfilled_late": 0.009,
    "court_judgment_unfulfilled": 0.0003,
    "fraud_conviction": 0.00007,
}
_ORG_RATES: Final[_Rates] = {
    "business_licence_revoked": 0.0006,
    "tax_grade_a_taxpayer": 0.035,
    "wage_arrears": 0.004,
    "utility_arrears": 0.045,
    "tax_filing_late": 0.05,
    "tax_arrears": 0.008,
    "tax_evasion_confirmed": 0.0002,
    "false_advertising_penalty": 0.009,
    "product_quality_violation": 0.013,
    "court_judgment_fulfilled_late": 0.008,
    "court_judgment_unfulfilled": 0.0008,
    "fraud_conviction": 0.0001,
    "abnormal_operations_listing": 0.04,
    "food_inspection_excellent": 0.25,
    "food_inspection_fail": 0.04,
    "food_safety_major_incident": 0.0006,
}

# How many loans subjects hold at once: 0, 1, 2, 3, 4 (weights).
_PERSON_SLOTS_CUM: Final = _cumulative([11, 34, 45, 7, 3])
_COMPANY_SLOTS_CUM: Final = _cumulative([12, 33, 35, 12, 8])
_SMALL_BUSINESS_SLOTS_CUM: Final = _cumulative([50, 40, 10])

# (label, shortest and longest term in years, yearly repayment range in yuan)
_LoanKinds = tuple[tuple[str, int, int, float, float], ...]
_PERSON_LOANS: Final = (
    ("个人消费贷款", 1, 3, 6_000, 60_000),
    ("个人消费贷款", 1, 3, 6_000, 60_000),
    ("汽车贷款", 3, 5, 20_000, 90_000),
    ("个人住房贷款", 10, 30, 30_000, 240_000),
)
_BUSINESS_LOANS: Final = (
    ("流动资金贷款", 1, 3, 100_000, 5_000_000),
    ("固定资产贷款", 3, 10, 200_000, 20_000_000),
    ("小微企业经营贷款", 1, 3, 50_000, 1_000_000),
)
_SMALL_BUSINESS_LOANS: Final = (("个体工商户经营贷款", 1, 3, 20_000, 300_000),)
# Notes shared between records rather than formatted for each: a million copies of the
# same few strings would cost more memory than the records themselves.
_REPAID: Final = {
    label: f"{label}，12期按时还款"
    for label, *_ in _PERSON_LOANS + _BUSINESS_LOANS + _SMALL_BUSINESS_LOANS
}
_VOLUNTEER_NOTES: Final = tuple(f"社区志愿服务{hours}小时" for hours in range(2, 9))
_WHOLE_BLOOD_NOTES: Final = tuple(f"全血{ml}毫升" for ml in (200, 300, 400))
_TRAFFIC: Final = (
    "驾驶机动车超速50%以上",
    "饮酒后驾驶机动车",
    "驾驶机动车闯红灯",
    "机动车驾驶人未按规定让行",
)


def _traffic_note(day: int) -> str:
    return _TRAFFIC[day % len(_TRAFFIC)]


# --- generation ----------------------------------------------------------------------


class _Generator:
    """One run of :func:`generate`; holds the random stream and what must stay unique."""

    def __init__(self, seed: int, as_of: date, volume: float) -> None:
        self.rng = Random(seed)
        self.rnd = self.rng.random
        self.as_of = as_of
        self.end = as_of.toordinal()
        self.start = add_months(as_of, -WINDOW_MONTHS).toordinal()
        self.volume = volume
        self.ids: set[str] = set()
        self.org_names: set[str] = set()
        self.raw: list[_Raw] = []
        # Blood donors are 18-60 years old.
        self.donor_born_after = add_months(as_of, -12 * 60).toordinal()

    # small draws -----------------------------------------------------------------

    def pick(self, cum: list[int]) -> int:
        """An index drawn with the cumulative weights ``cum``."""
        target = self.rnd() * cum[-1]
        lo, hi = 0, len(cum) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if cum[mid] > target:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def below(self, n: int) -> int:
        return int(self.rnd() * n)

    def spaced_days(self, first: int, last: int, rate: float, *, min_gap: int) -> list[int]:
        """Ordinals in [first, last] about ``rate`` a year, never closer than ``min_gap``
        days (a renewal process: the minimum gap plus an exponential wait)."""
        if rate <= 0.0:
            return []
        mean_wait = max(365.25 / rate - min_gap, 1.0)
        days: list[int] = []
        day = first + int(-math.log(1.0 - self.rnd()) * mean_wait)
        while day <= last:
            days.append(day)
            day += min_gap + int(-math.log(1.0 - self.rnd()) * mean_wait)
        return days

    def day_between(self, first: int, last: int) -> int:
        """An ordinal in [first, last]."""
        return first + int(self.rnd() * (last - first + 1))

    def risk(self) -> float:
        """A subject's latent unreliability; negative events arrive in proportion to it.

        Most subjects are reliable, over a quarter are strained now and then, a few are
        in real trouble and a very few have stopped paying anyone: that is where the bad
        records cluster, as they do in real registers.
        """
        roll = self.rnd()
        for share, mu, sigma in _RISK_TIERS:
            if roll < share:
                return self.rng.lognormvariate(mu, sigma)
            roll -= share
        return self.rng.lognormvariate(-0.5, 0.5)  # median 0.6

    def region(self) -> Region:
        return names.REGIONS[self.pick(_REGION_CUM)]

    def address(self, region: Region, *, home: bool) -> str:
        place = region.city if region.province == region.city else region.province + region.city
        road = names.ROADS[self.below(len(names.ROADS))]
        number = 1 + self.below(399)
        if home:
            return f"{place}{region.district}{road}{number}号{1 + self.below(30)}栋{self.room()}室"
        return f"{place}{region.district}{road}{number}号{self.room()}室"

    def landline(self, region: Region) -> str:
        # Xiamen kept 7-digit local numbers; the other cities here have 8. None start 0/1.
        digits = 7 if region.area_code == "0592" else 8
        first = 2 + self.below(7)
        rest = self.below(10 ** (digits - 1))
        return f"{region.area_code}-{first}{rest:0{digits - 1}d}"

    def room(self) -> int:
        return (1 + self.below(32)) * 100 + 1 + self.below(12)

    # subjects --------------------------------------------------------------------

    def person(self, number: int, emit_for: Callable[[str], _Emit]) -> SyntheticSubject:
        rnd = self.rnd
        key = f"P{number:06d}"
        region = self.region()
        low, high = _AGE_BANDS[self.pick(_AGE_CUM)]
        age = low + self.below(high - low + 1)
        youngest = _years_before(self.as_of, age).toordinal()
        oldest = _years_before(self.as_of, age + 1).toordinal() + 1
        born = date.fromordinal(self.day_between(oldest, youngest))
        male = rnd() < 0.5
        while True:
            sequence = 2 * self.below(500) + (1 if male else 0)
            ric = make_ric(region.code, born, sequence)
            if ric not in self.ids:
                self.ids.add(ric)
                break
        surname = _SURNAMES[self.pick(_SURNAME_CUM)]
        modern = born.year >= 1980
        if rnd() < 0.2:
            modern = not modern  # fashions overlap
        if male:
            pool = names.MALE_MODERN if modern else names.MALE_CLASSIC
        else:
            pool = names.FEMALE_MODERN if modern else names.FEMALE_CLASSIC
        given = pool[self.below(len(pool))]
        if rnd() < 0.75:
            given += pool[self.below(len(pool))]
        prefix = names.MOBILE_PREFIXES[self.below(len(names.MOBILE_PREFIXES))]
        subject = SyntheticSubject(
            key=key,
            kind=PERSON,
            name=surname + given,
            name_pinyin=names.romanise([surname, given]),
            id_kind="cn_ric",
            id_value=ric,
            region=region.code,
            address=self.address(region, home=True),
            phone=f"{prefix}{self.below(100_000_000):08d}",
            birth_date=born,
        )
        adult = max(self.start, add_months(born, 12 * 18).toordinal())
        emit = emit_for(key)
        before = len(self.raw)
        self.person_records(emit, adult, born, region)
        if len(self.raw) == before:
            self.fallback(emit, adult, "loan_repaid_on_time", _PERSON_LOANS[0])
        return subject

    def org_name(self, region: Region) -> tuple[str, str, str, str, bool, bool]:
        """(name, pinyin, authority, category, food business, manufacturer)."""
        sort = self.pick(_ORG_SORT_CUM)
        for _ in range(50):
            if self.rnd() < 0.4:
                trade = names.TRADE_NAMES[self.below(len(names.TRADE_NAMES))]
            else:
                trade = "".join(_TRADE_CHARS[self.below(len(_TRADE_CHARS))] for _ in range(2))
            city = region.city.removesuffix("市")
            district = region.district.removesuffix("区").removesuffix("新")
            food = manufacturing = False
            if sort == 0:
                industry = names.INDUSTRIES[self.pick(_INDUSTRY_CUM)]
                form = names.COMPANY_FORMS[self.pick(_FORM_CUM)][0]
                words = [city, trade, industry.words, form]
                name = region.city + trade + industry.words + form
                authority, category = "9", "1"
                food, manufacturing = industry.food, industry.manufacturing
            elif sort == 1:
                shop, food = names.SHOPS[self.below(len(names.SHOPS))]
                words = [district, trade, shop]
                name = region.district + trade + shop
                authority, category = "9", "2"
            elif sort == 2:
                grows = names.COOPERATIVES[self.below(len(names.COOPERATIVES))]
                words = [district, trade, grows, "专业 合作社"]
                name = region.district + trade + grows + "专业合作社"
                authority, category = "9", "3"
            else:
                pattern, authority, category = names.SOCIAL_ORGANISATIONS[
                    self.below(len(names.SOCIAL_ORGANISATIONS))
                ]
                what = pattern.format(trade=trade)
                words = [city, what]
                name = region.city + what
            name = name.replace(" ", "")
            if name not in self.org_names:
                self.org_names.add(name)
                return name, names.romanise(words), authority, category, food, manufacturing
        raise RuntimeError("could not find an unused organisation name")  # pragma: no cover

    def organisation(self, number: int, emit_for: Callable[[str], _Emit]) -> SyntheticSubject:
        key = f"O{number:06d}"
        region = self.region()
        name, pinyin, authority, category, food, manufacturing = self.org_name(region)
        # A quarter were founded inside the window; the rest up to 25 years before it.
        if self.rnd() < 0.25:
            founded = self.day_between(self.start, self.end - 90)
        else:
            founded = self.start - 1 - self.below(25 * 365)
        while True:
            if founded >= _MA_SINCE:
                body = "MA" + "".join(USCC_CHARSET[self.below(len(USCC_CHARSET))] for _ in range(6))
            else:
                body = f"{self.below(100_000_000):08d}"
            uscc = make_uscc(authority, category, region.code, body)
            if uscc not in self.ids:
                self.ids.add(uscc)
                break
        subject = SyntheticSubject(
            key=key,
            kind=ORGANISATION,
            name=name,
            name_pinyin=pinyin,
            id_kind="uscc",
            id_value=uscc,
            region=region.code,
            address=self.address(region, home=False),
            phone=self.landline(region),
        )
        emit = emit_for(key)
        before = len(self.raw)
        self.org_records(
            emit,
            founded,
            region,
            company=authority == "9" and category == "1",
            files_reports=authority == "9",
            food=food,
            manufacturing=manufacturing,
        )
        if len(self.raw) == before:
            first = max(self.start, founded + 30)
            if authority == "9":
                self.fallback(emit, first, "loan_repaid_on_time", _SMALL_BUSINESS_LOANS[0])
            else:
                self.fallback(emit, first, "charitable_donation", ("", 0, 0, 1_000, 100_000))
        return subject

    def fallback(
        self, emit: _Emit, first: int, record_type: str, kind: tuple[str, int, int, float, float]
    ) -> None:
        """One routine record for a subject that drew none: the registry only learns of
        subjects through records, and the demo promises every subject it generates."""
        label, _, _, low, high = kind
        note = _REPAID.get(label)
        fen = _log_uniform_fen(self.rnd, low, high, 100)
        emit(record_type, self.day_between(first, self.end), None, fen, note)

    # records ---------------------------------------------------------------------

    def many(
        self,
        emit: _Emit,
        record_type: str,
        rate: float,
        first: int,
        last: int,
        amount: tuple[float, float, int] | None = None,
        note: Callable[[int], str | None] | None = None,
    ) -> None:
        """Emit a Poisson number of ``record_type`` events, ``rate`` a year, in the span.

        ``amount`` is (lowest, highest yuan, rounding step in fen); ``note`` makes the
        note from the day.
        """
        if last < first or rate <= 0.0:
            return
        rnd = self.rnd
        for _ in range(_poisson(rnd, rate * (last - first + 1) / 365.25)):
            day = first + int(rnd() * (last - first + 1))
            fen = _log_uniform_fen(rnd, *amount) if amount else None
            emit(record_type, day, None, fen, note(day) if note else None)

    def state(
        self,
        emit: _Emit,
        record_type: str,
        day: int,
        resolved_share: float,
        days_to_resolve: tuple[int, int],
        amount: tuple[float, float, int] | None = None,
    ) -> None:
        """A fact that lasts: most end (``valid_to``) some days later, unless that would
        be after ``as_of``, in which case it is still open."""
        until: int | None = None
        if self.rnd() < resolved_share:
            until = day + self.day_between(*days_to_resolve)
            if until > self.end:
                until = None
        fen = _log_uniform_fen(self.rnd, *amount) if amount else None
        emit(record_type, day, until, fen, None)

    def states(
        self,
        emit: _Emit,
        record_type: str,
        rate: float,
        first: int,
        last: int,
        amount: tuple[float, float, int],
    ) -> None:
        """Tax arrears: three in four are paid within about a year."""
        if last < first:
            return
        for _ in range(_poisson(self.rnd, rate * (last - first + 1) / 365.25)):
            day = self.day_between(first, last)
            self.state(emit, record_type, day, 0.75, (20, 400), amount)

    def slots(self, cum: list[int]) -> int:
        """How many loans a subject runs at once, scaled by ``records_per_subject``."""
        slots = self.pick(cum)
        if self.volume != 1.0:
            slots = int(slots * self.volume + self.rnd())
        return slots

    def loans(
        self, emit: _Emit, first: int, last: int, risk: float, slots: int, kinds: _LoanKinds
    ) -> None:
        """Loans, run in ``slots`` parallel lines: when one is repaid the next follows
        within months, so most borrowers hold a steady number of loans. Each year of a loan
        ends repaid on time, 30 days overdue, or in a default that ends the line for good."""
        rnd = self.rnd
        p_default = min(0.3, _LOAN_DEFAULT * risk * risk)
        p_overdue = min(0.6, _LOAN_OVERDUE * _minor(risk))
        for _ in range(slots):
            if first > self.start:  # came of age or was founded in the window
                opened = first + self.below(730)
            else:
                opened = first - self.below(3 * 365)
            while opened < last - 60:
                label, term_low, term_high, low, high = kinds[self.below(len(kinds))]
                term = term_low + self.below(term_high - term_low + 1)
                yearly = _log_uniform_fen(rnd, low, high, 100)
                defaulted = False
                for year in range(1, term + 1):
                    closes = opened + 365 * year
                    if closes > last:
                        break
                    if closes < first:
                        continue
                    roll = rnd()
                    if roll < p_default:
                        day = self.day_between(max(first, closes - 364), closes)
                        emit("loan_default_90d", day, None, yearly * (term - year + 1), label)
                        defaulted = True
                        break
                    if roll < p_default + p_overdue:
                        day = self.day_between(max(first, closes - 364), closes)
                        emit("loan_overdue_30d", day, None, yearly // 12, label)
                    else:
                        emit("loan_repaid_on_time", closes, None, yearly, _REPAID[label])
                if defaulted:
                    break
                opened += 365 * term + self.below(120)

    def court(
        self, emit: _Emit, first: int, last: int, risk: float, region: Region, rates: _Rates
    ) -> None:
        """Judgments of the region's intermediate court, numbered like real case numbers:
        ``(2024)粤03执1234号`` is the 1234th enforcement case of Shenzhen's court in 2024."""
        court = f"{region.abbreviation}{region.code[2:4]}"
        below = self.below

        def case(kind: str) -> Callable[[int], str]:
            return lambda day: f"({date.fromordinal(day).year}){court}{kind}{1 + below(9000)}号"

        risk2 = risk * risk
        for record_type, scale, amount, kind in (
            ("court_judgment_fulfilled_late", _minor(risk), (3_000, 800_000, 100), "执"),
            ("court_judgment_unfulfilled", risk2, (5_000, 2_000_000, 100), "执"),
            ("fraud_conviction", risk2, (50_000, 5_000_000, 100), "刑初"),
        ):
            self.many(
                emit, record_type, rates[record_type] * scale, first, last, amount, case(kind)
            )

    def person_records(self, emit: _Emit, first: int, born: date, region: Region) -> None:
        rnd, last, volume, many, r = self.rnd, self.end, self.volume, self.many, _PERSON_RATES
        risk = self.risk()
        risk2, minor = risk * risk, _minor(risk)
        # Finance: loans carry most of a file.
        self.loans(emit, first, last, risk, self.slots(_PERSON_SLOTS_CUM), _PERSON_LOANS)
        if rnd() < 0.55:
            many(
                emit,
                "credit_card_overdue",
                r["credit_card_overdue"] * minor,
                first,
                last,
                (200, 30_000, 1),
            )
        many(emit, "utility_arrears", r["utility_arrears"] * minor, first, last, (80, 3_000, 1))
        # Transport: riders and drivers only.
        if rnd() < 0.5:
            many(emit, "fare_evasion", r["fare_evasion"] * minor, first, last, (4, 60, 100))
            many(emit, "train_seat_occupation", r["train_seat_occupation"] * minor, first, last)
        if rnd() < 0.45:
            many(
                emit,
                "traffic_violation_serious",
                r["traffic_violation_serious"] * minor,
                first,
                last,
                (200, 2_000, 10_000),
                _traffic_note,
            )
        # Tax: the yearly reconciliation of individual income tax.
        many(
            emit, "tax_filing_late", r["tax_filing_late"] * minor, first, last, (200, 2_000, 5_000)
        )
        self.states(
            emit, "tax_arrears", r["tax_arrears"] * risk**1.5, first, last, (1_000, 80_000, 100)
        )
        many(
            emit,
            "tax_evasion_confirmed",
            r["tax_evasion_confirmed"] * risk2,
            first,
            last,
            (50_000, 2_000_000, 100),
        )
        self.court(emit, first, last, risk, region, r)
        # Civic activity: a few people do most of it, fewer of them among the unreliable.
        engaged = volume / (0.7 + 0.3 * min(risk, 4.0))
        roll = rnd()
        if roll < 0.11 * engaged:  # regular volunteers: a session most months
            rate = 4.0 + 8.0 * rnd()
        elif roll < 0.30 * engaged:  # now and then
            rate = 0.3 + 1.2 * rnd()
        else:
            rate = 0.0
        for day in self.spaced_days(first, last, rate, min_gap=7):
            emit(
                "volunteer_service",
                day,
                None,
                None,
                _VOLUNTEER_NOTES[self.below(len(_VOLUNTEER_NOTES))],
            )
        if born.toordinal() > self.donor_born_after:
            # The Blood Donation Law's intervals: six months between whole-blood
            # donations, two weeks between platelet (apheresis) donations.
            roll = rnd()
            if roll < 0.004 * engaged:
                rate, gap, what = 6.0 + 14.0 * rnd(), 14, "机采血小板1治疗量"
            elif roll < 0.035 * engaged:
                rate, gap, what = 0.4 + 1.4 * rnd(), 180, ""
            else:
                rate, gap, what = 0.0, 0, ""
            for day in self.spaced_days(first, last, rate, min_gap=gap):
                note = what or _WHOLE_BLOOD_NOTES[self.below(len(_WHOLE_BLOOD_NOTES))]
                emit("blood_donation", day, None, None, note)
        if rnd() < 0.12 * engaged:
            many(emit, "charitable_donation", 0.3 + rnd(), first, last, (50, 20_000, 100))
        many(emit, "civic_award", 0.002 * engaged, first, last)

    def org_records(
        self,
        emit: _Emit,
        founded: int,
        region: Region,
        *,
        company: bool,
        files_reports: bool,
        food: bool,
        manufacturing: bool,
    ) -> None:
        rnd, last, volume, many, r = self.rnd, self.end, self.volume, self.many, _ORG_RATES
        first = max(self.start, founded + 30)
        risk = self.risk()
        risk2, minor = risk * risk, _minor(risk)
        # A revoked licence ends the business: nothing routine follows it.
        if rnd() < r["business_licence_revoked"] * risk2 * (last - first + 1) / 365.25:
            revoked = self.day_between(first, last)
            emit("business_licence_revoked", revoked, None, None, None)
            last = revoked
        if files_reports:
            self.annual_reports(emit, founded, first, last, risk)
        if company:
            self.loans(emit, first, last, risk, self.slots(_COMPANY_SLOTS_CUM), _BUSINESS_LOANS)
            p_grade_a = min(0.6, r["tax_grade_a_taxpayer"] / risk)
            for year in range(self.as_of.year - WINDOW_MONTHS // 12, self.as_of.year + 1):
                day = date(year, 4, 1).toordinal() + self.below(30)
                # The grade is for the year before, so the company must have existed then.
                if founded < day - 365 and first <= day <= last and rnd() < p_grade_a:
                    emit("tax_grade_a_taxpayer", day, None, None, f"{year - 1}年度纳税信用A级")
            many(
                emit,
                "wage_arrears",
                r["wage_arrears"] * risk**1.5,
                first,
                last,
                (20_000, 2_000_000, 100),
            )
        elif files_reports:  # individual businesses and co-operatives borrow less
            slots = self.slots(_SMALL_BUSINESS_SLOTS_CUM)
            self.loans(emit, first, last, risk, slots, _SMALL_BUSINESS_LOANS)
        many(
            emit, "utility_arrears", r["utility_arrears"] * minor, first, last, (1_000, 200_000, 1)
        )
        many(
            emit, "tax_filing_late", r["tax_filing_late"] * minor, first, last, (200, 2_000, 5_000)
        )
        self.states(
            emit, "tax_arrears", r["tax_arrears"] * risk**1.5, first, last, (5_000, 2_000_000, 100)
        )
        many(
            emit,
            "tax_evasion_confirmed",
            r["tax_evasion_confirmed"] * risk2,
            first,
            last,
            (100_000, 20_000_000, 100),
        )
        if files_reports:
            many(
                emit,
                "false_advertising_penalty",
                r["false_advertising_penalty"] * minor,
                first,
                last,
                (10_000, 500_000, 100_000),
            )
        if manufacturing:
            many(
                emit,
                "product_quality_violation",
                r["product_quality_violation"] * minor,
                first,
                last,
                (5_000, 500_000, 100_000),
            )
        self.court(emit, first, last, risk, region, r)
        if food:
            self.food(emit, first, last, risk)
        if rnd() < 0.12 * volume:
            many(emit, "charitable_donation", 0.5, first, last, (5_000, 1_000_000, 100))
        many(emit, "civic_award", 0.003, first, last)

    def annual_reports(self, emit: _Emit, founded: int, first: int, last: int, risk: float) -> None:
        """Reports are due between 1 January and 30 June; missing one gets the business
        listed for abnormal operations, which it leaves once it files."""
        p_missed = min(0.6, _ORG_RATES["abnormal_operations_listing"] * _minor(risk))
        for year in range(self.as_of.year - WINDOW_MONTHS // 12, self.as_of.year + 1):
            jan1 = date(year, 1, 1).toordinal()
            if founded >= jan1:
                continue  # founded after the year the report is about
            if self.rnd() < p_missed:
                day = date(year, 7, 1).toordinal() + self.below(45)
                if first <= day <= last:
                    self.state(emit, "abnormal_operations_listing", day, 0.55, (30, 540))
                continue
            day = jan1 + 31 + self.below(150)
            if first <= day <= last:
                emit("annual_report_filed", day, None, None, f"{year - 1}年度报告")

    def food(self, emit: _Emit, first: int, last: int, risk: float) -> None:
        """Routine inspections, one or two a year; a plain pass leaves no record."""
        rnd = self.rnd
        p_excellent = min(0.5, _ORG_RATES["food_inspection_excellent"] / risk)
        p_fail = min(0.4, _ORG_RATES["food_inspection_fail"] * _minor(risk))
        for _ in range(_poisson(rnd, 1.5 * self.volume * (last - first + 1) / 365.25)):
            roll = rnd()
            day = self.day_between(first, last)
            if roll < p_fail:
                emit("food_inspection_fail", day, None, None, "日常监督检查不合格")
            elif roll < p_fail + p_excellent:
                emit("food_inspection_excellent", day, None, None, "餐饮服务食品安全等级A级")
        rate = _ORG_RATES["food_safety_major_incident"] * risk * risk
        self.many(
            emit, "food_safety_major_incident", rate, first, last, (50_000, 5_000_000, 100_000)
        )


def generate(
    n_subjects: int = 10_000,
    *,
    seed: int = 42,
    as_of: date,
    org_share: float = 0.2,
    records_per_subject: float = DEFAULT_RECORDS_PER_SUBJECT,
) -> Population:
    """Generate ``n_subjects`` subjects (``org_share`` of them organisations) and their
    records up to ``as_of``; the same arguments always give the same population.

    ``records_per_subject`` scales routine activity (loan accounts, civic activity, food
    inspections), so the record count follows it roughly while the share of subjects with
    negative records stays put.

    >>> population = generate(50, seed=1, as_of=date(2025, 1, 1), org_share=0.5)
    >>> sorted({s.kind.value for s in population.subjects})
    ['organisation', 'person']
    """
    if n_subjects < 0:
        raise ValueError(f"n_subjects must not be negative, got {n_subjects}")
    if not 0.0 <= org_share <= 1.0:
        raise ValueError(f"org_share must be between 0 and 1, got {org_share}")
    if records_per_subject <= 0:
        raise ValueError(f"records_per_subject must be positive, got {records_per_subject}")
    gen = _Generator(seed, as_of, records_per_subject / DEFAULT_RECORDS_PER_SUBJECT)
    raw = gen.raw
    append = raw.append

    def emit_for(key: str) -> _Emit:
        def emit(
            record_type: str, day: int, until: int | None, fen: int | None, note: str | None
        ) -> None:
            append((day, record_type, key, until, fen, note))

        return emit

    n_orgs = round(n_subjects * org_share)
    # Millions of small objects, none of them in a reference cycle: the cyclic garbage
    # collector would only rescan them over and over (a third of the run at 100,000
    # subjects), so it pauses while they are made.
    collecting = gc.isenabled()
    gc.disable()
    try:
        subjects = [gen.person(i, emit_for) for i in range(1, n_subjects - n_orgs + 1)]
        subjects += [gen.organisation(i, emit_for) for i in range(1, n_orgs + 1)]
        records = _finish(raw)
    finally:
        if collecting:
            gc.enable()
    return Population(subjects=subjects, records=records, as_of=as_of, seed=seed)


def _finish(raw: list[_Raw]) -> list[SyntheticRecord]:
    """Sort by date and number each provider's records in that order."""
    raw.sort(key=itemgetter(0))  # stable: ties keep generation order
    provider_of = {name: spec.provider for name, spec in RECORD_TYPES.items()}
    prefix_of = {name: spec.prefix for name, spec in PROVIDERS.items()}
    # Each provider numbers its records afresh every year, as registries do.
    counters: dict[tuple[str, int], int] = {}
    dates: dict[int, date] = {}
    decimals: dict[int, Decimal] = {}
    records: list[SyntheticRecord] = []
    add = records.append
    for day, record_type, key, until, fen, note in raw:
        provider = provider_of[record_type]
        valid_from = dates.get(day)
        if valid_from is None:
            valid_from = dates[day] = date.fromordinal(day)
        counter = (provider, valid_from.year)
        counters[counter] = number = counters.get(counter, 0) + 1
        amount: Decimal | None = None
        if fen is not None:
            amount = decimals.get(fen)
            if amount is None:
                amount = decimals[fen] = Decimal(fen).scaleb(-2)
        add(
            SyntheticRecord(
                key,
                provider,
                record_type,
                valid_from,
                None if until is None else date.fromordinal(until),
                f"{prefix_of[provider]}-{valid_from.year}-{number:06d}",
                amount,
                note,
            )
        )
    return records


# --- provider files ------------------------------------------------------------------


def record_row(record: SyntheticRecord, subject: SyntheticSubject) -> dict[str, str]:
    """A record as one row of its provider's file; empty strings where nothing applies.

    >>> from datetime import date
    >>> population = generate(30, seed=3, as_of=date(2025, 1, 1))
    >>> record = population.records[0]
    >>> subject = next(s for s in population.subjects if s.key == record.subject_key)
    >>> list(record_row(record, subject)) == list(FIELDS)
    True
    """
    return {
        "reference": record.reference,
        "subject_id_kind": subject.id_kind,
        "subject_id": subject.id_value,
        "subject_name": subject.name,
        "record_type": record.record_type,
        "valid_from": record.valid_from.isoformat(),
        "valid_to": "" if record.valid_to is None else record.valid_to.isoformat(),
        "amount": "" if record.amount is None else str(record.amount),
        "note": record.note or "",
    }


def write_provider_files(population: Population, directory: Path) -> dict[str, Path]:
    """Write one file per provider that has records, in trustledger's ingest format.

    Providers whose :attr:`ProviderSpec.file_format` is ``"csv"`` get UTF-8 CSV with a
    header row; the others get JSON Lines, where keys without a value are left out.
    Returns provider -> path, in catalogue order.

    >>> import tempfile
    >>> from datetime import date
    >>> population = generate(100, seed=5, as_of=date(2025, 1, 1))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = write_provider_files(population, Path(tmp))
    ...     paths["city_commercial_bank"].name
    'city_commercial_bank.jsonl'
    """
    directory.mkdir(parents=True, exist_ok=True)
    subjects = {s.key: s for s in population.subjects}
    writers: dict[str, Callable[[dict[str, str]], Any]] = {}
    paths: dict[str, Path] = {}
    with ExitStack() as stack:
        for record in population.records:
            write = writers.get(record.provider)
            if write is None:
                spec = PROVIDERS[record.provider]
                path = directory / f"{spec.name}.{spec.file_format}"
                handle: IO[str] = stack.enter_context(path.open("w", encoding="utf-8", newline=""))
                write = writers[record.provider] = _row_writer(handle, spec.file_format)
                paths[record.provider] = path
            write(record_row(record, subjects[record.subject_key]))
    return {name: paths[name] for name in PROVIDERS if name in paths}


def _row_writer(handle: IO[str], file_format: str) -> Callable[[dict[str, str]], Any]:
    if file_format == "csv":
        writer = csv.DictWriter(handle, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        return writer.writerow

    def write_json(row: dict[str, str]) -> None:
        present = {k: v for k, v in row.items() if v != ""}
        handle.write(json.dumps(present, ensure_ascii=False) + "\n")

    return write_json


def read_provider_file(path: Path) -> Iterator[dict[str, str]]:
    """Read back a file :func:`write_provider_files` wrote, as rows of strings."""
    with path.open(encoding="utf-8", newline="") as handle:
        if path.suffix == ".csv":
            yield from csv.DictReader(handle)
        else:
            for line in handle:
                row = json.loads(line)
                yield {name: row.get(name, "") for name in FIELDS}
