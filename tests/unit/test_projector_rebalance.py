"""Rebalance callbacks on a fake consumer and listener: positions from PostgreSQL, revocation, loss."""

from __future__ import annotations

from collections import Counter

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from services.projector.rebalance import Rebalancer

TOPIC = "match-events"


class FakeConsumer:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.calls.append(("assign", {tp.partition: tp.offset for tp in partitions}))

    def incremental_assign(self, partitions: list[TopicPartition]) -> None:
        self.calls.append(("incremental_assign", {tp.partition: tp.offset for tp in partitions}))

    def unassign(self) -> None:
        self.calls.append(("unassign", None))

    def incremental_unassign(self, partitions: list[TopicPartition]) -> None:
        self.calls.append(("incremental_unassign", sorted(tp.partition for tp in partitions)))


class FakeListener:
    def __init__(self, stored: dict[int, int] | None) -> None:
        self.stored = stored
        self.events: list[tuple[str, object]] = []

    def stored_positions(self, partitions: list[int]) -> dict[int, int] | None:
        self.events.append(("stored_positions", sorted(partitions)))
        return self.stored

    def partitions_assigned(self, partitions: list[int]) -> None:
        self.events.append(("assigned", sorted(partitions)))

    def before_revoke(self) -> None:
        self.events.append(("before_revoke", None))

    def partitions_dropped(self, partitions: set[int]) -> None:
        self.events.append(("dropped", sorted(partitions)))


def rebalancer(
    *, cooperative: bool = True, stored: dict[int, int] | None = None
) -> tuple[Rebalancer, set[int], Counter[str], FakeListener]:
    assigned: set[int] = set()
    counts: Counter[str] = Counter()
    listener = FakeListener(stored)
    r = Rebalancer(TOPIC, "g", cooperative=cooperative, assigned=assigned, rebalances=counts, listener=listener)
    return r, assigned, counts, listener


def tps(*partitions: int) -> list[TopicPartition]:
    return [TopicPartition(TOPIC, p) for p in partitions]


def test_assigned_partitions_start_from_postgres_positions_or_the_beginning() -> None:
    r, assigned, counts, listener = rebalancer(stored={0: 42})
    consumer = FakeConsumer()
    r.on_assign(consumer, tps(0, 1))
    assert consumer.calls == [("incremental_assign", {0: 42, 1: OFFSET_BEGINNING})]
    assert assigned == {0, 1}
    assert counts == Counter(assign=1)
    assert listener.events == [("stored_positions", [0, 1]), ("assigned", [0, 1])]


def test_postgres_unreachable_keeps_kafkas_committed_offsets() -> None:
    r, _, _, _ = rebalancer(stored=None)
    consumer = FakeConsumer()
    partitions = tps(0)
    r.on_assign(consumer, partitions)
    assert consumer.calls == [("incremental_assign", {0: partitions[0].offset})]  # untouched


def test_cooperative_assignments_add_up_and_revocations_subtract() -> None:
    r, assigned, counts, listener = rebalancer(stored={})
    consumer = FakeConsumer()
    r.on_assign(consumer, tps(0))
    r.on_assign(consumer, tps(2))
    assert assigned == {0, 2}
    r.on_revoke(consumer, tps(0))
    assert assigned == {2}
    assert consumer.calls[-1] == ("incremental_unassign", [0])
    # The batch in flight is finished (and committed) before the partition goes.
    assert listener.events[-2:] == [("before_revoke", None), ("dropped", [0])]
    assert counts == Counter(assign=2, revoke=1)


def test_lost_partitions_are_dropped_without_finishing_the_batch() -> None:
    r, assigned, counts, listener = rebalancer(stored={})
    consumer = FakeConsumer()
    r.on_assign(consumer, tps(0, 1))
    r.on_lost(consumer, tps(1))
    assert assigned == {0}
    assert ("before_revoke", None) not in listener.events
    assert listener.events[-1] == ("dropped", [1])
    assert counts["lost"] == 1


def test_eager_assignment_replaces_and_revocation_drops_everything() -> None:
    r, assigned, _, listener = rebalancer(cooperative=False, stored={})
    consumer = FakeConsumer()
    r.on_assign(consumer, tps(0, 1))
    r.on_assign(consumer, tps(2))
    assert assigned == {2}
    assert consumer.calls[-1][0] == "assign"
    r.on_revoke(consumer, tps(2))
    assert assigned == set()
    assert consumer.calls[-1] == ("unassign", None)
    assert listener.events[-1] == ("dropped", [2])


def test_an_empty_assignment_needs_no_positions() -> None:
    r, assigned, _, listener = rebalancer(stored=None)
    r.on_assign(FakeConsumer(), [])
    assert assigned == set()
    assert listener.events == [("assigned", [])]
