"""The standings projector against real tansu and PostgreSQL: events produced with a real producer,
the loop in a thread, positions awaited from delivery-report offsets, standings compared with a
from-scratch recomputation over every produced event."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, Message, TopicPartition
from sqlalchemy.orm import Session

from services.core import events
from services.core.domain.results import BoutResult, BoutVoid, Method, Score, Winner
from services.core.kafka.consumer import consumer_conf
from services.embedded.kafka_broker import TansuBroker
from services.embedded.postgres import EmbeddedPostgres
from tests.integration.projector_env import (
    ProjectorEnv,
    metric,
    projector_environment,
    read_topic,
    running,
)
from tests.projector_support import (
    BASE_TIME,
    Planned,
    applied_revisions,
    build_registration,
    expected_counts,
    generate_events,
    oracle_standings,
    planned,
    produce,
    stored_standings,
    wait_for_positions,
)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def projector_env(pg: EmbeddedPostgres, kafka: TansuBroker) -> Iterator[ProjectorEnv]:
    with projector_environment(pg, kafka) as env:
        yield env


DUPLICATES = "standings_projector_duplicates_total"
CONFLICTS = "standings_projector_conflicts_total"


def assert_matches_oracle(env: ProjectorEnv, reg: object, messages: list[Planned]) -> None:
    with Session(env.engine) as session:
        actual = stored_standings(session)
    assert actual == oracle_standings(reg, messages)  # type: ignore[arg-type]


def test_projects_results_corrections_voids_duplicates_and_conflicts(projector_env: ProjectorEnv) -> None:
    env = projector_env
    reg = build_registration("it", tournaments=2, divisions=3, athletes=6)
    env.register(reg)
    messages = generate_events(reg, 400, seed=11, conflict_rate=0.03, duplicate_rate=0.1, finalize=False)
    dup_expected, conflicts_expected = expected_counts(messages)
    assert dup_expected > 5 and conflicts_expected > 2
    dup_before, conflicts_before = metric(DUPLICATES), metric(CONFLICTS)

    # Half before the projector starts (big first batches), half while it runs.
    half = len(messages) // 2
    tracker = produce(env.settings.kafka, messages[:half])
    with running(env.settings, env.engine) as loop:
        produce(env.settings.kafka, messages[half:], tracker=tracker)
        expected = dict(tracker.next_offsets)
        wait_for_positions(env.engine, env.group, env.topic, expected, timeout=60)
        assert loop.rebalances["assign"] >= 1

    assert_matches_oracle(env, reg, messages)
    revisions = applied_revisions(messages)
    assert env.scalar("SELECT count(*) FROM results") == len(revisions)
    assert env.scalar("SELECT count(*) FROM result_conflicts") == conflicts_expected
    # Exactly one effective row per bout whose highest revision is a result.
    highest: dict[str, object] = {}
    for (bout, _rev), r in sorted(revisions.items()):
        highest[bout] = r
    effective = sum(1 for r in highest.values() if isinstance(r, BoutResult))
    assert env.scalar("SELECT count(*) FROM results WHERE is_effective") == effective
    assert metric(DUPLICATES) - dup_before == dup_expected
    assert metric(CONFLICTS) - conflicts_before == conflicts_expected
    assert env.scalar("SELECT count(*) FROM divisions WHERE version > 0") == len(reg.divisions)
    assert env.scalar("SELECT count(*) FROM tournaments WHERE status = 'live'") == 2
    # Conflicts also reach the DLQ (SPEC §5).
    dlq = read_topic(env.settings.kafka.bootstrap_servers, env.settings.kafka.dlq_topic, conflicts_expected)
    assert len(dlq) == conflicts_expected
    assert {dict(m.headers())["error.class"] for m in dlq} == {b"conflicting_revision"}


def _raw(key: str, value: bytes) -> Planned:
    return Planned(key=key, value=value, headers=(("producer-id", b"test"),))


def _poison_messages(reg: object, t: str, d: str, other_d: str, bout: str) -> dict[str, Planned]:
    key = events.partition_key(t, d)
    at = BASE_TIME
    good = events.result_recorded(t, d, BoutResult(bout, 1, Winner.RED, Method.KO, Score(3, 0)), at)
    invalid = events.result_recorded(t, d, BoutResult(bout, 7, Winner.DRAW, Method.KO, Score(1, 1)), at)
    unknown_type = json.loads(events.encode(good))
    unknown_type["type"] = "result_deleted"
    v2 = json.loads(events.encode(good))
    v2["schema_version"] = 2
    return {
        "not_json": _raw(key, b"\xff\xfe not json"),
        "unknown_type": _raw(key, json.dumps(unknown_type).encode()),
        "unknown_schema_version": _raw(key, json.dumps(v2).encode()),
        "unknown_bout": _raw(
            key,
            events.encode(
                events.result_recorded(t, d, BoutResult("no-such-bout", 1, Winner.RED, Method.KO, Score(1, 0)), at)
            ),
        ),
        # A real bout, but of another division than the event names: also unknown_bout.
        "unknown_bout_division": _raw(
            events.partition_key(t, other_d),
            events.encode(
                events.result_recorded(t, other_d, BoutResult(bout, 9, Winner.RED, Method.KO, Score(1, 0)), at)
            ),
        ),
        "invalid_result": _raw(key, events.encode(invalid)),
        "unknown_division": _raw(key, events.encode(events.tournament_finalized(t, "no-such-division", at))),
    }


def test_poison_messages_go_to_the_dlq_with_headers_and_good_messages_keep_flowing(
    projector_env: ProjectorEnv,
) -> None:
    env = projector_env
    reg = build_registration("pz", tournaments=1, divisions=2, athletes=4)
    env.register(reg)
    (t, d0), (_, d1) = reg.division_keys()
    bout = next(b["bout_id"] for b in reg.bouts if b["division_id"] == d0)
    good = generate_events(reg, 60, seed=5, duplicate_rate=0, conflict_rate=0)
    poison = _poison_messages(reg, t, d0, d1, bout)
    reasons = {
        "not_json": "not_json",
        "unknown_type": "unknown_type",
        "unknown_schema_version": "unknown_schema_version",
        "unknown_bout": "unknown_bout",
        "unknown_bout_division": "unknown_bout",
        "invalid_result": "invalid_result",
        "unknown_division": "unknown_division",
    }
    messages: list[Planned] = []
    for i, m in enumerate(good):  # poison spread between good messages
        messages.append(m)
        if i % 8 == 3 and poison:
            messages.append(poison.pop(next(iter(poison))))
    messages.extend(poison.values())
    dlq_before = {r: metric("standings_dlq_messages_total", {"reason": r}) for r in set(reasons.values())}

    with running(env.settings, env.engine):
        tracker = produce(env.settings.kafka, messages, tracker=_remembering())
        wait_for_positions(env.engine, env.group, env.topic, tracker.next_offsets, timeout=60)

    assert_matches_oracle(env, reg, messages)
    dlq = read_topic(env.settings.kafka.bootstrap_servers, env.settings.kafka.dlq_topic, len(reasons))
    assert len(dlq) == len(reasons)
    expected_by_value = {m.value: reasons[name] for name, m in _poison_messages(reg, t, d0, d1, bout).items()}
    for msg in dlq:
        headers = dict(msg.headers())
        value = msg.value()
        assert headers["error.class"].decode() == expected_by_value[value]
        assert headers["error.message"]
        assert headers["source.topic"].decode() == env.topic
        assert (int(headers["source.partition"]), int(headers["source.offset"])) == tracker.where[value]
        assert headers["consumer.group"].decode() == env.group
        assert headers["producer-id"] == b"test"  # the original headers are kept
        assert msg.key() is not None
    for reason, before in dlq_before.items():
        n = sum(1 for r in reasons.values() if r == reason)
        assert metric("standings_dlq_messages_total", {"reason": reason}) - before == n


def _remembering():  # type: ignore[no-untyped-def]
    from tests.projector_support import DeliveryTracker

    return DeliveryTracker(remember=True)


def test_same_bout_many_times_in_one_batch(projector_env: ProjectorEnv) -> None:
    """Duplicates, a conflict, an out-of-order revision and a void of one bout in a single batch."""
    env = projector_env
    reg = build_registration("sb", tournaments=1, divisions=1, athletes=3, extra_entries=0)
    env.register(reg)
    ((t, d),) = reg.division_keys()
    bout = reg.bouts[0]["bout_id"]
    a = BoutResult(bout, 1, Winner.RED, Method.KO, Score(5, 0))
    b = BoutResult(bout, 2, Winner.BLUE, Method.POINTS, Score(2, 4))
    c = BoutResult(bout, 1, Winner.BLUE, Method.FALL, Score(0, 2))  # conflicts with a
    at = BASE_TIME
    sequence = [
        planned(events.result_recorded(t, d, b, at)),  # revision 2 before revision 1
        planned(events.result_recorded(t, d, a, at)),
        planned(events.result_recorded(t, d, a, at)),
        planned(events.result_recorded(t, d, c, at)),
        planned(events.result_voided(t, d, BoutVoid(bout, 3), at)),
        planned(events.result_recorded(t, d, b, at)),
    ]
    # Produced before the projector starts: one partition, so one batch.
    tracker = produce(env.settings.kafka, sequence)
    with running(env.settings, env.engine):
        wait_for_positions(env.engine, env.group, env.topic, tracker.next_offsets, timeout=30)
        rows = env.rows("SELECT revision, kind, is_effective, payload->>'winner' FROM results ORDER BY revision")
        assert [tuple(r) for r in rows] == [
            (1, "result", False, "red"),
            (2, "result", False, "blue"),
            (3, "void", False, None),
        ]
        assert env.scalar("SELECT count(*) FROM result_conflicts") == 1
        assert env.scalar("SELECT version FROM divisions") == 1  # one transaction, one bump
        assert_matches_oracle(env, reg, sequence)
        # A later result reinstates the bout.
        more = [
            planned(events.result_recorded(t, d, BoutResult(bout, 4, Winner.RED, Method.DECISION, Score(3, 1)), at))
        ]
        tracker = produce(env.settings.kafka, more, tracker=tracker)
        wait_for_positions(env.engine, env.group, env.topic, tracker.next_offsets, timeout=30)
    assert env.scalar("SELECT revision FROM results WHERE is_effective") == 4
    assert_matches_oracle(env, reg, sequence + more)


def _snapshot(env: ProjectorEnv) -> dict[str, object]:
    return {
        "results": env.rows(
            "SELECT bout_id, revision, kind, payload, is_effective, source_partition, source_offset"
            " FROM results ORDER BY bout_id, revision"
        ),
        "conflicts": env.rows(
            "SELECT bout_id, revision, payload, source_partition, source_offset FROM result_conflicts"
            " ORDER BY source_partition, source_offset"
        ),
        "standings": env.rows("SELECT * FROM standings_rows ORDER BY tournament_id, division_id, athlete_id"),
        "divisions": env.rows(
            "SELECT tournament_id, division_id, version, last_event_at, last_partition, last_offset, finalized_at"
            " FROM divisions ORDER BY 1, 2"
        ),
        "tournaments": env.rows("SELECT tournament_id, status, finalized_at FROM tournaments ORDER BY 1"),
    }


def _reset_kafka_offsets(env: ProjectorEnv, partitions: int) -> None:
    """Rewind the group's committed Kafka offsets to 0 (PG positions stay)."""
    consumer = Consumer(consumer_conf(env.settings.kafka, env.group, env.settings.projector.consumer))
    try:
        zero = [TopicPartition(env.topic, p, 0) for p in range(partitions)]
        consumer.commit(offsets=zero, asynchronous=False)
        committed = consumer.committed([TopicPartition(env.topic, p) for p in range(partitions)], timeout=10)
        assert all(tp.offset == 0 for tp in committed), committed
    finally:
        consumer.close()


def test_replay_from_offset_zero_is_a_no_op(projector_env: ProjectorEnv) -> None:
    env = projector_env
    reg = build_registration("rp", tournaments=1, divisions=3, athletes=5)
    env.register(reg)
    messages = generate_events(reg, 150, seed=21, conflict_rate=0.05, duplicate_rate=0.1, finalize=True)
    poison = [_raw(messages[0].key, b"not json")]
    messages = messages + poison
    with running(env.settings, env.engine):
        tracker = produce(env.settings.kafka, messages)
        wait_for_positions(env.engine, env.group, env.topic, tracker.next_offsets, timeout=60)
    before = _snapshot(env)
    assert env.scalar("SELECT count(*) FROM divisions WHERE finalized_at IS NOT NULL") == 3
    assert_matches_oracle(env, reg, messages)

    # 1. Same group, Kafka offsets rewound to 0: the projector positions itself from PG.
    _reset_kafka_offsets(env, env.settings.kafka.partitions)
    dup_before = metric(DUPLICATES)
    with running(env.settings, env.engine) as loop:
        deadline = time.monotonic() + 20
        while not loop.assigned and time.monotonic() < deadline:
            time.sleep(0.05)
        assert loop.assigned
        time.sleep(1.0)  # room for a wrongly positioned consumer to re-read something
    assert metric(DUPLICATES) == dup_before  # nothing was re-read at all
    assert _snapshot(env) == before

    # 2. A new group (no PG positions): everything is re-read from offset 0 and absorbed.
    fresh = env.with_group(env.group + "-replay")
    with running(fresh, env.engine):
        wait_for_positions(env.engine, fresh.projector.group_id, env.topic, tracker.next_offsets, timeout=60)
    valid = sum(1 for m in messages if m.event is not None)
    assert metric(DUPLICATES) - dup_before == valid
    assert _snapshot(env) == before


def test_a_message_that_fails_alone_is_dead_lettered_not_crash_looped(projector_env: ProjectorEnv) -> None:
    """A non-transient failure (here: the ranking hook raises for one division) fails its batch,
    the batch is replayed message by message, and only the message that fails alone goes to the
    DLQ as ``processing_error``; everything else is applied."""
    from sqlalchemy.orm import sessionmaker

    from services.core.kafka.dlq import DeadLetterPublisher
    from services.projector.service import BatchApplier

    env = projector_env
    reg = build_registration("iso", tournaments=1, divisions=3, athletes=4)
    env.register(reg)
    bad_key = reg.division_keys()[2]
    good = generate_events(reg, 60, seed=4, duplicate_rate=0, conflict_rate=0)
    good = [m for m in good if m.event is not None and (m.event.tournament_id, m.event.division_id) != bad_key]
    bad_bout = next(b["bout_id"] for b in reg.bouts if (b["tournament_id"], b["division_id"]) == bad_key)
    bad = planned(
        events.result_recorded(*bad_key, BoutResult(bad_bout, 1, Winner.RED, Method.KO, Score(1, 0)), BASE_TIME)
    )
    messages = [*good[:20], bad, *good[20:]]

    def hook(session: object, touched: set[tuple[str, str]], finalized: set[tuple[str, str]]) -> None:
        if bad_key in touched:
            raise ValueError("ranking effects failed for this division")

    group = env.group
    dlq = DeadLetterPublisher(env.settings.kafka, group)
    applier = BatchApplier(sessionmaker(env.engine), dlq, group, ranking_hook=hook)
    before = metric("standings_dlq_messages_total", {"reason": "processing_error"})
    tracker = produce(env.settings.kafka, messages, tracker=_remembering())
    with running(env.settings, env.engine, applier=applier, dlq=dlq):
        wait_for_positions(env.engine, group, env.topic, tracker.next_offsets, timeout=60)

    assert metric("standings_dlq_messages_total", {"reason": "processing_error"}) - before == 1
    (letter,) = read_topic(env.settings.kafka.bootstrap_servers, env.settings.kafka.dlq_topic, 1)
    headers = dict(letter.headers())
    assert headers["error.class"] == b"processing_error"
    assert b"ranking effects failed" in headers["error.message"]
    assert (int(headers["source.partition"]), int(headers["source.offset"])) == tracker.where[bad.value]
    assert env.scalar("SELECT count(*) FROM results WHERE bout_id = :b", b=bad_bout) == 0
    assert env.scalar("SELECT count(*) FROM results") == len(applied_revisions(good))
    with Session(env.engine) as session:
        actual = stored_standings(session)
    expected = oracle_standings(reg, good)
    del expected[bad_key]  # its only event was dead-lettered: no standings written for it
    assert actual == expected


class _SkippingConsumer:
    """A real consumer whose ``consume`` hands out nothing for ``skip`` ((partition, offset) pairs),
    once: a fetch position that moved past messages, as the batch check must catch."""

    def __init__(self, consumer: Consumer, skip: set[tuple[int, int]]) -> None:
        self._consumer = consumer
        self.skip = skip
        self.skipped: list[tuple[int, int]] = []

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Message]:
        out = []
        for msg in self._consumer.consume(num_messages=num_messages, timeout=timeout):
            at = (msg.partition(), msg.offset())
            if msg.error() is None and at in self.skip:
                self.skip.discard(at)
                self.skipped.append(at)
                continue
            out.append(msg)
        return out

    def __getattr__(self, name: str) -> object:
        return getattr(self._consumer, name)


def test_messages_the_consumer_skipped_are_read_again_and_applied_once(projector_env: ProjectorEnv) -> None:
    """Offsets never handed out by the consumer would be passed by the batch's position: the
    batch is refused under the positions lock, re-read from the stored offset, and applied whole."""
    from services.core.kafka.consumer import make_consumer

    env = projector_env
    reg = build_registration("gap", tournaments=1, divisions=2, athletes=6)
    env.register(reg)
    messages = generate_events(reg, 120, seed=23, duplicate_rate=0.05, conflict_rate=0.02, finalize=False)
    tracker = produce(env.settings.kafka, messages)
    partition = max(tracker.next_offsets, key=tracker.next_offsets.__getitem__)
    assert tracker.next_offsets[partition] >= 40
    skip = {(partition, o) for o in (0, 1, 2, 17, 18, 30)}  # leading and inside the batch
    wrappers: list[_SkippingConsumer] = []

    def factory(*args: object, **kwargs: object) -> _SkippingConsumer:
        wrappers.append(_SkippingConsumer(make_consumer(*args, **kwargs), set(skip)))  # type: ignore[arg-type]
        return wrappers[-1]

    rereads = metric("standings_projector_offset_gaps_total", {"group": env.group, "verdict": "reread"})
    with running(env.settings, env.engine, consumer_factory=factory):
        wait_for_positions(env.engine, env.group, env.topic, tracker.next_offsets, timeout=60)

    assert sorted(wrappers[0].skipped) == sorted(skip)
    assert env.scalar("SELECT count(*) FROM results") == len(applied_revisions(messages))
    assert_matches_oracle(env, reg, messages)
    assert metric("standings_projector_offset_gaps_total", {"group": env.group, "verdict": "reread"}) > rereads
