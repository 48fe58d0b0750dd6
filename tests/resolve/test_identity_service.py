"""Identity decisions by people, on SQLite and PostgreSQL: accepting and rejecting a
queued link, merging and splitting with rescoring, the history never rewritten, the
audit events, and no list entry resting on a link still under review.

An unpaid court judgment puts a person on the example policy's black list
(``dishonest_debtor``), so where a judgment counts shows in the register at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date

import pytest
from sqlalchemy import select
from tests.resolve.conftest import OPERATOR, REVIEWER, World
from tests.resolve.helpers import Row

from trustledger.domain.principal import Actor, Principal, Role
from trustledger.errors import Conflict, FieldError, Forbidden, NotFound
from trustledger.identifiers import make_ric
from trustledger.resolve import Resolution
from trustledger.service.policies import active_policy
from trustledger.service.scoring import rescore_subjects
from trustledger.store import records as record_store
from trustledger.store import subjects as subject_store
from trustledger.store.tables import audit_events, identity_decisions

BORN = date(1985, 4, 12)
RIC = make_ric("440305", BORN, 123)
Scored = Callable[[int], tuple[str, list[str]]]


def _queued(world: World) -> tuple[int, int, int, int]:
    """Zhang Wei registered; a judgment about 张伟 born a day off (one digit) queued.
    Returns (zhang, proposed subject, record id, review decision id)."""
    zhang = world.register("张伟", RIC, BORN)
    [(rid, res)] = world.land([Row("J-1", "张伟", date(1985, 4, 13))])
    assert isinstance(res, Resolution) and res.outcome == "review" and rid is not None
    queue = world.identity.queue(REVIEWER)
    [item] = queue["decisions"]
    return zhang, res.subject_id, rid, item["id"]


def _actions(world: World) -> list[tuple[str, int | None, str | None]]:
    with world.engine.connect() as conn:
        return [
            (r.action, r.subject_id, r.purpose)
            for r in conn.execute(
                select(
                    audit_events.c.action, audit_events.c.subject_id, audit_events.c.purpose
                ).order_by(audit_events.c.seq)
            )
        ]


def test_a_queued_link_counts_for_no_one_but_its_own_subject_until_accepted(
    world: World, scored: Scored
) -> None:
    zhang, proposed, rid, review = _queued(world)
    with world.engine.begin() as conn:
        rescore_subjects(conn, active_policy(conn), [zhang, proposed], now=world.clock())
    # The judgment does not list the candidate while its link waits for review.
    assert "black" not in scored(zhang)[1]
    assert "black" in scored(proposed)[1]

    body = world.identity.accept(REVIEWER, review, "same person: the court's file has the ID")
    assert body["kind"] == "accept" and body["subject"] == zhang
    assert body["other_subject"] == proposed and body["evidence"]["records"] == [rid]
    assert body["rescored"][str(zhang)]["lists"] == ["black"]
    # The candidate now carries the judgment; the proposed subject is gone from lookups.
    assert "black" in scored(zhang)[1]
    assert scored(proposed) == ("-", [])
    with world.engine.connect() as conn:
        assert subject_store.get_subject(conn, proposed) is None
        history = record_store.record_history(conn, rid)
    assert [(v.version, v.subject_id, v.action.value) for v in history] == [
        (1, proposed, "create"),
        (2, zhang, "correct"),
    ]
    # The queue is empty and the review ended, not edited.
    assert world.identity.queue(REVIEWER)["total"] == 0
    shown = world.identity.show(REVIEWER, review)
    assert shown["live"] is False and shown["ended_by"] == body["id"]
    assert shown["kind"] == "review" and shown["match_weight"] is not None
    actions = _actions(world)
    assert ("identity.accept", zhang, "identity_review") in actions
    assert ("identity.accept", proposed, "identity_review") in actions
    assert ("identity.link", proposed, None) in actions


def test_rejecting_keeps_the_record_where_it_is(world: World, scored: Scored) -> None:
    zhang, proposed, rid, review = _queued(world)
    body = world.identity.reject(REVIEWER, review, "different person: born in another city")
    assert (body["kind"], body["subject"], body["other_subject"]) == ("reject", proposed, zhang)
    assert world.identity.queue(REVIEWER)["total"] == 0
    with pytest.raises(Conflict, match="settled by decision"):
        world.identity.accept(REVIEWER, review, "changed my mind")
    with world.engine.connect() as conn:
        assert record_store.record_history(conn, rid)[-1].subject_id == proposed
    assert ("identity.reject", zhang, "identity_review") in _actions(world)


def test_a_merge_moves_records_rescoring_both_and_a_split_undoes_it(
    world: World, scored: Scored
) -> None:
    zhang = world.register("张伟", RIC, BORN)
    # A second registration of the same man under another name form, with a judgment.
    [(rid, res)] = world.land([Row("J-1", "张 伟", None)])
    assert isinstance(res, Resolution) and res.outcome == "new" and rid is not None
    twin = res.subject_id
    merged = world.identity.merge(OPERATOR, str(zhang), str(twin), "one person: same ID card")
    assert merged["kind"] == "merge" and merged["evidence"]["records"] == [rid]
    assert merged["rescored"][str(zhang)]["lists"] == ["black"]
    assert str(twin) not in merged["rescored"]
    with world.engine.connect() as conn:
        assert subject_store.find_subjects(conn, str(twin)) == []
    with pytest.raises(NotFound):
        world.identity.history(REVIEWER, str(twin))

    split = world.identity.split(REVIEWER, str(zhang), "two people after all", undo=merged["id"])
    assert (split["kind"], split["subject"], split["other_subject"]) == ("split", twin, zhang)
    assert split["evidence"]["undoes"] == merged["id"] and split["evidence"]["records"] == [rid]
    assert "black" not in scored(zhang)[1] and "black" in scored(twin)[1]
    with world.engine.connect() as conn:
        assert [v.subject_id for v in record_store.record_history(conn, rid)] == [
            twin,
            zhang,
            twin,
        ]
    history = world.identity.history(REVIEWER, str(zhang))
    kinds = [(d["kind"], d["live"]) for d in history["decisions"]]
    assert kinds == [("split", True), ("merge", False)]
    with pytest.raises(Conflict, match="already undone"):
        world.identity.split(REVIEWER, str(zhang), "again", undo=merged["id"])


def test_splitting_records_off_undoes_an_automatic_link(world: World, scored: Scored) -> None:
    zhang = world.register("张伟", RIC, BORN)
    [(rid, res)] = world.land([Row("J-1", "Zhang Wei", BORN)])
    assert isinstance(res, Resolution) and res.outcome == "accepted" and res.subject_id == zhang
    assert rid is not None
    world.land([Row("J-2", "Zhang Wei", BORN)])
    split = world.identity.split(OPERATOR, str(zhang), "another Zhang Wei", records=[rid])
    new = split["subject"]
    assert new != zhang and split["evidence"] == {
        "reason": "another Zhang Wei",
        "records": [rid],
        "new_subject": True,
    }
    with world.engine.connect() as conn:
        attached = conn.execute(
            select(identity_decisions).where(
                identity_decisions.c.record_id == rid, identity_decisions.c.kind == "attach"
            )
        ).one()
        assert record_store.record_history(conn, rid)[-1].subject_id == new
        split_off = subject_store.get_subject(conn, new)
    # The resolver's link is ended by the split, not rewritten.
    assert attached.ended_by == split["id"] and attached.subject_id == zhang
    assert split_off is not None and split_off.name == "Zhang Wei" and split_off.birth_date == BORN
    assert "black" in scored(zhang)[1] and "black" in scored(new)[1]


def test_what_cannot_be_merged_or_split(world: World) -> None:
    zhang = world.register("张伟", RIC, BORN)
    other = world.register("张伟", make_ric("110105", BORN, 457), BORN)
    with pytest.raises(Conflict, match="two different valid cn_ric"):
        world.identity.merge(OPERATOR, str(zhang), str(other), "same name")
    with pytest.raises(FieldError, match="into itself"):
        world.identity.merge(OPERATOR, str(zhang), str(zhang), "x")
    with pytest.raises(FieldError, match="reason"):
        world.identity.merge(OPERATOR, str(zhang), str(other), "  ")
    with pytest.raises(FieldError, match="records"):
        world.identity.split(OPERATOR, str(zhang), "x")
    with pytest.raises(FieldError, match="no record 999"):
        world.identity.split(OPERATOR, str(zhang), "x", records=[999])
    [(rid, _)] = world.land([Row("J-1", "Zhang Wei", BORN)])
    assert rid is not None
    with pytest.raises(FieldError, match="nothing would be left"):
        world.identity.split(OPERATOR, str(zhang), "x", records=[rid])


def test_only_staff_do_identity_work(world: World) -> None:
    _, _, _, review = _queued(world)
    for role in (Role.PROVIDER, Role.RELYING_PARTY, Role.SUBJECT, Role.PUBLIC):
        actor = Actor(Principal("k", role), "r")
        with pytest.raises(Forbidden):
            world.identity.queue(actor)
        with pytest.raises(Forbidden):
            world.identity.accept(actor, review, "x")
    with pytest.raises(Forbidden, match="operator"):
        world.identity.load_model(REVIEWER, "{}", "m.json")


def test_a_queue_read_is_logged_per_subject_without_names(world: World) -> None:
    zhang, proposed, _, review = _queued(world)
    with world.engine.connect() as conn:
        rows = conn.execute(
            select(audit_events.c.subject_id, audit_events.c.detail).where(
                audit_events.c.action == "identity.queue.read"
            )
        ).all()
    assert {r.subject_id for r in rows} == {zhang, proposed}
    assert all(json.loads(r.detail) == {"decisions": [review]} for r in rows)


def test_a_merged_subject_is_found_only_through_its_survivor(world: World) -> None:
    from trustledger.service.scoring import score_all

    zhang = world.register("张伟", RIC, BORN)
    other_ric = make_ric("110105", date(1990, 1, 31), 456)
    twin = world.register("张伟", other_ric, date(1990, 1, 31))
    # Two different resident identity numbers are two people: refused...
    with pytest.raises(Conflict):
        world.identity.merge(OPERATOR, str(zhang), str(twin), "x")
    # ...but a proposed subject without one merges, and its lookups lead to the survivor.
    [(_, res)] = world.land([Row("J-1", "张 伟", None)])
    assert isinstance(res, Resolution)
    world.identity.merge(OPERATOR, RIC, str(res.subject_id), "one man")
    with world.engine.connect() as conn:
        assert subject_store.get_subject(conn, res.subject_id) is None
        assert subject_store.find_subjects(conn, f"#{res.subject_id}") == []
        assert subject_store.count_subjects(conn) == 2
    summary = score_all(
        world.engine, as_of=date(2026, 6, 30), known_at=world.clock(), now=world.clock()
    )
    assert sum(summary.grades.values()) == 2  # the merged-away subject is not scored


def test_erasing_a_subject_erases_what_identity_kept_and_who_was_merged_in(
    world: World,
) -> None:
    from trustledger.store.tables import identity_profiles, subjects

    zhang, proposed, rid, review = _queued(world)
    world.identity.accept(REVIEWER, review, "same man")
    world.registry.rights.erase(OPERATOR, str(zhang), "PIPL art. 47")
    with world.engine.connect() as conn:
        assert conn.execute(select(identity_profiles)).all() == []
        assert (
            conn.execute(
                select(identity_decisions).where(identity_decisions.c.record_id == rid)
            ).all()
            == []
        )
        names = dict(conn.execute(select(subjects.c.id, subjects.c.name)).all())
    # The subject merged into the erased one was the same person: erased too.
    assert names == {zhang: "", proposed: ""}
