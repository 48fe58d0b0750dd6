"""Policy versions: a changed file is a new immutable version; old versions stay usable."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.conftest import EXAMPLE_POLICY
from trustledger.errors import NotFound, PolicyError
from trustledger.service.policies import active_policy, install_policy
from trustledger.store.policies import list_policies


def test_a_changed_file_makes_a_new_version_and_old_ones_stay(
    engine: Engine, now: datetime, tmp_path: Path
) -> None:
    path = tmp_path / "city.toml"
    text = EXAMPLE_POLICY.read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    first, created = install_policy(engine, path, now=now)
    assert (first.label, created) == ("example-city@1", True)
    again, created = install_policy(engine, path, now=now + timedelta(minutes=1))
    assert (again.id, created) == (first.id, False)

    changed = text.replace("base_score = 1000", "base_score = 1010", 1)
    assert changed != text
    path.write_text(changed, encoding="utf-8")
    second, created = install_policy(engine, path, now=now + timedelta(minutes=2))
    assert (second.label, created) == ("example-city@2", True)

    with engine.connect() as conn:
        assert [p.label for p in list_policies(conn)] == ["example-city@1", "example-city@2"]
        assert active_policy(conn).label == "example-city@2"
        old = active_policy(conn, "example-city@1")
        assert old.stored.source == text  # the stored text is exactly what was loaded
        assert old.policy.policy.base_score == 1000
        assert active_policy(conn, "example-city@2").policy.policy.base_score == 1010
        with pytest.raises(NotFound, match="example-city@9"):
            active_policy(conn, "example-city@9")


def test_a_refused_policy_stores_nothing(engine: Engine, now: datetime, tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        EXAMPLE_POLICY.read_text(encoding="utf-8").replace(
            'title = "Tax return filed late"', 'title = "Tax return filed late by a church"', 1
        ),
        encoding="utf-8",
    )
    with pytest.raises(PolicyError) as caught:
        install_policy(engine, path, now=now)
    assert all(str(p).startswith(f"{path}:") for p in caught.value.problems)
    assert any("religion" in str(p) for p in caught.value.problems)
    with engine.connect() as conn:
        assert list_policies(conn) == []
