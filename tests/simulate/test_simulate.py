"""`trustledger simulate`: known answers, empty diffs, zero errors, determinism, the CLI.

Fixture strategy: each known-answer check runs its own simulation, as small as shows the
effect (the disparity check needs 60,000 subjects for its groups to be big enough to
measure a ratio within 0.03); the policies are the example policy plus one deliberately
biased measure, written inline.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.synth.helpers import read, record_versions
from trustledger.batch.simulate import score_policy
from trustledger.cli.app import app
from trustledger.domain.subject import SubjectKind
from trustledger.errors import InvalidInput
from trustledger.policy.evaluate import evaluate
from trustledger.policy.load import LoadedPolicy, load_policy, parse_policy
from trustledger.service.simulate import (
    POPULATION,
    WITH_ERRORS,
    SimulationResult,
    fingerprint,
    simulate,
    without_timing,
)
from trustledger.synth.population import _PERSON_RATES, _RISK_TIERS
from trustledger.synth.scenario import Rule, Scenario

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_FILE = ROOT / "policies" / "example-city.toml"
EXAMPLE = EXAMPLE_FILE.read_text(encoding="utf-8")
AS_OF = date(2026, 6, 30)
BIKES = "no_bike_share_for_fare_dodgers"
#: A deliberately biased rule: one fare evasion in the past year (the example policy counts
#: it for a year) costs the public bike share. Fare checks are where the operator puts them.
BIASED = (
    EXAMPLE
    + f"""
[measures.{BIKES}]
kind = "sanction"
title = "No public bike share for fare dodgers"
legal_basis = "x"
effect = "deny"
[measures.{BIKES}.affected_by]
transport = "x"
[measures.{BIKES}.when]
record_types = ["fare_evasion"]
"""
)


def _policy(text: str, name: str = "p.toml") -> LoadedPolicy:
    return parse_policy(text, filename=name)


def _line_3(factor: float) -> Scenario:
    return Scenario(
        name="line-3",
        enforcement=(
            Rule(
                where={"district": "east_hills"},
                record_types=("fare_evasion",),
                factor=factor,
                note="fare checks on line 3",
            ),
        ),
    )


def _expected_not_sanctioned(factor: float, n: int = 2_000_000) -> float:
    """The share of persons with no fare evasion in the past year, from the generator's
    model: half the persons ride the rail, each at ``0.13 * min(risk, 6) ** 1.25`` a year
    times the scenario's factor, risk drawn from the population module's tiers."""
    rng = np.random.default_rng(0)
    roll = rng.random(n)
    mu, sigma = np.full(n, -0.5), np.full(n, 0.5)
    below = 0.0
    for share, tier_mu, tier_sigma in _RISK_TIERS:
        hit = (roll >= below) & (roll < below + share)
        mu[hit], sigma[hit] = tier_mu, tier_sigma
        below += share
    risk = np.exp(mu + sigma * rng.standard_normal(n))
    rate = _PERSON_RATES["fare_evasion"] * np.minimum(risk, 6.0) ** 1.25 * factor
    return float(1.0 - 0.5 * np.mean(1.0 - np.exp(-rate)))


def _comparison(summary: dict[str, Any], measure: str, attribute: str, kind: str) -> Any:
    for c in summary["measures"][measure]["comparisons"]:
        if c["attribute"] == attribute and c["kind"] == kind:
            return c
    raise KeyError((measure, attribute, kind))


def _group(comparison: dict[str, Any], name: str) -> dict[str, Any]:
    return next(g for g in comparison["groups"] if g["group"] == name)


# --- known answers ------------------------------------------------------------------------


def test_biased_rule_over_uneven_enforcement(tmp_path: Path) -> None:
    """Fare checks eight times as often in the east hills: the rule that sanctions a fare
    evasion leaves its persons unsanctioned at P(8) instead of P(1), the ratio the
    generator's model predicts, and the report flags exactly that group."""
    result = simulate(
        tmp_path / "sim",
        policy=_policy(BIASED),
        population=60_000,
        seed=3,
        as_of=AS_OF,
        scenario=_line_3(8.0),
        error_share=0.0,
    )
    s = result.summary
    c = _comparison(s, BIKES, "district", "person")
    east = _group(c, "east_hills")
    expected_low, expected_high = _expected_not_sanctioned(8.0), _expected_not_sanctioned(1.0)
    assert east["favourable_rate"] == pytest.approx(expected_low, abs=0.02)
    assert c["reference"] != "east_hills"
    assert _group(c, c["reference"])["favourable_rate"] == pytest.approx(expected_high, abs=0.02)
    assert east["impact_ratio"] == pytest.approx(expected_low / expected_high, abs=0.03)
    assert east["impact_ratio"] < 0.8
    assert east["flagged"]
    # The adverse outcome: a little over 2.5 times as likely as in the most favoured district.
    assert east["adverse_ratio"] == pytest.approx(
        (1 - expected_low) / (1 - expected_high), rel=0.15
    )
    # Nothing else about this measure is flagged; persons' sex and income are untouched.
    flagged = [d for d in s["disparities"] if d["measure"] == BIKES]
    assert [(d["attribute"], d["among"], d["group"]) for d in flagged] == [
        ("district", "person", "east_hills")
    ]
    for attribute in ("sex", "income_band", "age_band"):
        for g in _comparison(s, BIKES, attribute, "person")["groups"]:
            assert g["impact_ratio"] > 0.95, (attribute, g)
    # Organisations cannot evade fares: never sanctioned, in every district.
    for g in _comparison(s, BIKES, "district", "organisation")["groups"]:
        assert g["favourable_rate"] == 1.0 and not g["flagged"]
    report = result.report.read_text(encoding="utf-8")
    assert "⚑" in report and "east_hills" in report


def test_the_same_rule_under_even_enforcement(tmp_path: Path) -> None:
    result = simulate(
        tmp_path / "sim",
        policy=_policy(BIASED),
        population=60_000,
        seed=3,
        as_of=AS_OF,
        error_share=0.0,
    )
    c = _comparison(result.summary, BIKES, "district", "person")
    assert min(g["impact_ratio"] for g in c["groups"]) > 0.93
    assert not [d for d in result.summary["disparities"] if d["measure"] == BIKES]


def test_identical_policies_give_an_empty_diff(tmp_path: Path) -> None:
    result = simulate(
        tmp_path / "sim",
        policy=load_policy(EXAMPLE_FILE),
        other=load_policy(EXAMPLE_FILE),
        population=5_000,
        seed=9,
        as_of=AS_OF,
        error_share=0.0,
    )
    diff = result.summary["diff"]
    assert diff["subjects_score_changed"] == 0
    assert diff["subjects_grade_changed"] == 0
    assert diff["grade_up"] == diff["grade_down"] == 0
    assert diff["rules"] == [] and diff["examples"] == []
    assert diff["score_delta_histogram"] == []
    assert all(v == {"joined": 0, "left": 0} for v in diff["lists"].values())
    assert all(v["now_triggered"] == v["no_longer"] == 0 for v in diff["measures"].values())
    off_diagonal = [n for a, row in diff["grade_matrix"].items() for b, n in row.items() if a != b]
    assert off_diagonal and not any(off_diagonal)
    assert "nothing to compare" in result.report.read_text(encoding="utf-8")


def test_a_zero_error_rate_wrongly_lists_no_one(tmp_path: Path) -> None:
    result = simulate(
        tmp_path / "sim",
        policy=load_policy(EXAMPLE_FILE),
        population=8_000,
        seed=5,
        as_of=AS_OF,
        error_share=0.0,
    )
    sens = result.summary["sensitivity"]
    assert sens["misattributed_records"] == sens["fabricated_records"] == 0
    assert sens["subjects_touched"] == 0
    assert sens["wrongly_listed_any"] == sens["wrongly_refused_any"] == 0
    assert sens["grade_changed"] == 0
    assert all(v["wrongly_listed"] == v["wrongly_left_off"] == 0 for v in sens["lists"].values())
    assert all(v["wrongly_refused"] == 0 for v in sens["measures"].values())
    # The population "with errors" is the population.
    assert read(tmp_path / "sim" / WITH_ERRORS, "records") == read(
        tmp_path / "sim" / POPULATION, "records"
    )


def test_wrong_data_hurts_only_those_it_touches(tmp_path: Path) -> None:
    policy = load_policy(EXAMPLE_FILE)
    result = simulate(
        tmp_path / "sim",
        policy=policy,
        population=10_000,
        seed=6,
        as_of=AS_OF,
        error_share=0.03,
    )
    sens = result.summary["sensitivity"]
    assert sens["wrongly_listed_any"] > 0 and sens["wrongly_refused_any"] > 0
    errors = read(tmp_path / "sim" / WITH_ERRORS, "errors")
    assert sens["misattributed_records"] + sens["fabricated_records"] == len(errors)
    touched = {e["subject_id"] for e in errors} | {
        e["true_subject_id"] for e in errors if e["true_subject_id"] is not None
    }
    assert sens["subjects_touched"] == len(touched)
    runs = [
        score_policy(tmp_path / "sim" / d, policy.policy, label="t", as_of=AS_OF)
        for d in (POPULATION, WITH_ERRORS)
    ]
    listed = [
        {(r["subject_id"], r["list"]) for r in run.lists.select(["subject_id", "list"]).to_pylist()}
        for run in runs
    ]
    wrongly = {sid for sid, _ in listed[1] - listed[0]}
    assert wrongly and wrongly <= touched
    for name, entry in sens["lists"].items():
        assert entry["wrongly_listed"] == len(
            {sid for sid, lst in listed[1] - listed[0] if lst == name}
        )
    # A measure refused only because of the errors is refused someone the errors touched.
    sanction = "restrict_air_travel"
    before, after = (run.outcomes.column(sanction).to_pylist() for run in runs)
    refused = {i + 1 for i, (a, b) in enumerate(zip(before, after, strict=True)) if b and not a}
    assert len(refused) == sens["measures"][sanction]["wrongly_refused"]
    assert refused <= touched


# --- the difference between two policies -----------------------------------------------------


def test_the_diff_names_the_rule_that_moved_them(tmp_path: Path) -> None:
    head, fares = EXAMPLE.split("[record_types.fare_evasion]\n", 1)
    assert "\npoints = -5\n" in fares.split("\n[", 1)[0]
    strict_text = (
        head
        + "[record_types.fare_evasion]\n"
        + fares.replace("\npoints = -5\n", "\npoints = -25\n", 1)
    ).replace("cap_negative = -60", "cap_negative = -120")
    strict = _policy(strict_text, "strict.toml")
    result = simulate(
        tmp_path / "sim",
        policy=load_policy(EXAMPLE_FILE),
        other=strict,
        population=8_000,
        seed=2,
        as_of=AS_OF,
        error_share=0.0,
    )
    diff = result.summary["diff"]
    assert diff["subjects_grade_changed"] > 0
    assert diff["grade_up"] == 0 and diff["grade_down"] == diff["subjects_grade_changed"]
    top = diff["rules"][0]
    assert top["rule"] == "record_types.fare_evasion"
    assert top["grade_changed"] == diff["subjects_grade_changed"]
    # Check the examples against the evaluator, subject by subject.
    directory = tmp_path / "sim" / POPULATION
    kinds = {r["subject_id"]: r["kind"] for r in read(directory, "subjects")}
    records = record_versions(read(directory, "records"))
    a, b = load_policy(EXAMPLE_FILE).policy, strict.policy
    for example in diff["examples"]:
        sid = example["subject_id"]
        args = {
            "subject_id": sid,
            "subject_kind": SubjectKind(kinds[sid]),
            "as_of": AS_OF,
            "policy_version": "t",
        }
        ra, rb = evaluate(a, records[sid], **args), evaluate(b, records[sid], **args)
        assert (ra.grade, rb.grade) == (example["grade_a"], example["grade_b"])
        assert (ra.score_cents, rb.score_cents) == (
            round(example["score_a"] * 100),
            round(example["score_b"] * 100),
        )
        fare_cents = [
            sum(line.cents for line in r.lines if line.rule == "record_types.fare_evasion")
            for r in (ra, rb)
        ]
        assert fare_cents[1] - fare_cents[0] == round(example["rule_delta"] * 100)
    # Only persons evade fares.
    assert {e["kind"] for e in diff["examples"]} == {"person"}


# --- determinism --------------------------------------------------------------------------


def _run(directory: Path) -> SimulationResult:
    return simulate(
        directory,
        policy=load_policy(EXAMPLE_FILE),
        other=_policy(BIASED, "biased.toml"),
        population=4_000,
        seed=8,
        as_of=AS_OF,
        scenario=_line_3(3.0),
        error_share=0.02,
    )


def test_same_seed_same_report(tmp_path: Path) -> None:
    first, second = _run(tmp_path / "a"), _run(tmp_path / "b")
    texts = []
    for result in (first, second):
        summary = result.summary_file.read_text(encoding="utf-8")
        report = result.report.read_text(encoding="utf-8")
        texts.append(without_timing(summary, report))
        assert fingerprint(summary, report) == result.fingerprint
        assert json.loads(summary)["fingerprint"] == result.fingerprint
        assert result.fingerprint in report  # shown in the timing section
        assert "timing" in json.loads(summary)
    assert texts[0] == texts[1]
    assert first.fingerprint == second.fingerprint
    # What differs is the timing and nothing else.
    assert "<!-- timing --><!-- /timing -->" in texts[0][1]
    for sub in (POPULATION, WITH_ERRORS):
        for part in sorted((tmp_path / "a" / sub).rglob("*.parquet")):
            twin = tmp_path / "b" / sub / part.relative_to(tmp_path / "a" / sub)
            assert part.read_bytes() == twin.read_bytes()


def test_a_different_seed_gives_a_different_report(tmp_path: Path) -> None:
    a = simulate(
        tmp_path / "a",
        policy=load_policy(EXAMPLE_FILE),
        population=2_000,
        seed=1,
        as_of=AS_OF,
        error_share=0.0,
    )
    b = simulate(
        tmp_path / "b",
        policy=load_policy(EXAMPLE_FILE),
        population=2_000,
        seed=2,
        as_of=AS_OF,
        error_share=0.0,
    )
    assert a.fingerprint != b.fingerprint


def test_refuses_a_directory_in_use(tmp_path: Path) -> None:
    (tmp_path / "sim").mkdir()
    (tmp_path / "sim" / "notes.txt").write_text("mine")
    with pytest.raises(InvalidInput, match="not empty"):
        simulate(
            tmp_path / "sim",
            policy=load_policy(EXAMPLE_FILE),
            population=10,
            seed=1,
            as_of=AS_OF,
        )
    assert [p.name for p in (tmp_path / "sim").iterdir()] == ["notes.txt"]


def test_a_failed_simulation_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown batch engine"):
        simulate(
            tmp_path / "new",
            policy=load_policy(EXAMPLE_FILE),
            population=500,
            seed=1,
            as_of=AS_OF,
            engine_name="abacus",
        )
    assert not (tmp_path / "new").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="unknown batch engine"):
        simulate(
            tmp_path / "empty",
            policy=load_policy(EXAMPLE_FILE),
            population=500,
            seed=1,
            as_of=AS_OF,
            engine_name="abacus",
        )
    assert list((tmp_path / "empty").iterdir()) == []


# --- the command ----------------------------------------------------------------------------


def test_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    biased = tmp_path / "biased.toml"
    biased.write_text(BIASED, encoding="utf-8")
    runner = CliRunner()
    args = [
        "simulate",
        str(EXAMPLE_FILE),
        "--vs",
        str(biased),
        "--population",
        "3000",
        "--seed",
        "4",
        "--as-of",
        "2026-06-30",
        "--scenario",
        str(ROOT / "examples" / "scenarios" / "uneven-enforcement.toml"),
        "--errors",
        "0.02",
        "--out",
    ]
    result = runner.invoke(app, [*args, str(tmp_path / "sim")])
    assert result.exit_code == 0, result.output
    assert "3,000 subjects" in result.output
    assert re.search(r"Fingerprint: [0-9a-f]{64}", result.output)
    assert (tmp_path / "sim" / "report.html").is_file()
    summary = json.loads((tmp_path / "sim" / "summary.json").read_text())
    assert summary["run"]["scenario"]["name"] == "uneven-enforcement"
    assert summary["run"]["other_policy"]["file"] == "biased.toml"
    as_json = runner.invoke(app, [*args, str(tmp_path / "sim2"), "--json"])
    assert as_json.exit_code == 0, as_json.output
    printed = json.loads(as_json.stdout)
    assert printed["fingerprint"] == summary["fingerprint"]
    again = runner.invoke(app, [*args, str(tmp_path / "sim")])
    assert again.exit_code == 1 and "not empty" in again.output


def test_cli_bad_scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[scenario]\nname = "x"\n\n[[enforcement]]\nwhere = { district = "atlantis" }\n'
        "factor = 2.0\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        app,
        ["simulate", str(EXAMPLE_FILE), "--scenario", str(bad), "--out", str(tmp_path / "s")],
    )
    assert result.exit_code == 1
    assert f"{bad}:5: enforcement[0].where.district: unknown value 'atlantis'" in result.output
    assert not (tmp_path / "s").exists()
