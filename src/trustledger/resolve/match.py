"""Scoring pairs of records with a trained model, on DuckDB (in memory, per call).

:func:`best_matches` compares incoming records with the profiles of known subjects and
keeps, for each incoming record, its best subject (the highest match weight over that
subject's profiles) and the runner-up's weight; :func:`pairs_within` compares incoming
records with each other, so that several records of one new person in one batch make one
subject. Both compare only the pairs the model's blocking rules propose.

Pure over its inputs: no clock, no registry database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from trustledger.resolve.model import FIELDS, MatchModel, as_table
from trustledger.resolve.names import address_key, birth_date_key, name_forms, phone_key

__all__ = [
    "Match",
    "MatchInput",
    "Pair",
    "Planned",
    "best_matches",
    "match_input",
    "pairs_within",
    "plan",
]


@dataclass(frozen=True, slots=True)
class MatchInput:
    """One record or profile as the model reads it (see resolve/model.py)."""

    uid: str
    kind: str
    name_hanzi: str | None
    name_pinyin: str | None
    name_tokens: str | None
    birth_date: str | None
    address: str | None
    phone: str | None

    def row(self) -> dict[str, Any]:
        return {
            "unique_id": self.uid,
            "kind": self.kind,
            "name_hanzi": self.name_hanzi,
            "name_pinyin": self.name_pinyin,
            "name_tokens": self.name_tokens,
            "birth_date": self.birth_date,
            "address": self.address,
            "phone": self.phone,
        }


def match_input(
    uid: str,
    kind: str,
    name: str | None,
    birth_date: date | None,
    address: str | None,
    phone: str | None,
) -> MatchInput:
    """A record's attributes in the forms the model compares (resolve/names.py)."""
    forms = name_forms(name, person=kind != "organisation") if name else None
    return MatchInput(
        uid=uid,
        kind=kind,
        name_hanzi=forms.hanzi if forms else None,
        name_pinyin=forms.pinyin if forms else None,
        name_tokens=forms.tokens if forms else None,
        birth_date=birth_date_key(birth_date),
        address=address_key(address),
        phone=phone_key(phone),
    )


@dataclass(frozen=True, slots=True)
class Pair:
    """Two records compared: the total match weight and each field's level."""

    left: str
    right: str
    match_weight: float
    match_probability: float
    gammas: dict[str, int]


@dataclass(frozen=True, slots=True)
class Match:
    """An incoming record's best pair, and the weight of the best pair with another
    subject (a close second means the record cannot tell two subjects apart)."""

    best: Pair
    runner_up_weight: float | None


_GAMMAS = ", ".join(f"gamma_{f}" for f in FIELDS)


def _linker(model: MatchModel, *tables: Sequence[MatchInput]) -> tuple[Any, list[Any]]:
    from splink import DuckDBAPI, Linker

    db = DuckDBAPI()
    frames = [
        db.register(as_table([m.row() for m in rows]), table_name=f"input_{i}")
        for i, rows in enumerate(tables)
    ]
    # The comparison vector (gamma_*) is kept only with the matching columns; explanations
    # are built from it, whatever the file says.
    settings = {
        **model.splink,
        "retain_matching_columns": True,
        "retain_intermediate_calculation_columns": True,
    }
    return Linker(frames[0], settings, log_level=None), frames


def _pairs(db: Any, table: str, where: str = "") -> list[Pair]:
    rows = db._con.execute(
        f"SELECT unique_id_l, unique_id_r, match_weight, match_probability, {_GAMMAS} "
        f"FROM {table} {where}"
    ).fetchall()
    return [
        Pair(r[0], r[1], float(r[2]), float(r[3]), dict(zip(FIELDS, r[4:], strict=True)))
        for r in rows
    ]


def best_matches(
    model: MatchModel,
    known: Sequence[MatchInput],
    incoming: Sequence[MatchInput],
    *,
    subject_of: dict[str, int],
    floor: float,
) -> dict[str, Match]:
    """For each incoming record (by uid) whose best pair weighs at least ``floor``, that
    pair and the runner-up subject's weight. ``subject_of`` maps a known profile's uid to
    its subject: the profiles of one subject are one candidate."""
    if not known or not incoming:
        return {}
    linker, (left, right) = _linker(model, known, incoming)
    predictions = linker.inference.predict_between(
        left, right, threshold_match_weight=floor, warning_mode="never"
    )
    pairs = _pairs(linker._db_api, predictions.physical_name)
    predictions.drop_table_from_database_and_remove_from_cache()
    # Per incoming record: the best pair per subject, then the best two subjects.
    per_subject: dict[str, dict[int, Pair]] = {}
    for pair in pairs:
        known_uid, new_uid = (pair.left, pair.right)
        if known_uid not in subject_of:  # Splink puts the lower id on the left
            known_uid, new_uid = new_uid, known_uid
            pair = Pair(known_uid, new_uid, pair.match_weight, pair.match_probability, pair.gammas)
        sid = subject_of[known_uid]
        seen = per_subject.setdefault(new_uid, {}).get(sid)
        if seen is None or pair.match_weight > seen.match_weight:
            per_subject[new_uid][sid] = pair
    out: dict[str, Match] = {}
    for uid, by_subject in per_subject.items():
        ranked = sorted(by_subject.values(), key=lambda p: (-p.match_weight, p.left))
        out[uid] = Match(ranked[0], ranked[1].match_weight if len(ranked) > 1 else None)
    return out


def pairs_within(model: MatchModel, incoming: Sequence[MatchInput], *, floor: float) -> list[Pair]:
    """Pairs of incoming records weighing at least ``floor``."""
    if len(incoming) < 2:
        return []
    linker, (frame,) = _linker(model, incoming)
    predictions = linker.inference.predict_within(
        frame, threshold_match_weight=floor, warning_mode="never"
    )
    pairs = _pairs(linker._db_api, predictions.physical_name)
    predictions.drop_table_from_database_and_remove_from_cache()
    return pairs


@dataclass(frozen=True, slots=True)
class Planned:
    """What the resolver will do with one incoming record.

    ``accepted``: attach to ``subject_id``. ``review`` and ``new``: the records of one
    ``group`` become one new subject; ``review`` ones wait for a reviewer to accept the
    link to ``candidate_subject_id``. ``match`` is the pair that decided it (for
    ``review``, the group's best when this record matched only the group's others).
    """

    outcome: str
    subject_id: int | None
    candidate_subject_id: int | None
    group: int | None
    match: Match | None
    via_group: bool = False


def plan(
    model: MatchModel,
    known: Sequence[MatchInput],
    incoming: Sequence[MatchInput],
    *,
    subject_of: dict[str, int],
    accept: float,
    review: float,
) -> dict[str, Planned]:
    """Decide every incoming record (by uid). An incoming uid may appear once per kind it
    could be (a record that does not say whether it is about a person or an
    organisation): its best pair over them counts, and it is grouped under its first."""
    matches: dict[str, Match] = {}
    by_kind: dict[str, list[MatchInput]] = {}
    for m in incoming:
        by_kind.setdefault(m.kind, []).append(m)
    for kind, batch in by_kind.items():
        found = best_matches(
            model,
            [k for k in known if k.kind == kind],
            batch,
            subject_of=subject_of,
            floor=review,
        )
        for uid, found_match in found.items():
            earlier = matches.get(uid)
            if earlier is None or found_match.best.match_weight > earlier.best.match_weight:
                matches[uid] = found_match
    out: dict[str, Planned] = {}
    rest: dict[str, MatchInput] = {}
    for m in incoming:
        if m.uid in out or m.uid in rest:
            continue
        match = matches.get(m.uid)
        if match is not None and match.best.match_weight >= accept:
            sid = subject_of[match.best.left]
            out[m.uid] = Planned("accepted", sid, sid, None, match)
        else:
            rest[m.uid] = m
    # Records of one new person in the batch share one new subject.
    parent: dict[str, str] = {uid: uid for uid in rest}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for pair in pairs_within(model, list(rest.values()), floor=accept):
        a, b = find(pair.left), find(pair.right)
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups: dict[str, list[str]] = {}
    for uid in rest:
        groups.setdefault(find(uid), []).append(uid)
    for number, members in enumerate(groups.values()):
        matched = [x for uid in members if (x := matches.get(uid)) is not None]
        best = max(matched, key=lambda x: x.best.match_weight) if matched else None
        for uid in members:
            own = matches.get(uid)
            if best is None:
                out[uid] = Planned("new", None, None, number, None)
            else:
                out[uid] = Planned(
                    "review",
                    None,
                    subject_of[best.best.left],
                    number,
                    own or best,
                    via_group=own is None,
                )
    return out
