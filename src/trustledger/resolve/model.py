"""The matching model: a Fellegi-Sunter model trained with Splink, kept as a file.

A model file is JSON::

    {"format": "trustledger-identity-model", "format_version": 1,
     "trained_at": "2026-11-24T03:00:00+00:00", "trained_on": {...},
     "splink_version": "5.0.0", "splink": {<Splink settings, as save_model_to_json>}}

``splink`` is exactly what Splink saves and loads (``Linker(df, model["splink"])``): the
comparisons (name in characters and pinyin, birth date, address, phone), their levels
with m and u probabilities, the prior and the blocking rules. The file's SHA-256 names
the model: every identity decision records it, and the policy may pin one.

Training (:func:`train_model`) is unsupervised: u probabilities from random pairs, the
prior from pairs that agree on name and birth date, m probabilities by expectation
maximisation on several blocking rules (one field at a time would leave that field's
levels unestimated, and a very selective rule can fail to converge).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from importlib import resources
from typing import Any, Final

import pyarrow as pa

from trustledger.errors import InvalidInput

__all__ = [
    "FORMAT",
    "INPUT_COLUMNS",
    "Level",
    "MatchModel",
    "as_table",
    "default_model",
    "settings",
    "train_model",
]

FORMAT: Final = "trustledger-identity-model"
#: The columns a record is given to the model in (see resolve/match.py).
INPUT_COLUMNS: Final = (
    "unique_id",
    "kind",
    "name_hanzi",
    "name_pinyin",
    "name_tokens",
    "birth_date",
    "address",
    "phone",
)
#: How each compared field is named in explanations.
FIELDS: Final = ("name", "birth_date", "address", "phone")


def settings() -> Any:
    """The model's structure, untrained: what is compared, on which levels, and how
    candidate pairs are found (blocking: same kind, and the same birth date, the same
    name words or the same phone)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    name = cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("name_pinyin"),
            cll.ExactMatchLevel("name_hanzi").configure(label_for_charts="same characters"),
            cll.ExactMatchLevel("name_pinyin").configure(label_for_charts="same pinyin"),
            cll.ExactMatchLevel("name_tokens").configure(
                label_for_charts="same words in another order"
            ),
            cll.JaroWinklerLevel("name_pinyin", 0.92).configure(
                label_for_charts="pinyin nearly the same (Jaro-Winkler >= 0.92)"
            ),
            cll.JaroWinklerLevel("name_pinyin", 0.8).configure(
                label_for_charts="pinyin similar (Jaro-Winkler >= 0.8)"
            ),
            cll.ElseLevel().configure(label_for_charts="different names"),
        ],
    )
    swapped = (
        "substr(birth_date_l, 1, 4) = substr(birth_date_r, 1, 4) "
        "AND substr(birth_date_l, 6, 2) = substr(birth_date_r, 9, 2) "
        "AND substr(birth_date_l, 9, 2) = substr(birth_date_r, 6, 2)"
    )
    birth = cl.CustomComparison(
        output_column_name="birth_date",
        comparison_levels=[
            cll.NullLevel("birth_date"),
            cll.ExactMatchLevel("birth_date").configure(label_for_charts="same birth date"),
            cll.CustomLevel(swapped, label_for_charts="day and month swapped"),
            cll.DamerauLevenshteinLevel("birth_date", 1).configure(
                label_for_charts="one digit different"
            ),
            cll.ElseLevel().configure(label_for_charts="different birth dates"),
        ],
    )
    address = cl.CustomComparison(
        output_column_name="address",
        comparison_levels=[
            cll.NullLevel("address"),
            # Nearly the same address (same road, another number) is as common between
            # neighbours as between one person's records: only the same address tells.
            cll.ExactMatchLevel("address").configure(label_for_charts="same address"),
            cll.ElseLevel().configure(label_for_charts="different addresses"),
        ],
    )
    phone = cl.CustomComparison(
        output_column_name="phone",
        comparison_levels=[
            cll.NullLevel("phone"),
            cll.ExactMatchLevel("phone").configure(label_for_charts="same phone"),
            cll.ElseLevel().configure(label_for_charts="different phones"),
        ],
    )
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[name, birth, address, phone],
        blocking_rules_to_generate_predictions=[
            block_on("kind", "birth_date"),
            block_on("kind", "name_tokens"),
            block_on("kind", "phone"),
        ],
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=True,
    )


@dataclass(frozen=True, slots=True)
class Level:
    """One level of one compared field, as explanations name it."""

    field: str
    label: str
    #: log2 of the level's Bayes factor m/u: what agreeing (or not) on this adds.
    weight: float


class MatchModel:
    """A loaded model file. ``sha256`` is over the file's bytes."""

    def __init__(self, body: str, *, filename: str = "model.json") -> None:
        self.body = body
        self.filename = filename
        self.sha256 = hashlib.sha256(body.encode("utf-8")).hexdigest()
        try:
            doc = json.loads(body)
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                f"{filename}:{exc.lineno}: not valid JSON ({exc.msg}): a model file is the "
                "JSON that `trustledger identity train` writes"
            ) from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise InvalidInput(
                f'{filename}: not a trustledger identity model (its "format" must be '
                f"{FORMAT!r}); write one with `trustledger identity train`"
            )
        if doc.get("format_version") != 1:
            raise InvalidInput(f"{filename}: format_version {doc.get('format_version')!r}; only 1")
        splink = doc.get("splink")
        if not isinstance(splink, dict) or not isinstance(splink.get("comparisons"), list):
            raise InvalidInput(f'{filename}: "splink" must hold Splink\'s model settings')
        names = [c.get("output_column_name") for c in splink["comparisons"]]
        if names != list(FIELDS):
            raise InvalidInput(
                f"{filename}: the model compares {names}; trustledger's inputs are "
                f"{list(FIELDS)} (train it with `trustledger identity train`)"
            )
        for comparison in splink["comparisons"]:
            for level in comparison["comparison_levels"]:
                if level.get("is_null_level"):
                    continue
                for p in ("m_probability", "u_probability"):
                    value = level.get(p)
                    if not isinstance(value, (int, float)) or not 0 < value <= 1:
                        raise InvalidInput(
                            f"{filename}: {comparison['output_column_name']} level "
                            f"{level.get('label_for_charts')!r} has no trained {p}: "
                            "train the model before using it"
                        )
        self.doc: dict[str, Any] = doc
        self.splink: dict[str, Any] = splink

    @property
    def trained_at(self) -> str:
        return str(self.doc.get("trained_at", ""))

    @property
    def trained_on(self) -> dict[str, Any]:
        value = self.doc.get("trained_on", {})
        return value if isinstance(value, dict) else {}

    @cached_property
    def prior_weight(self) -> float:
        """log2 of the prior odds that two records picked at random match."""
        p = float(self.splink["probability_two_random_records_match"])
        return math.log2(p / (1 - p))

    @cached_property
    def levels(self) -> dict[str, dict[int, Level]]:
        """Field -> comparison vector value (Splink's gamma) -> level. Splink numbers a
        field's non-null levels from the highest (the first listed) down to 0; the null
        level is -1 and weighs nothing."""
        out: dict[str, dict[int, Level]] = {}
        for comparison in self.splink["comparisons"]:
            field = comparison["output_column_name"]
            listed = comparison["comparison_levels"]
            non_null = [lv for lv in listed if not lv.get("is_null_level")]
            table = {-1: Level(field, "unknown (missing on one side)", 0.0)}
            for index, level in enumerate(non_null):
                m, u = float(level["m_probability"]), float(level["u_probability"])
                table[len(non_null) - 1 - index] = Level(
                    field, str(level.get("label_for_charts", "")), math.log2(m / u)
                )
            out[field] = table
        return out

    def explain(self, gammas: dict[str, int]) -> list[dict[str, Any]]:
        """The per-field explanation of a pair from its comparison vector."""
        fields = []
        for field in FIELDS:
            level = self.levels[field][int(gammas[field])]
            fields.append({"field": field, "level": level.label, "weight": round(level.weight, 3)})
        return fields


def default_model() -> MatchModel:
    """The model shipped with trustledger, trained on the synthetic population
    (``trustledger identity train --synthetic``); a registry should train its own."""
    body = resources.files("trustledger.resolve").joinpath("default-model.json").read_text("utf-8")
    return MatchModel(body, filename="trustledger/resolve/default-model.json")


def train_model(
    table: pa.Table,
    *,
    now: datetime,
    seed: int = 1,
    u_pairs: float = 1e7,
    trained_on: dict[str, Any] | None = None,
) -> str:
    """Train a model on ``table`` (the :data:`INPUT_COLUMNS`, one row per record or
    profile, unlabelled) and return the model file's text.

    Deterministic for a ``seed`` and the same rows in the same order.
    """
    import splink
    from splink import DuckDBAPI, Linker, block_on

    if table.num_rows < 100:
        raise InvalidInput(f"training needs at least 100 records to compare; got {table.num_rows}")
    db = DuckDBAPI()
    frame = db.register(table.select(list(INPUT_COLUMNS)), table_name="training")
    linker = Linker(frame, settings(), log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("name_pinyin", "birth_date")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=seed)
    # Each session fixes what it blocks on and estimates the others' m probabilities.
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("birth_date"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("name_tokens"))
    model = linker.misc.save_model_to_json()
    model["linker_uid"] = "trustledger"
    # DuckDB sums in parallel, so the last bits of a probability vary from run to run:
    # nine significant digits make the same data and seed write the same file (but for
    # the rare value that sits on a rounding boundary).
    model["probability_two_random_records_match"] = _round(
        model["probability_two_random_records_match"]
    )
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            for key in ("m_probability", "u_probability"):
                if key in level:
                    level[key] = _round(level[key])
    doc = {
        "format": FORMAT,
        "format_version": 1,
        "trained_at": now.isoformat(),
        "trained_on": {"records": table.num_rows, "seed": seed, **(trained_on or {})},
        "splink_version": splink.__version__,
        "splink": model,
    }
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def _round(p: float) -> float:
    return float(f"{p:.9g}")


def as_table(rows: Sequence[dict[str, Any]]) -> pa.Table:
    """Rows of :data:`INPUT_COLUMNS` as an Arrow table with fixed string types (an empty
    or all-null column keeps its type)."""
    schema = pa.schema([(c, pa.string()) for c in INPUT_COLUMNS])
    return pa.Table.from_pylist(list(rows), schema=schema)
