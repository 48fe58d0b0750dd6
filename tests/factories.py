"""Small factories for tests: a valid policy built in code and records to score with it.

The default policy is the smallest one that exercises every kind of rule: two capped
domains and one without caps, each decay kind, a type for organisations only, a type that
keeps counting while disputed, a record-type black list, a threshold black list with a
minimum stay and a red list with a clean window. Tests override what they need::

    make_policy(base_score="500", min_score="0", lists={})
    make_record(3, "loan_default", date(2026, 3, 12), disputed=True)
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any

from trustledger.domain.record import RecordAction, RecordVersion
from trustledger.policy.schema import Policy, PolicyHeader, check_references

__all__ = ["make_policy", "make_record", "policy_document", "retracted"]

_HEADER_KEYS = frozenset(PolicyHeader.model_fields)


def policy_document() -> dict[str, Any]:
    """The default policy as a plain document (what a TOML file would load into)."""
    return {
        "policy": {
            "name": "test",
            "title": "Test policy",
            "jurisdiction": "Example City",
            "base_score": "1000",
        },
        "grades": [
            {"grade": "A", "min_score": "1050"},
            {"grade": "B", "min_score": "950"},
            {"grade": "C", "min_score": "800"},
            {"grade": "D"},
        ],
        "domains": {
            "finance": {"title": "Finance and credit", "cap_negative": "-400"},
            "judicial": {"title": "Judicial"},
            "civic": {"title": "Civic life", "cap_positive": "50"},
        },
        "record_types": {
            "late_payment": {
                "domain": "finance",
                "title": "Late payment",
                "points": "-20",
                "decay": {"kind": "half_life", "period": "1y"},
                "counts_for": "3y",
                "legal_basis": "Credit Reporting Act art. 12",
            },
            "loan_default": {
                "domain": "finance",
                "title": "Loan default",
                "points": "-150",
                "decay": {"kind": "half_life", "period": "1y"},
                "counts_for": "5y",
                "legal_basis": "Credit Reporting Act art. 13",
            },
            "court_judgment_unfulfilled": {
                "domain": "judicial",
                "title": "Unpaid court judgment",
                "points": "-200",
                "counts_for": "5y",
                "legal_basis": "Civil Procedure Law art. 262",
            },
            "tax_arrears": {
                "domain": "finance",
                "title": "Tax arrears",
                "applies_to": ["organisation"],
                "points": "-100",
                "decay": {"kind": "linear", "period": "2y"},
                "counts_for": "2y",
                "legal_basis": "Tax Administration Law art. 45",
                "disputed_counts": True,
            },
            "volunteer_work": {
                "domain": "civic",
                "title": "Volunteer work",
                "applies_to": ["person"],
                "points": "20",
                "decay": {"kind": "linear", "period": "1y"},
                "counts_for": "1y",
                "legal_basis": "Volunteer Service Regulation art. 4",
            },
        },
        "lists": {
            "dishonest_debtors": {
                "kind": "black",
                "title": "Dishonest judgment debtors",
                "public": True,
                "legal_basis": "Supreme Court Provisions on Dishonest Debtors",
                "rules": [
                    {
                        "id": "unfulfilled_judgment",
                        "record_types": ["court_judgment_unfulfilled"],
                        "duration": "3y",
                    }
                ],
            },
            "low_score": {
                "kind": "black",
                "title": "Low scores",
                "legal_basis": "Credit Reporting Act art. 20",
                "rules": [{"id": "below_800", "score_below": "800", "duration": "1y"}],
            },
            "trustworthy": {
                "kind": "red",
                "title": "Trustworthy",
                "public": True,
                "legal_basis": "Credit Reporting Act art. 21",
                "rules": [{"id": "clean", "score_at_least": "1000", "no_negative_within": "2y"}],
            },
        },
        "measures": {
            "loan_rate": {
                "kind": "sanction",
                "title": "Higher loan rate",
                "legal_basis": "Banking Law art. 7",
                "affected_by": {"finance": "Banking Law art. 7(2)"},
                "when": {"grade_at_most": "C"},
                "effect": "allow_with_conditions",
                "conditions": ["rate surcharge of 1 point"],
            },
            "fast_lane": {
                "kind": "incentive",
                "title": "Fast lane at city offices",
                "legal_basis": "City Services Ordinance art. 3",
                "affected_by": {"civic": "City Services Ordinance art. 3(1)"},
                "when": {"lists": ["trustworthy"]},
                "effect": "allow",
            },
        },
        "providers": {
            "intermediate_court": {
                "kind": "court",
                "title": "Intermediate People's Court of Example City",
                "grants": ["court_judgment_unfulfilled"],
            },
            "bank": {
                "kind": "bank",
                "title": "Example Bank",
                "grants": ["late_payment", "loan_default"],
            },
            "tax_office": {
                "kind": "tax",
                "title": "Example City Tax Office",
                "grants": ["tax_arrears"],
            },
            "city": {"kind": "government", "title": "City Hall", "grants": ["volunteer_work"]},
        },
    }


def make_policy(**overrides: Any) -> Policy:
    """A valid policy; keys of the ``[policy]`` header (``base_score``, ``min_score``, ...)
    go into the header, any other key replaces that top-level section."""
    doc = policy_document()
    for key, value in overrides.items():
        if key in _HEADER_KEYS:
            doc["policy"][key] = value
        else:
            doc[key] = value
    policy = Policy.model_validate(doc)
    problems = check_references(policy)
    assert not problems, problems
    return policy


_PROVIDERS = {
    "late_payment": "bank",
    "loan_default": "bank",
    "court_judgment_unfulfilled": "intermediate_court",
    "tax_arrears": "tax_office",
    "volunteer_work": "city",
}


def make_record(
    record_id: int = 1,
    record_type: str = "late_payment",
    valid_from: date = date(2026, 1, 1),
    *,
    version: int = 1,
    subject_id: int = 1,
    provider: str | None = None,
    action: RecordAction = RecordAction.CREATE,
    valid_to: date | None = None,
    disputed: bool = False,
    recorded_at: datetime | None = None,
) -> RecordVersion:
    """One record version; the provider defaults to the one the default policy grants."""
    return RecordVersion(
        record_id=record_id,
        version=version,
        subject_id=subject_id,
        record_type=record_type,
        provider=provider or _PROVIDERS.get(record_type, "bank"),
        valid_from=valid_from,
        recorded_at=recorded_at or datetime(2026, 1, 1, tzinfo=UTC),
        action=action,
        valid_to=valid_to,
        disputed=disputed,
    )


def retracted(record: RecordVersion) -> RecordVersion:
    """The next version of ``record``, withdrawing it."""
    return dataclasses.replace(record, version=record.version + 1, action=RecordAction.RETRACT)
