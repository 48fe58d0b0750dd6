"""The model file: its checks, the explanation of a pair, training, and the shipped model
on the generator's records (pure; DuckDB in memory)."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime

import pytest

from trustledger.errors import InvalidInput
from trustledger.resolve.match import match_input, pairs_within, plan
from trustledger.resolve.model import MatchModel, as_table, default_model, train_model
from trustledger.synth.linkage import Noise, generate_linkage, match_inputs


def test_the_explanation_adds_up_to_the_match_weight() -> None:
    model = default_model()
    a = match_input("c1", "person", "张伟", date(1985, 4, 12), "南山区人民路1号", None)
    b = match_input("c2", "person", "Wei ZHANG", date(1985, 12, 4), "深圳市南山区人民路1号", None)
    [pair] = pairs_within(model, [a, b], floor=-100)
    fields = model.explain(pair.gammas)
    assert [(f["field"], f["level"]) for f in fields] == [
        ("name", "same words in another order"),
        ("birth_date", "day and month swapped"),
        ("address", "same address"),
        ("phone", "unknown (missing on one side)"),
    ]
    total = model.prior_weight + sum(f["weight"] for f in fields)
    assert math.isclose(total, pair.match_weight, abs_tol=0.01)
    assert pair.match_probability == pytest.approx(2**total / (1 + 2**total), abs=1e-3)


def test_every_level_of_every_field_is_named_and_weighed() -> None:
    model = default_model()
    assert list(model.levels) == ["name", "birth_date", "address", "phone"]
    for field, levels in model.levels.items():
        assert levels[-1].weight == 0.0, field
        weights = [levels[g].weight for g in sorted(levels) if g >= 0]
        # Agreeing more never weighs less than agreeing less (0 is "different").
        assert weights[0] < 0 < weights[-1], (field, weights)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "model.json:1: not valid JSON"),
        ("{}", "not a trustledger identity model"),
        ('{"format": "trustledger-identity-model", "format_version": 2}', "only 1"),
        ('{"format": "trustledger-identity-model", "format_version": 1}', '"splink" must'),
    ],
)
def test_a_file_that_is_not_a_model_is_refused(body: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        MatchModel(body)


def test_an_untrained_or_foreign_model_is_refused() -> None:
    doc = json.loads(default_model().body)
    doc["splink"]["comparisons"][1]["comparison_levels"][1].pop("m_probability")
    with pytest.raises(InvalidInput, match="birth_date level 'same birth date' has no trained"):
        MatchModel(json.dumps(doc))
    doc = json.loads(default_model().body)
    doc["splink"]["comparisons"].pop()
    with pytest.raises(InvalidInput, match="compares"):
        MatchModel(json.dumps(doc))


def test_training_writes_a_model_that_loads_and_links() -> None:
    data = generate_linkage(3000, seed=5)
    known, incoming = match_inputs(data)
    now = datetime(2026, 11, 24, tzinfo=UTC)
    body = train_model(as_table([m.row() for m in known + incoming]), now=now, seed=5, u_pairs=2e5)
    model = MatchModel(body)
    assert model.trained_on == {"records": 4500, "seed": 5}
    assert model.trained_at == now.isoformat()
    # The same data and seed train the same model.
    assert (
        train_model(as_table([m.row() for m in known + incoming]), now=now, seed=5, u_pairs=2e5)
        == body
    )
    with pytest.raises(InvalidInput, match="at least 100"):
        train_model(as_table([m.row() for m in known[:50]]), now=now)


def test_the_shipped_model_links_the_generator_s_records() -> None:
    """A small version of bench/linkage.py: what is attached is right."""
    data = generate_linkage(4000, seed=9)
    known, incoming = match_inputs(data)
    keys = [p.key for p in data.registered]
    planned = plan(
        default_model(),
        known,
        incoming,
        subject_of={f"p{n}": n for n in range(len(keys))},
        accept=8.0,
        review=2.0,
    )
    attached = [
        (n, keys[p.subject_id])
        for n in range(len(incoming))
        if (p := planned[f"c{n}"]).outcome == "accepted" and p.subject_id is not None
    ]
    right = sum(1 for n, key in attached if data.records[n].truth == key)
    registered = {p.key for p in data.registered}
    possible = sum(1 for r in data.records if r.truth in registered)
    assert right / len(attached) >= 0.99
    assert right / possible >= 0.9


def test_the_generator_is_deterministic_and_noisy() -> None:
    data = generate_linkage(2000, seed=3)
    assert data == generate_linkage(2000, seed=3)
    assert data != generate_linkage(2000, seed=4)
    noise = {n for r in data.records for n in r.noise}
    assert {
        "pinyin",
        "western_order",
        "name_typo",
        "birth_swapped",
        "birth_missing",
        "address_moved",
        "address_short",
        "phone_changed",
        "phone_formatted",
    } <= noise
    clean = generate_linkage(
        300,
        seed=3,
        noise=Noise(
            pinyin=0,
            name_typo=0,
            birth_missing=0,
            birth_swapped=0,
            birth_digit=0,
            address_missing=0,
            address_moved=0,
            address_short=0,
            phone_missing=0,
            phone_changed=0,
            phone_formatted=0,
        ),
    )
    for r in clean.records:
        person = clean.people[r.truth]
        assert (r.name, r.birth_date, r.address) == (person.name, person.birth_date, person.address)
