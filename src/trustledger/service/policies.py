"""Use cases around policy files: load a new version, find the one in force."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Connection, Engine

from trustledger.errors import NotFound, PolicyError
from trustledger.policy.lint import lint_policy
from trustledger.policy.load import load_policy, parse_policy
from trustledger.policy.schema import Policy
from trustledger.store import policies as policy_store
from trustledger.store.policies import StoredPolicy

__all__ = ["ActivePolicy", "active_policy", "current_policy", "install_policy", "policy_of"]


@dataclass(frozen=True, slots=True)
class ActivePolicy:
    stored: StoredPolicy
    policy: Policy

    @property
    def label(self) -> str:
        return self.stored.label


def install_policy(engine: Engine, path: str | Path, *, now: datetime) -> tuple[StoredPolicy, bool]:
    """Load, lint and store a policy file as a new immutable version.

    Returns ``(version, created)``; the same text again creates nothing. A policy with
    lint errors is refused with :class:`PolicyError` and nothing is stored.
    """
    loaded = load_policy(path)
    errors = [p for p in lint_policy(loaded) if p.severity == "error"]
    if errors:
        raise PolicyError(errors)
    with engine.begin() as conn:
        return policy_store.save_policy(
            conn,
            name=loaded.policy.policy.name,
            sha256=loaded.sha256,
            filename=str(path),
            source=loaded.source,
            now=now,
        )


@lru_cache(maxsize=16)
def _parse(source: str, filename: str) -> Policy:
    return parse_policy(source, filename=filename).policy


def policy_of(stored: StoredPolicy) -> Policy:
    """The parsed policy of a stored version (parsed once per process)."""
    return _parse(stored.source, stored.filename)


def active_policy(conn: Connection, ref: str | None = None) -> ActivePolicy:
    """The policy version ``ref`` names, or the most recently loaded one."""
    if ref is not None:
        stored = policy_store.get_policy(conn, ref)
    else:
        found = policy_store.latest_policy(conn)
        if found is None:
            raise NotFound(
                "no policy is loaded: run `trustledger init --policy FILE` "
                "or `trustledger policy load FILE`"
            )
        stored = found
    return ActivePolicy(stored, policy_of(stored))


def current_policy(engine: Engine) -> ActivePolicy:
    """The policy in force, on a read-only connection of its own (what the public pages
    explain)."""
    with engine.connect().execution_options(read_only=True) as conn:
        return active_policy(conn)
