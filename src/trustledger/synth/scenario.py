"""A simulation scenario: who lives in the synthetic city and how unevenly it is policed.

The columnar generator (:mod:`trustledger.synth.columnar`) gives every subject
demographic attributes that no policy may use (district, urban or rural area, age band,
sex, income band) and draws its records at rates that a scenario may raise or lower for
one group: more fare checks on the line that runs through one district, more food
inspections in another, a higher latent risk among people on low incomes. Without a
scenario file the defaults below apply and enforcement is even: any difference between
groups in a report then comes from the policy and from how people's lives differ (the
young have had less time to build a repayment history), not from the scenario.

A scenario is a TOML file (``examples/scenarios/`` has some; ``docs/simulate.md``
documents every key)::

    [scenario]
    name = "uneven-fare-checks"
    description = "Line 3 through the east hills is checked three times as often."

    [[enforcement]]
    record_types = ["fare_evasion"]
    where = { district = "east_hills" }
    factor = 3.0

Every problem is reported as ``FILE:LINE: key.path: reason``; nothing is half-loaded.

>>> s = parse_scenario('[scenario]\\nname = "x"\\n', filename="x.toml")
>>> s.name, len(s.districts), s.enforcement
('x', 8, ())
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from trustledger.errors import InvalidInput
from trustledger.policy.load import format_path
from trustledger.policy.locate import index_lines
from trustledger.synth.population import RECORD_TYPES

__all__ = [
    "AGE_BANDS",
    "AREAS",
    "ATTRIBUTES",
    "DEFAULT_DISTRICTS",
    "KINDS",
    "SEXES",
    "District",
    "Rule",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "parse_scenario",
]

#: The demographic attributes of a subject (``DIR/demographics``), plus its kind, that a
#: scenario's ``where`` may name. Persons have all of them; organisations have a
#: district and an area, and no age band, sex or income band.
ATTRIBUTES: Final = ("kind", "district", "area", "age_band", "sex", "income_band")
#: Age bands of persons, with rough shares of China's adult population (as
#: :mod:`trustledger.synth.population` draws them).
AGE_BANDS: Final = (
    ("18-29", 18, 29, 20.0),
    ("30-39", 30, 39, 18.0),
    ("40-49", 40, 49, 20.0),
    ("50-59", 50, 59, 19.0),
    ("60-69", 60, 69, 14.0),
    ("70+", 70, 85, 9.0),
)
SEXES: Final = ("female", "male")
AREAS: Final = ("urban", "rural")
KINDS: Final = ("person", "organisation")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class District(_Model):
    """A district of the (fictional) city: how many live there, and how many of them
    rurally."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    weight: float = Field(gt=0)
    rural_share: float = Field(default=0.0, ge=0, le=1)


#: Example City's districts: a dense centre, suburbs, and two rural counties.
DEFAULT_DISTRICTS: Final = (
    District(name="central", weight=18, rural_share=0.0),
    District(name="riverside", weight=16, rural_share=0.02),
    District(name="university", weight=12, rural_share=0.0),
    District(name="harbour", weight=14, rural_share=0.08),
    District(name="new_town", weight=15, rural_share=0.15),
    District(name="east_hills", weight=10, rural_share=0.45),
    District(name="north_county", weight=8, rural_share=0.8),
    District(name="south_county", weight=7, rural_share=0.85),
)


class Rule(_Model):
    """A rate change for the subjects ``where`` selects.

    In ``[[enforcement]]`` the expected number of records of ``record_types`` (all types
    when empty) is multiplied by ``factor``: more inspections, more fare checks. In
    ``[[risk]]`` the subjects' latent risk is multiplied by ``factor``: their lives are
    harder, so every kind of negative record becomes likelier (serious ones more than in
    proportion, as in the population generator).
    """

    where: dict[str, str | tuple[str, ...]] = Field(default_factory=dict)
    record_types: tuple[str, ...] = ()
    factor: float = Field(ge=0, le=100)
    note: str = ""

    def values(self, attribute: str) -> tuple[str, ...]:
        value = self.where[attribute]
        return (value,) if isinstance(value, str) else value


class Scenario(_Model):
    """The population and enforcement model of a simulation. ``docs/simulate.md``."""

    name: str = Field(default="even", pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str = "Even enforcement: every group is checked at the same rates."
    #: Share of subjects that are organisations.
    org_share: float = Field(default=0.2, ge=0, le=1)
    #: Scales routine activity (loans, volunteering, inspections); about this many
    #: records per subject over the ten years.
    records_per_subject: float = Field(default=20.0, gt=0, le=200)
    districts: tuple[District, ...] = Field(default=DEFAULT_DISTRICTS, min_length=1)
    #: Income bands of persons, with their weights.
    income_bands: dict[str, float] = Field(
        default_factory=lambda: {"low": 30.0, "middle": 50.0, "high": 20.0}, min_length=1
    )
    enforcement: tuple[Rule, ...] = ()
    risk: tuple[Rule, ...] = ()

    @model_validator(mode="after")
    def _names(self) -> Scenario:
        names = [d.name for d in self.districts]
        if len(set(names)) != len(names):
            raise ValueError("district names must be unique")
        for weight in self.income_bands.values():
            if weight <= 0:
                raise ValueError("income band weights must be positive")
        return self

    def allowed_values(self, attribute: str) -> tuple[str, ...]:
        """The values ``attribute`` can take in this scenario."""
        if attribute == "kind":
            return KINDS
        if attribute == "district":
            return tuple(d.name for d in self.districts)
        if attribute == "area":
            return AREAS
        if attribute == "age_band":
            return tuple(b[0] for b in AGE_BANDS)
        if attribute == "sex":
            return SEXES
        if attribute == "income_band":
            return tuple(self.income_bands)
        raise KeyError(attribute)


class ScenarioError(InvalidInput):
    """A scenario file could not be read; ``problems`` are ``FILE:LINE: key: reason``."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


_TOML_POSITION: Final = re.compile(r"\s*\(at line (\d+), column \d+\)\s*$")
_SECTIONS: Final = {"scenario", "population", "districts", "income_bands", "enforcement", "risk"}


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file (UTF-8 TOML); :class:`ScenarioError` if it is bad."""
    filename = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(
            [f"{filename}: cannot read the scenario: {exc.strerror or exc}"]
        ) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError([f"{filename}: the file is not UTF-8 ({exc.reason})"]) from None
    return parse_scenario(text, filename=filename)


def parse_scenario(text: str, *, filename: str) -> Scenario:
    """Check scenario text; ``filename`` is only used in messages."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_POSITION.search(message)
        if found is None:
            raise ScenarioError([f"{filename}: TOML syntax error: {message}"]) from None
        raise ScenarioError(
            [f"{filename}:{found.group(1)}: TOML syntax error: {message[: found.start()]}"]
        ) from None
    index = index_lines(text)

    def where(path: tuple[str | int, ...]) -> str:
        line = index.line_of(path) or 1
        return f"{filename}:{line}: {format_path(path)}" if path else f"{filename}:{line}"

    problems = [
        f"{where((key,))}: unknown section (known: {', '.join(sorted(_SECTIONS))})"
        for key in document
        if key not in _SECTIONS
    ]
    flat: dict[str, Any] = {}
    header = document.get("scenario", {})
    population = document.get("population", {})
    for section, allowed in (
        ("scenario", ("name", "description")),
        ("population", ("org_share", "records_per_subject")),
    ):
        table = header if section == "scenario" else population
        if not isinstance(table, Mapping):
            problems.append(f"{where((section,))}: expected a table")
            continue
        for key, value in table.items():
            if key not in allowed:
                problems.append(
                    f"{where((section, key))}: unknown key (known: {', '.join(allowed)})"
                )
            else:
                flat[key] = value
    for key in ("districts", "income_bands", "enforcement", "risk"):
        if key in document:
            flat[key] = document[key]
    if problems:
        raise ScenarioError(problems)

    # Where each field of the flat model is written in the file.
    home = {"name": "scenario", "description": "scenario", "org_share": "population"}
    home["records_per_subject"] = "population"
    try:
        scenario = Scenario.model_validate(flat)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(p for p in error["loc"] if isinstance(p, str | int))
            if loc and isinstance(loc[0], str) and loc[0] in home:
                loc = (home[loc[0]], *loc)
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{where(loc)}: {message} (got {_show(error.get('input'))})")
        raise ScenarioError(problems) from None

    for group in ("enforcement", "risk"):
        for i, rule in enumerate(getattr(scenario, group)):
            for j, name in enumerate(rule.record_types):
                if name not in RECORD_TYPES:
                    problems.append(
                        f"{where((group, i, 'record_types', j))}: unknown record type "
                        f"{name!r} (the synthetic catalogue's types are in docs/catalogue.md)"
                    )
            if group == "risk" and rule.record_types:
                problems.append(
                    f"{where((group, i, 'record_types'))}: a risk rule changes every record "
                    "type; leave record_types out"
                )
            for attribute in rule.where:
                if attribute not in ATTRIBUTES:
                    problems.append(
                        f"{where((group, i, 'where', attribute))}: unknown attribute "
                        f"(known: {', '.join(ATTRIBUTES)})"
                    )
                    continue
                allowed_values = scenario.allowed_values(attribute)
                for value in rule.values(attribute):
                    if value not in allowed_values:
                        problems.append(
                            f"{where((group, i, 'where', attribute))}: unknown value "
                            f"{value!r} (known: {', '.join(allowed_values)})"
                        )
    if problems:
        raise ScenarioError(problems)
    return scenario


def _show(value: object) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list | tuple):
        return "an array"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
