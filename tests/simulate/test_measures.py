"""The vectorised measures agree with the per-subject decision, subject by subject.

Fixture strategy: one module-scoped population of 4,000 subjects, scored once per policy
with the DuckDB engine; the reference is ``trustledger.service.decide._conditions`` (the
conditions a decision checks) over the pure evaluator's result for each subject.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from tests.synth.helpers import read, record_versions
from trustledger.batch import ParquetSource, engine
from trustledger.batch.measures import favourable, measure_outcomes
from trustledger.batch.simulate import _record_domains
from trustledger.domain.subject import SubjectKind
from trustledger.policy.evaluate import evaluate, measure_score
from trustledger.policy.load import parse_policy
from trustledger.policy.schema import Policy
from trustledger.service.decide import _conditions
from trustledger.synth.columnar import PolicyFacts, write_population

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "policies" / "example-city.toml").read_text(encoding="utf-8")
AS_OF = date(2026, 6, 30)
EVERY_DOMAIN = (
    "\n".join(
        f'{d} = "x"' for d in ("finance", "judicial", "tax", "commerce", "transport", "food_safety")
    )
    + '\ncivic = "x"'
)
# Two measures on the black list: one may consider every domain (so even a low-score
# entry, which names no single domain, counts), one judicial records only.
WITH_LISTS = (
    EXAMPLE
    + f"""
[measures.black_list_anything]
kind = "sanction"
title = "On the black list"
legal_basis = "x"
effect = "deny"
[measures.black_list_anything.affected_by]
{EVERY_DOMAIN}
[measures.black_list_anything.when]
lists = ["black"]

[measures.black_list_judicial]
kind = "sanction"
title = "On the black list for a judgment"
legal_basis = "x"
effect = "deny"
[measures.black_list_judicial.affected_by]
judicial = "x"
[measures.black_list_judicial.when]
lists = ["black"]
grade_at_most = "D"
"""
)


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("measures") / "pop"
    policy = parse_policy(EXAMPLE, filename="example-city.toml").policy
    write_population(directory, 4_000, seed=21, as_of=AS_OF, facts=PolicyFacts.of(policy))
    return directory


def _reference(policy: Policy, directory: Path) -> dict[str, list[bool]]:
    """measure -> triggered, per subject in id order, as decide() would find it."""
    kinds = {r["subject_id"]: r["kind"] for r in read(directory, "subjects")}
    by_subject = record_versions(read(directory, "records"))
    out: dict[str, list[bool]] = {name: [] for name in policy.measures}
    for sid in sorted(kinds):
        records = by_subject.get(sid, [])
        result = evaluate(
            policy,
            records,
            subject_id=sid,
            subject_kind=SubjectKind(kinds[sid]),
            as_of=AS_OF,
            policy_version="t",
        )
        for name, measure in policy.measures.items():
            cents, grade = measure_score(result, policy, name)
            held, _ = _conditions(policy, measure, result, records, cents, grade)
            out[name].append(bool(held))
    return out


@pytest.mark.parametrize("text", [EXAMPLE, WITH_LISTS], ids=["example", "with-lists"])
def test_same_as_the_decision(city: Path, text: str) -> None:
    policy = parse_policy(text, filename="p.toml").policy
    with engine("duckdb") as eng:
        result = eng.score(
            ParquetSource(city), policy, as_of=AS_OF, policy_version="t", contributions=True
        )
    outcomes = measure_outcomes(policy, result, record_domains=_record_domains(city, policy))
    assert outcomes.column_names == ["subject_id", *policy.measures]
    assert outcomes.column("subject_id").to_pylist() == list(range(1, 4_001))
    reference = _reference(policy, city)
    for name in policy.measures:
        got = outcomes.column(name).to_pylist()
        mismatched = [
            i + 1 for i, (a, b) in enumerate(zip(got, reference[name], strict=True)) if a != b
        ]
        assert not mismatched, (name, mismatched[:10])
    # The population exercises the measures: several trigger for someone, and not all.
    triggered = {name: sum(reference[name]) for name in policy.measures}
    assert sum(1 for n in triggered.values() if 0 < n < 4_000) >= 6, triggered
    if "black_list_anything" in policy.measures:
        assert triggered["black_list_anything"] > triggered["black_list_judicial"] > 0


def test_needs_what_it_reads(city: Path) -> None:
    policy = parse_policy(WITH_LISTS, filename="p.toml").policy
    with engine("duckdb") as eng:
        result = eng.score(ParquetSource(city), policy, as_of=AS_OF, policy_version="t")
    with pytest.raises(ValueError, match="contributions"):
        measure_outcomes(policy, result)


def test_no_measures_gives_just_the_subjects(city: Path) -> None:
    policy = parse_policy(EXAMPLE, filename="p.toml").policy
    bare = policy.model_copy(update={"measures": {}})
    with engine("duckdb") as eng:
        result = eng.score(ParquetSource(city), bare, as_of=AS_OF, policy_version="t")
    table = measure_outcomes(bare, result)
    assert table.column_names == ["subject_id"]
    assert table.num_rows == 4_000
    assert isinstance(table, pa.Table)


def test_favourable_direction() -> None:
    policy = parse_policy(EXAMPLE, filename="p.toml").policy
    sanction = policy.measures["restrict_air_travel"]
    incentive = policy.measures["library_deposit_waiver"]
    assert favourable(sanction, triggered=False) and not favourable(sanction, triggered=True)
    assert favourable(incentive, triggered=True) and not favourable(incentive, triggered=False)
