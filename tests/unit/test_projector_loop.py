"""The projector loop on fakes: a consumer that behaves like librdkafka's as the loop uses it
(callbacks inside consume/poll/close, pause purges nothing it has not handed out, seek moves the
consume position), an applier that plays PostgreSQL (positions move with a batch's commit), and a
group store. The loop runs in a thread; tests wait with deadlines."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
import sqlalchemy.exc
from confluent_kafka import OFFSET_BEGINNING, Message, TopicPartition

from services.core.planning.batch import Decoded, Incoming, OffsetGap, offset_gaps
from services.core.settings import ConsumerSettings, KafkaSettings, ProjectorSettings, Settings
from services.projector.batch_loop import POLL_TIMEOUT_S
from services.projector.failure_policy import SYSTEMIC_AFTER_DEAD_LETTERS
from services.projector.gaps import REREADS_BEFORE_ACCEPTING
from services.projector.loop import ProjectorLoop
from services.projector.service import OffsetGapError
from services.projector.stop_event import StopEvent
from services.projector.store import MemberReport
from tests.loop_thread import LoopThread
from tests.pausable_consumer import PausableConsumer

TOPIC = "unit-match-events"
# Never connected to: the loop's collaborators are all fakes.
ENGINE = sa.create_engine("postgresql+psycopg://u:p@127.0.0.1:1/none")

Position = tuple[int, int]
Callback = Callable[[Any, list[TopicPartition]], None]


def db_down() -> Exception:
    return sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))


class FakeConsumer(PausableConsumer):
    def __init__(self, partitions: Sequence[int], journal: list[tuple[str, object]]) -> None:
        super().__init__()
        self._cond = threading.Condition()
        self.journal = journal
        self.logs: dict[int, list[Message]] = {p: [] for p in partitions}
        self.partitions = list(partitions)
        self.next: dict[int, int] = {}
        self.assigned: set[int] = set()
        self.committed: dict[int, int] = {}
        self.calls = 0
        self.closed = False
        self._pending: list[Callable[[], None]] = []
        self._callbacks: dict[str, Callback] = {}
        # Offsets handed out to nobody: once (a fetch position moved past them), or always
        # (Kafka's own gaps: transaction markers, compaction). ``low``: below it, retention deleted.
        self.skip_once: set[Position] = set()
        self.holes: set[Position] = set()
        self.low = 0

    def bind(self, on_assign: Callback, on_revoke: Callback, on_lost: Callback) -> FakeConsumer:
        self._callbacks = {"assign": on_assign, "revoke": on_revoke, "lost": on_lost}
        self._rebalance("assign", self.partitions)
        return self

    def produce(self, partition: int, count: int) -> None:
        with self._cond:
            log = self.logs[partition]
            for _ in range(count):
                log.append(Message(topic=TOPIC, partition=partition, offset=len(log), value=b"{}"))
            self._cond.notify_all()

    def revoke(self, partitions: Sequence[int]) -> None:
        """Revoke at the next consume/poll, as librdkafka does."""
        self._rebalance("revoke", partitions)

    def _rebalance(self, kind: str, partitions: Sequence[int]) -> None:
        tps = [TopicPartition(TOPIC, p) for p in partitions]
        with self._cond:
            self._pending.append(lambda: self._callbacks[kind](self, tps))

    def _serve(self) -> None:
        self.calls += 1
        while True:
            with self._cond:
                if not self._pending:
                    return
                callback = self._pending.pop(0)
            callback()

    def _take(self, n: int) -> list[Message]:
        out: list[Message] = []
        with self._cond:
            for p in sorted(self.assigned - self.paused):
                self.next[p] = max(self.next[p], self.low)
                while len(out) < n and self.next[p] < len(self.logs[p]):
                    at = (p, self.next[p])
                    if at in self.skip_once:
                        self.skip_once.discard(at)
                    elif at not in self.holes:
                        out.append(self.logs[p][self.next[p]])
                    self.next[p] += 1
        return out

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Message]:
        self._serve()
        out = self._take(num_messages)
        if not out and timeout > 0:
            with self._cond:
                self._cond.wait(timeout)
            out = self._take(num_messages)
        return out

    def poll(self, timeout: float = -1) -> Message | None:
        out = self.consume(1, timeout)
        return out[0] if out else None

    def seek(self, partition: TopicPartition) -> None:
        super().seek(partition)
        self.next[partition.partition] = partition.offset

    def commit(self, *, offsets: list[TopicPartition], asynchronous: bool = True) -> list[TopicPartition]:
        assert not asynchronous
        done = {tp.partition: tp.offset for tp in offsets}
        self.committed.update(done)
        self.journal.append(("kafka_commit", done))
        return offsets

    def incremental_assign(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            start = tp.offset if tp.offset >= 0 else self.committed.get(tp.partition, 0)
            self.next[tp.partition] = 0 if tp.offset == OFFSET_BEGINNING else start
            self.assigned.add(tp.partition)

    def incremental_unassign(self, partitions: list[TopicPartition]) -> None:
        gone = {tp.partition for tp in partitions}
        self.assigned -= gone
        self.paused -= gone
        self.journal.append(("unassigned", sorted(gone)))

    def memberid(self) -> str:
        return "fake-member"

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        return [TopicPartition(TOPIC, tp.partition, self.next.get(tp.partition, -1001)) for tp in partitions]

    def get_watermark_offsets(
        self, partition: TopicPartition, timeout: float = -1, cached: bool = False
    ) -> tuple[int, int]:
        return self.low, len(self.logs[partition.partition])

    def close(self) -> None:
        if self.assigned:
            self._callbacks["revoke"](self, [TopicPartition(TOPIC, p) for p in sorted(self.assigned)])
        self.closed = True


@dataclass
class FakeStore:
    """consumer_positions and consumer_members as PostgreSQL holds them."""

    positions: dict[int, int] = field(default_factory=dict)
    down: bool = False
    pings: int = 0
    members: list[MemberReport] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def load_positions(self, partitions: Sequence[int]) -> dict[int, int]:
        if self.down:
            raise db_down()
        return {p: o for p, o in self.positions.items() if p in partitions}

    def save_member(self, report: MemberReport, previous: str | None) -> None:
        self.members.append(report)

    def delete_member(self, member_id: str) -> None:
        self.deleted.append(member_id)

    def ping(self) -> None:
        self.pings += 1
        if self.down:
            raise db_down()


class FakeApplier:
    """One batch = one transaction: replays below the stored positions are skipped, positions move."""

    def __init__(self, store: FakeStore, journal: list[tuple[str, object]]) -> None:
        self.store = store
        self.journal = journal
        self.fail: Callable[[list[Position]], Exception | None] = lambda batch: None
        self.gate: threading.Event | None = None
        self.attempts: list[list[Position]] = []
        self.applied: list[Position] = []
        self.dead_letters: list[Position] = []
        self.accepted: set[OffsetGap] = set()

    def apply(self, decoded: Sequence[Decoded]) -> None:
        batch = [(d.msg.partition, d.msg.offset) for d in decoded]
        self.attempts.append(batch)
        self.journal.append(("apply", batch))
        if self.gate is not None:
            assert self.gate.wait(10), "the test never opened the gate"
        error = self.fail(batch)
        if error is not None:
            raise error
        if self.store.down:
            raise db_down()
        # As BatchApplier does under the positions lock (a missing row is created at 0).
        stored = {(TOPIC, p): self.store.positions.get(p, 0) for p, _ in batch}
        if gaps := offset_gaps(decoded, stored, self.accepted):
            raise OffsetGapError(gaps)
        for p, o in batch:
            if o >= self.store.positions.get(p, 0):
                self.applied.append((p, o))
                self.store.positions[p] = o + 1
        self.journal.append(("db_commit", batch))

    def accept_gap(self, gap: OffsetGap) -> None:
        self.accepted.add(gap)

    def dead_letter_alone(self, msg: Incoming, error: BaseException) -> bool:
        self.dead_letters.append((msg.partition, msg.offset))
        self.store.positions[msg.partition] = msg.offset + 1
        return True


class FakeDlq:
    def __init__(self) -> None:
        self.closed = False

    def warm_up(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


@dataclass
class Harness:
    loop: ProjectorLoop
    consumer: FakeConsumer
    applier: FakeApplier
    store: FakeStore
    dlq: FakeDlq
    journal: list[tuple[str, object]]
    thread: threading.Thread

    def stop(self, timeout: float = 5.0) -> float:
        """Stop the loop and wait for ``run`` to return; the seconds that took."""
        started = time.monotonic()
        self.loop.stop()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"the loop did not stop within {timeout}s"
        return time.monotonic() - started


def make_settings(batch_size: int, **projector: Any) -> Settings:
    consumer = ConsumerSettings(batch_size=batch_size, batch_timeout_s=0.01, max_poll_interval_ms=6000)
    opts: dict[str, Any] = {
        "group_id": "unit-projector",
        "consumer": consumer,
        "pause_after_s": 0.3,
        "member_heartbeat_s": 0.05,
        "lag_interval_s": 0.05,
        "retry_max_backoff_s": 0.05,
        "shutdown_grace_s": 2.0,
    }
    opts.update(projector)
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:1", topic=TOPIC)
    return Settings(environment="test", log_json=False, kafka=kafka, projector=ProjectorSettings(**opts))


@contextmanager
def running(
    partitions: Sequence[int] = (0,),
    *,
    batch_size: int = 5,
    store: FakeStore | None = None,
    after_db_commit: Callable[[Sequence[Decoded]], None] | None = None,
    **projector: Any,
) -> Iterator[Harness]:
    journal: list[tuple[str, object]] = []
    store = store or FakeStore()
    consumer = FakeConsumer(partitions, journal)
    applier = FakeApplier(store, journal)
    dlq = FakeDlq()

    def factory(kafka: object, group: str, cs: object, *, on_assign: Callback, on_revoke: Callback, on_lost: Callback):  # type: ignore[no-untyped-def]
        return consumer.bind(on_assign, on_revoke, on_lost)

    loop = ProjectorLoop(
        make_settings(batch_size, **projector),
        ENGINE,
        dlq=dlq,  # type: ignore[arg-type]
        applier=applier,  # type: ignore[arg-type]
        consumer_factory=factory,
        store=store,
        after_db_commit=after_db_commit,
    )
    runner = LoopThread(loop).start()
    harness = Harness(loop, consumer, applier, store, dlq, journal, runner.thread)
    try:
        wait_until(lambda: consumer.assigned == set(partitions), "partitions assigned")
        yield harness
    finally:
        if applier.gate is not None:
            applier.gate.set()
        if runner.thread.is_alive():
            harness.stop()
    runner.raise_error()


def wait_until(condition: Callable[[], object], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not {what} within {timeout}s"
        time.sleep(0.005)


def offsets(partition: int, *numbers: int) -> list[Position]:
    return [(partition, n) for n in numbers]


def test_each_batch_is_committed_to_kafka_after_its_db_commit_and_the_after_hook() -> None:
    journal: list[tuple[str, object]] = []

    def after(batch: Sequence[Decoded]) -> None:
        journal.append(("after_db_commit", [(d.msg.partition, d.msg.offset) for d in batch]))

    with running(after_db_commit=after) as h:
        journal = h.journal
        h.consumer.produce(0, 7)
        wait_until(lambda: h.consumer.committed.get(0) == 7, "offsets committed")
        stopped = h.stop()
    assert h.applier.applied == offsets(0, *range(7))
    batches = [batch for kind, batch in journal if kind == "apply"]
    assert all(len(b) <= 5 for b in batches) and sum(map(len, batches)) == 7  # type: ignore[arg-type]
    steps = [(kind, value) for kind, value in journal if kind != "unassigned"]
    for i in range(0, len(steps), 4):
        (a, batch), (c, committed), (h_, hooked), (k, kafka) = steps[i : i + 4]
        assert (a, c, h_, k) == ("apply", "db_commit", "after_db_commit", "kafka_commit")
        assert batch == committed == hooked
        assert kafka == {0: batch[-1][1] + 1}  # type: ignore[index]
    assert stopped < 1.0
    assert h.consumer.closed and h.dlq.closed
    assert h.store.members and list(h.store.members[-1].assigned) == [0]
    assert h.store.deleted == ["fake-member"]  # the member's row goes with it


def test_assigned_partitions_start_from_the_positions_postgres_holds() -> None:
    with running(store=FakeStore(positions={0: 4})) as h:
        h.consumer.produce(0, 7)
        wait_until(lambda: h.consumer.committed.get(0) == 7, "offsets committed")
    assert h.applier.attempts[0][0] == (0, 4)
    assert h.applier.applied == offsets(0, 4, 5, 6)


def test_positions_unavailable_start_from_kafka_offsets_and_fail_readiness_until_a_batch_commits() -> None:
    store = FakeStore(positions={0: 2}, down=True)
    with running(store=store) as h:
        assert not h.loop.health.ready()
        store.down = False
        h.consumer.produce(0, 4)
        wait_until(lambda: h.consumer.committed.get(0) == 4, "offsets committed")
        assert h.loop.health.ready()
    # Kafka had nothing committed: everything is re-read, and what PG holds is skipped as replays.
    assert h.applier.attempts[0][0] == (0, 0)
    assert h.applier.applied == offsets(0, 2, 3)


def test_a_slow_batch_pauses_keeps_polling_without_busy_wakeups_and_resumes() -> None:
    with running(batch_size=2, pause_after_s=0.2) as h:
        h.applier.gate = threading.Event()
        calls_before = h.consumer.calls
        h.consumer.produce(0, 6)
        wait_until(lambda: h.applier.attempts, "batch started")
        stalled_at = time.monotonic()
        wait_until(lambda: h.consumer.paused == {0}, "partitions paused")
        assert time.monotonic() - stalled_at >= 0.15  # not before pause_after_s
        wait_until(lambda: time.monotonic() - stalled_at >= 1.0, "a second of stall")
        stalled_s = time.monotonic() - stalled_at
        calls = h.consumer.calls - calls_before
        # Turned about once per POLL_TIMEOUT_S (membership kept), never in a busy loop.
        assert 2 <= calls <= 3 + 2 * stalled_s / POLL_TIMEOUT_S, calls
        assert h.loop.live()
        h.applier.gate.set()
        wait_until(lambda: h.consumer.committed.get(0) == 6, "offsets committed")
        assert h.consumer.paused == set()
    assert h.applier.applied == offsets(0, *range(6))


def test_a_database_outage_rewinds_pauses_probes_and_then_retries_the_batch() -> None:
    with running() as h:
        h.consumer.produce(0, 3)
        wait_until(lambda: h.consumer.committed.get(0) == 3, "first batch committed")
        h.store.down = True
        h.consumer.produce(0, 3)
        wait_until(lambda: h.store.pings >= 3, "probing the database")
        assert not h.loop.health.ready()
        assert h.consumer.paused == {0}
        assert (0, 3) in h.consumer.seeks  # rewound to the failed batch's start
        assert h.consumer.committed[0] == 3  # nothing committed without the DB
        h.store.down = False
        wait_until(lambda: h.consumer.committed.get(0) == 6, "retried batch committed")
        wait_until(h.loop.health.ready, "ready again")
        assert h.consumer.paused == set()
        assert dict(h.loop.rebalances) == {"assign": 1}
    assert h.applier.applied == offsets(0, *range(6))


def test_messages_the_consumer_skipped_are_read_again_from_the_stored_offset() -> None:
    with running(batch_size=4) as h:
        h.consumer.produce(0, 4)
        wait_until(lambda: h.consumer.committed.get(0) == 4, "first batch committed")
        # The next batch would start at 7 (4-6 never handed out), a later one lacks 10.
        h.consumer.skip_once |= {(0, 4), (0, 5), (0, 6), (0, 10)}
        h.consumer.produce(0, 10)
        wait_until(lambda: h.consumer.committed.get(0) == 14, "all committed")
        assert h.loop.health.ready()
    assert h.applier.applied == offsets(0, *range(14))  # each once, in order
    assert h.consumer.seeks[0] == (0, 4)  # back to the stored offset
    assert h.applier.accepted == set()


def test_a_gap_below_the_low_watermark_is_applied_across_at_once() -> None:
    with running(batch_size=4) as h:
        h.consumer.low = 5  # retention deleted offsets 0-4 before this group read them
        h.consumer.produce(0, 8)
        wait_until(lambda: h.consumer.committed.get(0) == 8, "all committed")
    assert h.applier.applied == offsets(0, 5, 6, 7)
    assert h.applier.accepted == {OffsetGap((TOPIC, 0), 0, 5)}
    assert h.applier.attempts[:2] == [offsets(0, 5, 6, 7)] * 2  # refused once, then applied


def test_a_gap_that_every_reread_delivers_again_is_applied_across() -> None:
    with running(batch_size=10) as h:
        h.consumer.holes = {(0, 2)}  # e.g. a transaction marker: never a message
        h.consumer.produce(0, 5)
        wait_until(lambda: h.consumer.committed.get(0) == 5, "all committed")
    assert h.applier.applied == offsets(0, 0, 1, 3, 4)
    assert h.applier.attempts == [offsets(0, 0, 1, 3, 4)] * (REREADS_BEFORE_ACCEPTING + 2)
    assert h.applier.accepted == {OffsetGap((TOPIC, 0), 2, 3)}


def test_a_message_that_fails_alone_is_dead_lettered_and_the_rest_applied() -> None:
    with running() as h:
        h.applier.fail = lambda batch: ValueError("poison") if (0, 3) in batch else None
        h.consumer.produce(0, 8)
        wait_until(lambda: h.consumer.committed.get(0) == 8, "offsets committed")
    assert h.applier.dead_letters == [(0, 3)]
    assert h.applier.applied == offsets(0, 0, 1, 2, 4, 5, 6, 7)
    # Failed twice whole, replayed one at a time up to offset 4, then whole batches again.
    assert h.applier.attempts[:2] == [offsets(0, *range(5))] * 2
    assert h.applier.attempts[2:7] == [[(0, n)] for n in range(5)]
    assert h.applier.attempts[-1] == offsets(0, 5, 6, 7)


def test_messages_failing_alone_one_after_another_are_systemic_and_not_dead_lettered() -> None:
    with running() as h:
        h.applier.fail = lambda batch: ValueError("a dependency is broken")
        h.consumer.produce(0, 10)
        wait_until(lambda: h.applier.attempts[-3:] == [[(0, 5)]] * 3, "retrying offset 5")
        assert h.consumer.committed.get(0) == 5
        assert not h.loop.health.ready()
    assert h.applier.dead_letters == offsets(0, *range(SYSTEMIC_AFTER_DEAD_LETTERS))


def test_a_revocation_during_a_batch_waits_for_it_and_commits_what_postgres_committed() -> None:
    with running(partitions=(0, 1)) as h:
        h.applier.gate = threading.Event()
        h.consumer.produce(0, 3)
        wait_until(lambda: h.applier.attempts, "batch in flight")
        h.consumer.revoke([0])
        threading.Timer(0.3, h.applier.gate.set).start()
        wait_until(lambda: h.consumer.assigned == {1}, "partition 0 revoked")
        assert dict(h.loop.rebalances) == {"assign": 1, "revoke": 1}
    kinds = [(kind, value) for kind, value in h.journal if kind in ("kafka_commit", "unassigned")]
    assert kinds[:2] == [("kafka_commit", {0: 3}), ("unassigned", [0])]


def test_stop_lets_the_batch_in_flight_finish_and_commits_it() -> None:
    with running() as h:
        h.applier.gate = threading.Event()
        h.consumer.produce(0, 3)
        wait_until(lambda: h.applier.attempts, "batch in flight")
        threading.Timer(0.3, h.applier.gate.set).start()
        h.stop()
    assert h.consumer.committed == {0: 3}


def test_stop_abandons_a_batch_still_running_after_the_shutdown_grace() -> None:
    with running(shutdown_grace_s=0.3) as h:
        h.applier.gate = threading.Event()
        h.consumer.produce(0, 3)
        wait_until(lambda: h.applier.attempts, "batch in flight")
        elapsed = h.stop()
    assert 0.3 <= elapsed < 1.5
    assert h.consumer.committed == {} and h.consumer.closed


def test_stop_during_a_database_backoff_returns_at_once() -> None:
    with running(retry_max_backoff_s=30.0) as h:
        h.store.down = True
        h.consumer.produce(0, 2)
        # Probes back off 0.2, 0.4, 0.8, 1.6 s: after the 4th the loop is 1.6 s from the next one.
        wait_until(lambda: h.store.pings >= 4, "four failed probes")
        elapsed = h.stop()
    assert elapsed < 0.5, f"stop took {elapsed:.2f}s during a 1.6 s backoff"
    assert h.consumer.committed == {}


def test_the_stop_flag_is_safe_to_set_where_a_signal_handler_lands() -> None:
    stop = StopEvent()
    assert not stop.wait(0.01)
    with stop._cond:  # a handler running on the thread that is inside wait(), holding the lock
        stop.set()
    assert stop.is_set() and stop.wait(0)


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals need the main thread")
def test_a_signal_handler_setting_the_stop_flag_ends_a_wait_on_it() -> None:
    stop = StopEvent()
    previous = signal.signal(signal.SIGALRM, lambda *_: stop.set())
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        started = time.monotonic()
        assert stop.wait(5)
        assert time.monotonic() - started < 1
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
