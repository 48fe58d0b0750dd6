"""Policy versions: every distinct text of a policy is kept, numbered, and never changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, insert, select

from trustledger.errors import NotFound
from trustledger.store.tables import policy_versions

__all__ = [
    "StoredPolicy",
    "get_policy",
    "latest_policy",
    "latest_policy_id",
    "list_policies",
    "save_policy",
]


@dataclass(frozen=True, slots=True)
class StoredPolicy:
    id: int
    name: str
    version: int
    sha256: str
    filename: str
    source: str
    loaded_at: datetime

    @property
    def label(self) -> str:
        """``example-city@3``: how scores and decisions name the version they used."""
        return f"{self.name}@{self.version}"


def _row(row: object) -> StoredPolicy:
    m = row._mapping  # type: ignore[attr-defined]
    return StoredPolicy(
        id=m["id"],
        name=m["name"],
        version=m["version"],
        sha256=m["sha256"],
        filename=m["filename"],
        source=m["source"],
        loaded_at=m["loaded_at"],
    )


def save_policy(
    conn: Connection, *, name: str, sha256: str, filename: str, source: str, now: datetime
) -> tuple[StoredPolicy, bool]:
    """Store a policy text as the next version of ``name``; returns (version, created).

    The same text again returns the version that already holds it.
    """
    existing = conn.execute(
        select(policy_versions).where(
            policy_versions.c.name == name, policy_versions.c.sha256 == sha256
        )
    ).first()
    if existing is not None:
        return _row(existing), False
    current = conn.execute(
        select(func.max(policy_versions.c.version)).where(policy_versions.c.name == name)
    ).scalar_one()
    new_id = conn.execute(
        insert(policy_versions).returning(policy_versions.c.id),
        {
            "name": name,
            "version": (current or 0) + 1,
            "sha256": sha256,
            "filename": filename,
            "source": source,
            "loaded_at": now,
        },
    ).scalar_one()
    return get_policy(conn, f"#{new_id}"), True


_LATEST_ID = select(policy_versions.c.id).order_by(policy_versions.c.id.desc()).limit(1)


def latest_policy_id(conn: Connection) -> int | None:
    """The id of the most recently loaded policy version (one indexed read per request)."""
    found = conn.execute(_LATEST_ID).scalar()
    return None if found is None else int(found)


def latest_policy(conn: Connection, name: str | None = None) -> StoredPolicy | None:
    """The newest version of ``name``, or the most recently loaded policy of any name."""
    query = select(policy_versions).order_by(policy_versions.c.id.desc()).limit(1)
    if name is not None:
        query = query.where(policy_versions.c.name == name)
    row = conn.execute(query).first()
    return _row(row) if row is not None else None


def get_policy(conn: Connection, ref: str) -> StoredPolicy:
    """Find a version by ``name@version``, ``name`` (its newest) or ``#id``."""
    if ref.startswith("#") and ref[1:].isascii() and ref[1:].isdigit():
        query = select(policy_versions).where(policy_versions.c.id == int(ref[1:]))
    elif "@" in ref:
        name, _, version = ref.partition("@")
        if not (version.isascii() and version.isdigit()):
            raise NotFound(f"policy version {ref!r}: write it as NAME@NUMBER, e.g. {name}@1")
        query = select(policy_versions).where(
            policy_versions.c.name == name, policy_versions.c.version == int(version)
        )
    else:
        found = latest_policy(conn, ref)
        if found is None:
            raise NotFound(f"no policy named {ref!r} is loaded; see `trustledger policy versions`")
        return found
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"no policy version {ref!r}; see `trustledger policy versions`")
    return _row(row)


def list_policies(conn: Connection) -> list[StoredPolicy]:
    rows = conn.execute(
        select(policy_versions).order_by(policy_versions.c.name, policy_versions.c.version)
    )
    return [_row(r) for r in rows]
