"""Noisy records of known people, for training and measuring identity resolution.

The registry already knows some people (``LinkageSet.registered``: the clean name in
characters, the birth date, often an address and a phone). Providers then send records
*without* an identifier (``LinkageSet.records``), each about one person, written the way
real agencies write them: the name in characters or in pinyin (in Chinese or Western
order, upper-cased surnames, commas), a typo in the name, a birth date missing, with its
day and month swapped or a digit mistyped, an address written with or without its
province and city, or a new one after a move, a phone missing, formatted with +86, or
changed. Some records are about people the registry does not know yet, a few of them
more than once.

Every record keeps its ``truth``: the key of the person it is about, and the noise
applied to it, so a resolver's links can be scored for precision and recall.

>>> data = generate_linkage(1000, seed=3)
>>> len(data.records), len({r.truth for r in data.records}) > 400
(1000, True)
>>> data == generate_linkage(1000, seed=3)
True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from random import Random
from typing import Final

from trustledger.resolve.match import MatchInput, match_input
from trustledger.synth import names

__all__ = [
    "LinkagePerson",
    "LinkageRecord",
    "LinkageSet",
    "Noise",
    "generate_linkage",
    "match_inputs",
]


@dataclass(frozen=True, slots=True)
class Noise:
    """How often each kind of noise is applied to a record (independently)."""

    #: The name written in pinyin rather than characters; of those, the share in
    #: Western order ("Wei Zhang") and with an upper-cased surname ("ZHANG Wei").
    pinyin: float = 0.45
    western_order: float = 0.2
    upper_surname: float = 0.3
    #: One wrong character (another of the given-name characters) or letter.
    name_typo: float = 0.04
    birth_missing: float = 0.1
    #: Day and month swapped (only where both could be a month).
    birth_swapped: float = 0.04
    birth_digit: float = 0.02
    address_missing: float = 0.25
    #: A new address: the person moved.
    address_moved: float = 0.12
    #: Province and city left out ("南山区人民路1号").
    address_short: float = 0.3
    phone_missing: float = 0.45
    phone_changed: float = 0.08
    phone_formatted: float = 0.25


@dataclass(frozen=True, slots=True)
class LinkagePerson:
    """A person as the registry knows them (or would, once registered)."""

    key: str
    name: str
    name_pinyin: str
    birth_date: date
    address: str
    phone: str | None


@dataclass(frozen=True, slots=True)
class LinkageRecord:
    """A record as a provider sends it, without an identifier."""

    truth: str
    name: str
    birth_date: date | None
    address: str | None
    phone: str | None
    #: The noise applied, by name ("pinyin", "birth_swapped", ...), for error analysis.
    noise: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LinkageSet:
    #: The people the registry knows, with what it knows about them.
    registered: tuple[LinkagePerson, ...]
    #: Every person records are about, registered or not, by key.
    people: dict[str, LinkagePerson]
    records: tuple[LinkageRecord, ...]


_SURNAMES: Final = tuple(s for s, _ in names.SURNAMES)
_SURNAME_WEIGHTS: Final = tuple(w for _, w in names.SURNAMES)
_REGION_WEIGHTS: Final = tuple(r.weight for r in names.REGIONS)
_LETTERS: Final = "abcdefghijklmnopqrstuvwxyz"


class _Draw:
    def __init__(self, seed: int, as_of: date) -> None:
        self.rng = Random(seed)
        self.as_of = as_of

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def person(self, key: str) -> LinkagePerson:
        rng = self.rng
        age = 18 + int(rng.random() * 62)
        born = self.as_of - timedelta(days=int(age * 365.25 + rng.random() * 365))
        surname = rng.choices(_SURNAMES, weights=_SURNAME_WEIGHTS)[0]
        modern = (born.year >= 1980) != (rng.random() < 0.2)
        male = rng.random() < 0.5
        if male:
            pool = names.MALE_MODERN if modern else names.MALE_CLASSIC
        else:
            pool = names.FEMALE_MODERN if modern else names.FEMALE_CLASSIC
        given = rng.choice(pool)
        if rng.random() < 0.75:
            given += rng.choice(pool)
        phone = None
        if rng.random() < 0.6:
            phone = f"{rng.choice(names.MOBILE_PREFIXES)}{int(rng.random() * 1e8):08d}"
        return LinkagePerson(
            key=key,
            name=surname + given,
            name_pinyin=names.romanise([surname, given]),
            birth_date=born,
            address=self.address(),
            phone=phone,
        )

    def address(self, *, short: bool = False) -> str:
        rng = self.rng
        region = rng.choices(names.REGIONS, weights=_REGION_WEIGHTS)[0]
        place = region.city if region.province == region.city else region.province + region.city
        road = rng.choice(names.ROADS)
        street = f"{road}{1 + int(rng.random() * 399)}号{1 + int(rng.random() * 30)}栋"
        room = f"{(1 + int(rng.random() * 32)) * 100 + 1 + int(rng.random() * 12)}室"
        return ("" if short else place) + region.district + street + room

    def record(self, person: LinkagePerson, noise: Noise) -> LinkageRecord:
        applied: list[str] = []
        name = self.name(person, noise, applied)
        birth: date | None = person.birth_date
        born = person.birth_date
        if self.chance(noise.birth_missing):
            birth = None
            applied.append("birth_missing")
        elif (
            self.chance(noise.birth_swapped)
            and born.day <= 12
            and born.day != born.month
            and _valid(born.year, born.day, born.month)
        ):
            birth = date(born.year, born.day, born.month)
            applied.append("birth_swapped")
        elif self.chance(noise.birth_digit):
            birth = self.mistyped(born)
            applied.append("birth_digit")
        address: str | None = None
        if self.chance(noise.address_missing):
            applied.append("address_missing")
        else:
            address = person.address
            if self.chance(noise.address_moved):
                address = self.address()
                applied.append("address_moved")
            if self.chance(noise.address_short):
                address = _drop_place(address)
                applied.append("address_short")
        phone = person.phone
        if phone is None or self.chance(noise.phone_missing):
            phone = None
            applied.append("phone_missing")
        else:
            if self.chance(noise.phone_changed):
                phone = (
                    f"{self.rng.choice(names.MOBILE_PREFIXES)}{int(self.rng.random() * 1e8):08d}"
                )
                applied.append("phone_changed")
            if self.chance(noise.phone_formatted):
                phone = f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}"
                applied.append("phone_formatted")
        return LinkageRecord(person.key, name, birth, address, phone, tuple(applied))

    def name(self, person: LinkagePerson, noise: Noise, applied: list[str]) -> str:
        rng = self.rng
        if not self.chance(noise.pinyin):
            name = person.name
            if self.chance(noise.name_typo) and len(name) > 1:
                pool = names.MALE_CLASSIC + names.FEMALE_MODERN
                at = 1 + int(rng.random() * (len(name) - 1))
                name = name[:at] + rng.choice(pool) + name[at + 1 :]
                applied.append("name_typo")
            return name
        applied.append("pinyin")
        surname, _, given = person.name_pinyin.partition(" ")
        if self.chance(noise.name_typo) and len(given) > 2:
            at = 1 + int(rng.random() * (len(given) - 1))
            given = given[:at] + rng.choice(_LETTERS) + given[at + 1 :]
            applied.append("name_typo")
        if self.chance(noise.upper_surname):
            surname = surname.upper()
            applied.append("upper_surname")
        if self.chance(noise.western_order):
            applied.append("western_order")
            return f"{given} {surname}" if rng.random() < 0.7 else f"{surname}, {given}"
        return f"{surname} {given}"

    def mistyped(self, day: date) -> date:
        text = day.isoformat()
        for _ in range(20):
            at = self.rng.choice((2, 3, 5, 6, 8, 9))
            candidate = text[:at] + str(int(self.rng.random() * 10)) + text[at + 1 :]
            try:
                typed = date.fromisoformat(candidate)
            except ValueError:
                continue
            if typed != day:
                return typed
        return day


def _valid(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _drop_place(address: str) -> str:
    for region in names.REGIONS:
        place = region.city if region.province == region.city else region.province + region.city
        if address.startswith(place):
            return address[len(place) :]
    return address


def generate_linkage(
    records: int,
    *,
    seed: int = 1,
    registered: int | None = None,
    unregistered_share: float = 0.15,
    noise: Noise | None = None,
    as_of: date = date(2026, 6, 30),
) -> LinkageSet:
    """``records`` noisy records; by default the registry knows ``records // 2`` people
    and ``unregistered_share`` of the records are about people it does not know (a
    third of those people have two or three records). Deterministic for a ``seed``."""
    noise = noise or Noise()
    draw = _Draw(seed, as_of)
    n_registered = records // 2 if registered is None else registered
    known = tuple(draw.person(f"R{i:07d}") for i in range(n_registered))
    people = {p.key: p for p in known}
    out: list[LinkageRecord] = []
    n_unknown = int(records * unregistered_share)
    number = 0
    while len(out) < n_unknown:
        person = draw.person(f"U{number:07d}")
        number += 1
        people[person.key] = person
        copies = 1 if draw.chance(2 / 3) else 2 + int(draw.rng.random() * 2)
        for _ in range(min(copies, n_unknown - len(out))):
            out.append(draw.record(person, noise))
    while len(out) < records and known:
        out.append(draw.record(known[int(draw.rng.random() * len(known))], noise))
    draw.rng.shuffle(out)
    return LinkageSet(registered=known, people=people, records=tuple(out))


def match_inputs(data: LinkageSet) -> tuple[list[MatchInput], list[MatchInput]]:
    """The registered people (uids ``p0``, ``p1``... in order) and the records (``c0``,
    ``c1``...) as the matching model reads them."""
    known = [
        match_input(f"p{n}", "person", p.name, p.birth_date, p.address, p.phone)
        for n, p in enumerate(data.registered)
    ]
    incoming = [
        match_input(f"c{n}", "person", r.name, r.birth_date, r.address, r.phone)
        for n, r in enumerate(data.records)
    ]
    return known, incoming
