"""trustledger: an accountable registry of credit records and reputation scores.

The public API is what ``__all__`` lists; everything else may change. For scripts::

    from trustledger import evaluate, load_policy
    policy = load_policy("policies/example-city.toml").policy
    result = evaluate(policy, records, subject_id=1, subject_kind=SubjectKind.PERSON,
                      as_of=date(2026, 6, 30), policy_version="example-city@1")

Identifier validators live in :mod:`trustledger.identifiers`.
"""

from trustledger.domain.record import RecordAction, RecordVersion
from trustledger.domain.score import Contribution, ListMembership, ScoreResult
from trustledger.domain.subject import Identifier, Subject, SubjectKind
from trustledger.errors import (
    BatchRejected,
    IdentifierError,
    InvalidInput,
    NotFound,
    PolicyError,
    TrustledgerError,
)
from trustledger.policy.evaluate import evaluate
from trustledger.policy.lint import lint_policy
from trustledger.policy.load import load_policy, parse_policy
from trustledger.policy.schema import Policy

__version__ = "0.1.0.dev0"

__all__ = [
    "BatchRejected",
    "Contribution",
    "Identifier",
    "IdentifierError",
    "InvalidInput",
    "ListMembership",
    "NotFound",
    "Policy",
    "PolicyError",
    "RecordAction",
    "RecordVersion",
    "ScoreResult",
    "Subject",
    "SubjectKind",
    "TrustledgerError",
    "__version__",
    "evaluate",
    "lint_policy",
    "load_policy",
    "parse_policy",
]
