"""The synthetic population: deterministic, valid, true to the catalogue, and realistic.

Fixture strategy: one module-scoped population of 2,000 subjects serves the invariant
checks (it takes well under a second); the 10,000-subject default run is made once, for
the size and mix checks. Hypothesis runs the invariants on small populations across seeds
and dates.
"""

from __future__ import annotations

import csv
import json
import re
import tomllib
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trustledger.synth as synth
import trustledger.synth.population as population_module
from trustledger.domain.duration import add_months
from trustledger.domain.subject import SubjectKind
from trustledger.identifiers import ric_birth_date, ric_sex, subject_kind_for, validate
from trustledger.synth import (
    FIELDS,
    PROVIDERS,
    RECORD_TYPES,
    WINDOW_MONTHS,
    Population,
    generate,
    names,
    read_provider_file,
    record_row,
    write_provider_files,
)

ROOT = Path(__file__).resolve().parents[1]
AS_OF = date(2025, 6, 30)
STATES = {"tax_arrears", "abnormal_operations_listing"}
BLACK_LIST_TYPES = {
    "court_judgment_unfulfilled",
    "tax_evasion_confirmed",
    "business_licence_revoked",
    "food_safety_major_incident",
    "fraud_conviction",
}
# Types where an amount makes no sense; every other type carries one.
NO_AMOUNT = {
    "abnormal_operations_listing",
    "annual_report_filed",
    "blood_donation",
    "business_licence_revoked",
    "civic_award",
    "food_inspection_excellent",
    "food_inspection_fail",
    "tax_grade_a_taxpayer",
    "train_seat_occupation",
    "volunteer_service",
}


@pytest.fixture(scope="module")
def small() -> Population:
    return generate(2_000, seed=11, as_of=AS_OF)


@pytest.fixture(scope="module")
def default_size() -> Population:
    return generate(as_of=AS_OF)


def check_invariants(pop: Population) -> None:
    """Everything that must hold for any seed, size and date."""
    as_of = pop.as_of
    window_start = add_months(as_of, -WINDOW_MONTHS)
    subjects = {s.key: s for s in pop.subjects}
    assert len(subjects) == len(pop.subjects)
    assert len({s.id_value for s in pop.subjects}) == len(pop.subjects)
    for s in pop.subjects:
        assert validate(s.id_kind, s.id_value) == s.id_value
        assert subject_kind_for(s.id_kind) is s.kind
        assert s.name and s.name_pinyin
        assert re.fullmatch(r"[A-Z][a-z']*( [A-Z][a-z']*)*", s.name_pinyin), s.name_pinyin
        if s.kind is SubjectKind.PERSON:
            assert re.fullmatch(r"P\d{6}", s.key)
            assert s.birth_date is not None
            assert ric_birth_date(s.id_value) == s.birth_date
            assert add_months(as_of, -12 * 86) < s.birth_date <= add_months(as_of, -12 * 18)
            assert s.region == s.id_value[:6]
            assert re.fullmatch(r"1[3-9]\d{9}", s.phone)
        else:
            assert re.fullmatch(r"O\d{6}", s.key)
            assert s.birth_date is None
            assert s.region == s.id_value[2:8]
            assert re.fullmatch(r"0\d{2,3}-[2-8]\d{6,7}", s.phone)
    references: dict[str, set[str]] = defaultdict(set)
    for r in pop.records:
        spec = RECORD_TYPES[r.record_type]
        subject = subjects[r.subject_key]
        assert subject.kind in spec.applies_to, (r.record_type, subject.kind)
        assert r.provider == spec.provider
        assert window_start <= r.valid_from <= as_of
        if subject.birth_date is not None:
            assert r.valid_from >= add_months(subject.birth_date, 12 * 18)
        if r.valid_to is not None:
            assert r.record_type in STATES
            assert r.valid_from < r.valid_to <= as_of
        prefix = PROVIDERS[r.provider].prefix
        assert re.fullmatch(rf"{prefix}-{r.valid_from.year}-\d{{6,}}", r.reference)
        assert r.reference not in references[r.provider]
        references[r.provider].add(r.reference)
        if r.amount is not None:
            assert r.record_type not in NO_AMOUNT
            assert r.amount > 0
            assert r.amount.as_tuple().exponent == -2
    assert [r.valid_from for r in pop.records] == sorted(r.valid_from for r in pop.records)
    # The registry learns of subjects only through records: every subject has one.
    assert {r.subject_key for r in pop.records} == set(subjects)


# --- determinism ---------------------------------------------------------------------


def test_same_seed_same_population() -> None:
    assert generate(300, seed=5, as_of=AS_OF) == generate(300, seed=5, as_of=AS_OF)


def test_different_seed_different_population() -> None:
    a, b = generate(300, seed=5, as_of=AS_OF), generate(300, seed=6, as_of=AS_OF)
    assert a.subjects != b.subjects
    assert a.records != b.records


def test_same_seed_same_files(tmp_path: Path) -> None:
    for run in ("a", "b"):
        write_provider_files(generate(300, seed=5, as_of=AS_OF), tmp_path / run)
    first = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert first == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in first:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


# --- invariants ----------------------------------------------------------------------


def test_invariants(small: Population) -> None:
    check_invariants(small)
    assert small.seed == 11
    assert small.as_of == AS_OF


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(min_value=0, max_value=60),
    seed=st.integers(min_value=0, max_value=2**32),
    as_of=st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)),
    org_share=st.floats(min_value=0.0, max_value=1.0),
)
def test_invariants_hold_for_any_seed_and_date(
    n: int, seed: int, as_of: date, org_share: float
) -> None:
    pop = generate(n, seed=seed, as_of=as_of, org_share=org_share)
    assert len(pop.subjects) == n
    assert sum(s.kind is SubjectKind.ORGANISATION for s in pop.subjects) == round(n * org_share)
    check_invariants(pop)


def test_leap_day_as_of() -> None:
    check_invariants(generate(200, seed=3, as_of=date(2024, 2, 29)))


def test_sex_follows_the_sequence_number(small: Population) -> None:
    sexes = Counter(ric_sex(s.id_value) for s in small.subjects if s.id_kind == "cn_ric")
    assert 0.4 < sexes["male"] / sum(sexes.values()) < 0.6


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="n_subjects"):
        generate(-1, as_of=AS_OF)
    with pytest.raises(ValueError, match="org_share"):
        generate(10, as_of=AS_OF, org_share=1.5)
    with pytest.raises(ValueError, match="records_per_subject"):
        generate(10, as_of=AS_OF, records_per_subject=0)
    empty = generate(0, as_of=AS_OF)
    assert empty.subjects == [] and empty.records == []


def test_records_per_subject_scales_the_volume() -> None:
    fewer = generate(1_000, seed=2, as_of=AS_OF, records_per_subject=10)
    usual = generate(1_000, seed=2, as_of=AS_OF)
    more = generate(1_000, seed=2, as_of=AS_OF, records_per_subject=40)
    assert len(fewer.records) < len(usual.records) < len(more.records)
    check_invariants(more)


# --- names ---------------------------------------------------------------------------


def _name_characters() -> set[str]:
    chars: set[str] = set()
    for region in names.REGIONS:
        chars |= set(region.city + region.district)
    for surname, _ in names.SURNAMES:
        chars |= set(surname)
    for pool in (names.MALE_CLASSIC, names.MALE_MODERN, names.FEMALE_CLASSIC):
        chars |= set(pool)
    chars |= set(names.FEMALE_MODERN) | set("".join(names.TRADE_NAMES))
    chars |= {c for i in names.INDUSTRIES for c in i.words}
    chars |= {c for form, _ in names.COMPANY_FORMS for c in form}
    chars |= {c for shop, _ in names.SHOPS for c in shop}
    chars |= set("".join(names.COOPERATIVES) + "专业合作社")
    chars |= {c for words, _, _ in names.SOCIAL_ORGANISATIONS for c in words}
    return chars - set(" {}trade")


def test_pinyin_table_covers_every_name_character() -> None:
    missing = sorted(c for c in _name_characters() if c not in names.PINYIN)
    assert missing == []
    assert all(re.fullmatch(r"[a-z]+", p) for p in names.PINYIN.values())


def test_romanise() -> None:
    assert names.romanise(["王", "小明"]) == "Wang Xiaoming"
    assert names.romanise(["欧阳", "婷"]) == "Ouyang Ting"
    assert names.romanise(["西安", "天成", "餐饮 管理", "有限 公司"]) == (
        "Xi'an Tiancheng Canyin Guanli Youxian Gongsi"
    )


def test_region_codes_are_districts() -> None:
    codes = [r.code for r in names.REGIONS]
    assert len(set(codes)) == len(codes)
    assert all(re.fullmatch(r"\d{4}(0[1-9]|[1-9]\d)", code) for code in codes)


def test_names_look_real(small: Population) -> None:
    persons = [s for s in small.subjects if s.kind is SubjectKind.PERSON]
    orgs = [s for s in small.subjects if s.kind is SubjectKind.ORGANISATION]
    assert all(2 <= len(s.name) <= 4 for s in persons)
    assert Counter(s.name[0] for s in persons).most_common(1)[0][0] in "王李张刘陈"
    assert len({s.name for s in orgs}) == len(orgs)
    assert any(s.name.endswith("有限公司") for s in orgs)
    # Every name starts with where it was registered: a city or a district.
    places = {r.city for r in names.REGIONS} | {r.district for r in names.REGIONS}
    assert all(s.name.startswith(tuple(places)) for s in orgs)


# --- the catalogue -------------------------------------------------------------------


def _catalogue_grants() -> dict[str, set[str]]:
    text = (ROOT / "docs" / "catalogue.md").read_text(encoding="utf-8")
    section = text.split("## Providers", 1)[1].split("\n## ", 1)[0]
    grants: dict[str, set[str]] = {}
    for item in re.split(r"\n- ", "\n" + section.strip())[1:]:
        head, _, body = item.partition(":")
        name = head.split("(")[0].strip()
        grants[name] = {t.strip() for t in re.split(r"[,\s]+", body) if t.strip()}
    return grants


def test_catalogue_page_matches_the_generator() -> None:
    grants = _catalogue_grants()
    assert set(grants) == set(PROVIDERS)
    for name, spec in RECORD_TYPES.items():
        assert name in grants[spec.provider], name
    assert sum(len(g) for g in grants.values()) == len(RECORD_TYPES)


EXAMPLE_POLICY = ROOT / "policies" / "example-city.toml"


@pytest.mark.skipif(not EXAMPLE_POLICY.exists(), reason="no example policy yet")
def test_catalogue_matches_the_example_policy() -> None:
    policy = tomllib.loads(EXAMPLE_POLICY.read_text(encoding="utf-8"))
    assert set(policy["providers"]) == set(PROVIDERS)
    for name, spec in RECORD_TYPES.items():
        declared = policy["record_types"][name]
        assert declared["domain"] == spec.domain, name
        assert Decimal(str(declared["points"])) == spec.points, name
        applies = declared.get("applies_to", ["person", "organisation"])
        assert {SubjectKind(k) for k in applies} == spec.applies_to, name
        assert name in policy["providers"][spec.provider]["grants"], name


# --- files ---------------------------------------------------------------------------


def _expected_rows(pop: Population) -> dict[str, list[dict[str, str]]]:
    subjects = {s.key: s for s in pop.subjects}
    rows: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in pop.records:
        rows[r.provider].append(record_row(r, subjects[r.subject_key]))
    return rows


def test_file_round_trip(small: Population, tmp_path: Path) -> None:
    paths = write_provider_files(small, tmp_path)
    expected = _expected_rows(small)
    assert list(paths) == [p for p in PROVIDERS if p in expected]
    for provider, path in paths.items():
        spec = PROVIDERS[provider]
        assert path == tmp_path / f"{provider}.{spec.file_format}"
        text = path.read_text(encoding="utf-8")
        if spec.file_format == "csv":
            reader = csv.DictReader(text.splitlines())
            assert tuple(reader.fieldnames or ()) == FIELDS
            rows = list(reader)
        else:
            rows = []
            for line in text.splitlines():
                obj = json.loads(line)
                assert set(obj) <= set(FIELDS)
                assert all(isinstance(v, str) and v for v in obj.values())
                rows.append({name: obj.get(name, "") for name in FIELDS})
        assert rows == expected[provider]
        assert list(read_provider_file(path)) == expected[provider]


def test_file_formats_are_mixed() -> None:
    formats = Counter(spec.file_format for spec in PROVIDERS.values())
    assert formats == {"csv": 6, "jsonl": 5}


def test_rows_carry_the_subject(small: Population) -> None:
    record = next(r for r in small.records if r.amount is not None and r.note)
    subject = next(s for s in small.subjects if s.key == record.subject_key)
    row = record_row(record, subject)
    assert row["subject_id"] == subject.id_value
    assert row["subject_id_kind"] == subject.id_kind
    assert row["subject_name"] == subject.name
    assert Decimal(row["amount"]) == record.amount
    assert date.fromisoformat(row["valid_from"]) == record.valid_from


# --- size and mix --------------------------------------------------------------------


def test_default_size_and_providers(default_size: Population, tmp_path: Path) -> None:
    assert len(default_size.subjects) == 10_000
    assert 150_000 <= len(default_size.records) <= 250_000
    present = {r.provider for r in default_size.records}
    assert len(present) >= 6
    assert present == set(PROVIDERS)
    paths = write_provider_files(default_size, tmp_path)
    assert set(paths) == set(PROVIDERS)
    kinds = Counter(s.kind for s in default_size.subjects)
    assert kinds[SubjectKind.ORGANISATION] == 2_000


def test_realistic_mix(default_size: Population) -> None:
    pop = default_size
    n = len(pop.subjects)
    types = Counter(r.record_type for r in pop.records)
    assert set(types) == set(RECORD_TYPES)
    # Routine positive and neutral records dominate, and most files are mostly positive.
    sign = {t: spec.points > 0 for t, spec in RECORD_TYPES.items()}
    positive = sum(c for t, c in types.items() if sign[t])
    assert positive / len(pop.records) > 0.65
    good = Counter(r.subject_key for r in pop.records if sign[r.record_type])
    bad = Counter(r.subject_key for r in pop.records if not sign[r.record_type])
    assert sum(good[s.key] > bad[s.key] for s in pop.subjects) / n > 0.6
    # Black-list record types in the last three years: 1-4% of subjects.
    three_years_ago = add_months(pop.as_of, -36)
    black = {
        r.subject_key
        for r in pop.records
        if r.record_type in BLACK_LIST_TYPES and r.valid_from >= three_years_ago
    }
    assert 0.01 <= len(black) / n <= 0.04
    # Bad records cluster: a tenth of the subjects hold far more than a tenth of the
    # negative records, and a twentieth hold most of the serious ones.
    top = sum(c for _, c in bad.most_common(n // 10))
    assert top / sum(bad.values()) > 0.35
    serious = Counter(
        r.subject_key for r in pop.records if RECORD_TYPES[r.record_type].points <= -80
    )
    assert sum(c for _, c in serious.most_common(n // 20)) / sum(serious.values()) > 0.5
    # States: most tax arrears have been paid by now.
    arrears = [r for r in pop.records if r.record_type == "tax_arrears"]
    assert 0.5 < sum(r.valid_to is not None for r in arrears) / len(arrears) < 0.9


@pytest.mark.skipif(not EXAMPLE_POLICY.exists(), reason="no example policy yet")
def test_grades_under_the_example_policy(default_size: Population) -> None:
    """The mix the module docstring promises, scored by the real evaluator."""
    from trustledger.domain.record import RecordVersion
    from trustledger.policy.evaluate import evaluate
    from trustledger.policy.load import load_policy

    policy = load_policy(EXAMPLE_POLICY).policy
    recorded = datetime(2025, 7, 1, tzinfo=UTC)
    files: dict[str, list[RecordVersion]] = defaultdict(list)
    for number, r in enumerate(default_size.records, start=1):
        version = RecordVersion(
            number, 1, 0, r.record_type, r.provider, r.valid_from, recorded, valid_to=r.valid_to
        )
        files[r.subject_key].append(version)
    grades: Counter[str] = Counter()
    black = red = 0
    for number, s in enumerate(default_size.subjects, start=1):
        result = evaluate(
            policy,
            files[s.key],
            subject_id=number,
            subject_kind=s.kind,
            as_of=AS_OF,
            policy_version="test",
        )
        grades[result.grade] += 1
        black += any(m.kind == "black" for m in result.lists)
        red += any(m.kind == "red" for m in result.lists)
    share = {g: c / len(default_size.subjects) for g, c in grades.items()}
    assert 0.05 <= share.get("AAA", 0) + share.get("AA", 0) <= 0.12
    assert share["A"] >= 0.6
    assert 0.10 <= share["B"] <= 0.20
    assert 0.01 <= share["C"] <= 0.08
    assert 0.002 <= share["D"] <= 0.02
    assert 0.01 <= black / len(default_size.subjects) <= 0.05
    assert 0.005 <= red / len(default_size.subjects) <= 0.05


def test_public_api() -> None:
    assert synth.__all__ == population_module.__all__
    for name in synth.__all__:
        assert getattr(synth, name) is getattr(population_module, name)


def test_donations_and_volunteer_sessions_keep_realistic_intervals(
    default_size: Population,
) -> None:
    days: dict[tuple[str, str, str], list[date]] = defaultdict(list)
    for r in default_size.records:
        if r.record_type == "blood_donation":
            kind = "platelets" if r.note == "机采血小板1治疗量" else "whole blood"
            days[(r.subject_key, r.record_type, kind)].append(r.valid_from)
        elif r.record_type == "volunteer_service":
            days[(r.subject_key, r.record_type, "")].append(r.valid_from)
    # The Blood Donation Law: six months between whole-blood donations, two weeks between
    # platelet donations; volunteer sessions are at least a week apart (never on one day).
    least = {"whole blood": 180, "platelets": 14, "": 7}
    assert days
    for (_, _, kind), dates in days.items():
        dates.sort()
        gaps = [(b - a).days for a, b in zip(dates, dates[1:], strict=False)]
        assert min(gaps, default=least[kind]) >= least[kind], kind
