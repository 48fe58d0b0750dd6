"""CLI tests sign their audit logs with a key of their own (PostgreSQL has no default
place for it; SQLite's default, beside the database file, would also do)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def audit_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "audit-key.pem"
    monkeypatch.setenv("TRUSTLEDGER_AUDIT_KEY", str(path))
    return path
