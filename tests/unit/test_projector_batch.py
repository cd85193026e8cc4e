"""Pure planning of a projector batch: poison classification, replays, duplicates, conflicts,
in-batch dedupe and effective revisions. No Kafka, no database."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from services.core import events
from services.core.db.registration import BoutInfo
from services.core.domain.codec import StoredRevision
from services.core.domain.projection import DivisionInfo
from services.core.domain.results import BoutResult, BoutVoid, Method, Score, Winner
from services.core.planning.batch import Incoming, StoredState, decode_batch, plan_batch, revision_payload

T, D, OTHER = "open-2026", "m-73kg", "w-57kg"
AT = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
TOPIC = "match-events"


def result(bout: str = "b1", revision: int = 1, winner: Winner = Winner.RED, red: int = 3) -> events.ResultRecorded:
    method = Method.DRAW if winner is Winner.DRAW else Method.POINTS
    return events.result_recorded(T, D, BoutResult(bout, revision, winner, method, Score(red, 1)), AT)


def void(bout: str = "b1", revision: int = 2) -> events.ResultVoided:
    return events.result_voided(T, D, BoutVoid(bout, revision), AT)


def messages(*values: bytes | events.MatchEvent, partition: int = 0, start: int = 0) -> list[Incoming]:
    out = []
    for i, v in enumerate(values):
        value = v if isinstance(v, bytes) else events.encode(v)
        out.append(Incoming(TOPIC, partition, start + i, f"{T}:{D}".encode(), value, [("producer-id", b"t")]))
    return out


def state(
    *,
    positions: dict[tuple[str, int], int] | None = None,
    revisions: dict[tuple[str, int], StoredRevision] | None = None,
    effective: dict[str, int] | None = None,
    finalized: bool = False,
    ruleset: str = "combat-default",
    status: str = "live",
) -> StoredState:
    return StoredState(
        positions=positions or {(TOPIC, 0): 0},
        bouts={
            "b1": BoutInfo("b1", T, D, "a1", "a2"),
            "b2": BoutInfo("b2", T, D, "a1", "a3"),
            "x1": BoutInfo("x1", T, OTHER, "a4", "a5"),
        },
        revisions=revisions or {},
        divisions={(T, D): DivisionInfo(ruleset, status, finalized), (T, OTHER): DivisionInfo(ruleset, status)},
        known_rulesets={"combat-default"},
        effective=effective or {},
    )


def stored(event: events.ResultRecorded | events.ResultVoided) -> StoredRevision:
    return revision_payload(event)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"\xff not json", "not_json"),
        (b"[1, 2]", "not_json"),
        (json.dumps({"type": "result_deleted", "schema_version": 1}).encode(), "unknown_type"),
        (
            json.dumps({**json.loads(events.encode(result())), "schema_version": 2}).encode(),
            "unknown_schema_version",
        ),
        (
            events.encode(events.result_recorded(T, D, BoutResult("b1", 1, Winner.DRAW, Method.KO, Score(1, 1)), AT)),
            "invalid_result",
        ),
        (json.dumps({**json.loads(events.encode(result())), "extra": 1}).encode(), "invalid_event"),
    ],
)
def test_poison_is_classified_and_dead_lettered(value: bytes, reason: str) -> None:
    (decoded,) = decode_batch(messages(value))
    assert decoded.event is None and decoded.poison is not None
    assert decoded.poison.reason == reason
    plan = plan_batch([decoded], state())
    assert [(d.reason, d.msg.offset) for d in plan.dead_letters] == [(reason, 0)]
    assert plan.positions == {(TOPIC, 0): 1}  # the position moves past it: nothing is retried forever


def test_empty_value_is_poison() -> None:
    (decoded,) = decode_batch([Incoming(TOPIC, 0, 0, None, None)])
    assert decoded.poison is not None and decoded.poison.reason == "empty_value"


def test_unknown_bout_wrong_division_unknown_division_and_ruleset() -> None:
    wrong_division = events.result_recorded(T, D, BoutResult("x1", 1, Winner.RED, Method.KO, Score(1, 0)), AT)
    msgs = messages(
        result(bout="nope"),
        wrong_division,
        events.tournament_finalized(T, "no-such-division", AT),
    )
    plan = plan_batch(decode_batch(msgs), state())
    assert [d.reason for d in plan.dead_letters] == ["unknown_bout", "unknown_bout", "unknown_division"]
    assert not plan.new_revisions and not plan.changed

    plan = plan_batch(decode_batch(messages(result())), state(ruleset="judo-2027"))
    assert [d.reason for d in plan.dead_letters] == ["unknown_ruleset"]


def test_messages_below_the_stored_position_are_replays() -> None:
    msgs = messages(result(), result(bout="b2"), void(), start=10)
    plan = plan_batch(decode_batch(msgs), state(positions={(TOPIC, 0): 12}))
    assert plan.replayed == 2
    assert [(r.bout_id, r.revision, r.kind) for r in plan.new_revisions] == [("b1", 2, "void")]
    assert plan.positions == {(TOPIC, 0): 13}


def test_in_batch_duplicates_are_absorbed_and_conflicts_recorded_first_wins() -> None:
    first, again = result(red=3), result(red=3)
    different = result(red=9)
    msgs = messages(first, again, different, result(revision=2), result(revision=2))
    plan = plan_batch(decode_batch(msgs), state())
    assert [(r.bout_id, r.revision) for r in plan.new_revisions] == [("b1", 1), ("b1", 2)]  # unique keys
    assert plan.duplicates == 2
    (conflict,) = plan.conflicts
    assert (conflict.offered.revision, conflict.offered.offset) == (1, 2)
    assert conflict.offered.payload["score"] == {"red": 9, "blue": 1}
    assert conflict.applied_payload["score"] == {"red": 3, "blue": 1}  # the first applied one wins
    assert [(d.reason, d.msg.offset) for d in plan.dead_letters] == [("conflicting_revision", 2)]
    assert plan.applied["result_recorded"] == 2
    assert plan.absorbed == 2


def test_duplicates_and_conflicts_against_stored_revisions() -> None:
    msgs = messages(result(), result(red=7), void(revision=2))
    plan = plan_batch(decode_batch(msgs), state(revisions={("b1", 1): stored(result()), ("b1", 2): stored(void())}))
    assert plan.duplicates == 2  # result and void identical to the stored ones
    assert len(plan.conflicts) == 1 and not plan.new_revisions
    assert not plan.changed  # a conflict marks its division only once recorded (see the service)


def test_void_versus_result_at_the_same_revision_is_a_conflict() -> None:
    plan = plan_batch(decode_batch(messages(void(revision=1))), state(revisions={("b1", 1): stored(result())}))
    assert len(plan.conflicts) == 1
    assert plan.conflicts[0].offered.payload == {} and plan.conflicts[0].applied_payload["winner"] == "red"


def test_effective_revision_changes() -> None:
    # stored: rev 1 result (effective). Batch: rev 2 void, then rev 3 result.
    s = state(revisions={("b1", 1): stored(result())}, effective={"b1": 1})
    plan = plan_batch(decode_batch(messages(void(revision=2), result(revision=3, winner=Winner.BLUE))), s)
    assert plan.effective_new == {("b1", 3)}
    assert plan.flips == [("b1", 1, False)]
    assert plan.changed_bouts == {"b1"}

    # A void on top: nothing counts any more.
    plan = plan_batch(decode_batch(messages(void(revision=2))), s)
    assert plan.effective_new == set() and plan.flips == [("b1", 1, False)]

    # An old revision arriving late changes nothing.
    s = state(revisions={("b1", 2): stored(result(revision=2))}, effective={"b1": 2})
    plan = plan_batch(decode_batch(messages(result(revision=1))), s)
    assert [r.revision for r in plan.new_revisions] == [1]
    assert not plan.effective_new and not plan.flips and not plan.changed_bouts

    # A result above a stored void reinstates the bout; a stored result above a new void stays.
    s = state(revisions={("b1", 1): stored(result()), ("b1", 2): stored(void())})
    plan = plan_batch(decode_batch(messages(result(revision=3))), s)
    assert plan.effective_new == {("b1", 3)} and plan.flips == []


def test_finalize_applies_once_per_division() -> None:
    fin = events.tournament_finalized(T, D, AT)
    plan = plan_batch(decode_batch(messages(fin, fin)), state())
    assert plan.finalized == {(T, D)} and plan.duplicates == 1
    plan = plan_batch(decode_batch(messages(fin)), state(finalized=True))
    assert plan.finalized == set() and plan.duplicates == 1


def test_division_marks_and_started_tournaments() -> None:
    later = events.result_recorded(
        T, D, BoutResult("b2", 1, Winner.RED, Method.KO, Score(1, 0)), AT + dt.timedelta(minutes=5)
    )
    msgs = messages(later, result(), start=40)
    plan = plan_batch(decode_batch(msgs), state(positions={(TOPIC, 0): 40}))
    mark = plan.changed[(T, D)]
    assert mark.last_event_at == AT + dt.timedelta(minutes=5)  # the latest event time
    assert (mark.partition, mark.offset) == (0, 41)  # the latest message
    assert plan.started == set()  # already live
    plan = plan_batch(decode_batch(msgs), state(positions={(TOPIC, 0): 40}, status="scheduled"))
    assert plan.started == {T}  # its first result makes a scheduled tournament live
