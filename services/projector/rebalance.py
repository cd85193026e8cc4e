"""Rebalance callbacks: they run inside ``poll``/``consume`` on the loop's thread.

On assignment the partitions are positioned from ``consumer_positions`` (PostgreSQL is the source
of truth; Kafka's committed offsets are informational). A revocation first lets the batch in flight
finish (bounded) so what PostgreSQL committed is committed to Kafka too; lost partitions may already
belong to another member, so nothing is committed for them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import KW_ONLY, dataclass
from typing import Protocol

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from services.core import metrics
from services.core.logging import get_logger

log = get_logger(__name__)


class Assigning(Protocol):
    """The consumer calls a rebalance callback makes."""

    def assign(self, partitions: list[TopicPartition]) -> None: ...
    def incremental_assign(self, partitions: list[TopicPartition]) -> None: ...
    def unassign(self) -> None: ...
    def incremental_unassign(self, partitions: list[TopicPartition]) -> None: ...


class RebalanceListener(Protocol):
    """What the loop does around a rebalance."""

    def stored_positions(self, partitions: list[int]) -> dict[int, int] | None:
        """Next offsets from PostgreSQL; None when it is unreachable."""
        ...

    def partitions_assigned(self, partitions: list[int]) -> None: ...

    def before_revoke(self) -> None:
        """Finish (bounded) the batch in flight and commit what PostgreSQL committed."""
        ...

    def partitions_dropped(self, partitions: set[int]) -> None: ...


@dataclass(eq=False, slots=True)
class Rebalancer:
    """The ``on_assign``/``on_revoke``/``on_lost`` callbacks; keeps ``assigned`` (the loop's live set) current."""

    topic: str
    group: str
    _: KW_ONLY
    cooperative: bool
    assigned: set[int]
    rebalances: Counter[str]
    listener: RebalanceListener

    def on_assign(self, consumer: Assigning, partitions: list[TopicPartition]) -> None:
        self._count("assign")
        numbers = [tp.partition for tp in partitions]
        # Kafka's committed offsets instead when PG is unreachable: they are never ahead of PG's
        # (Kafka commits after PG), and messages below PG's positions are skipped under the
        # positions lock, so this only costs re-reading.
        stored = self.listener.stored_positions(numbers) if numbers else {}
        if stored is not None:
            for tp in partitions:
                tp.offset = stored.get(tp.partition, OFFSET_BEGINNING)
        if self.cooperative:
            consumer.incremental_assign(partitions)
        else:
            consumer.assign(partitions)
            self.assigned.clear()
        self.assigned.update(numbers)
        self.listener.partitions_assigned(numbers)
        log.info(
            "partitions_assigned",
            topic=self.topic,
            partitions={tp.partition: tp.offset for tp in partitions},
            from_postgres=stored is not None,
            assigned=sorted(self.assigned),
        )

    def on_revoke(self, consumer: Assigning, partitions: list[TopicPartition]) -> None:
        self._count("revoke")
        self.listener.before_revoke()
        self._drop(consumer, partitions)
        log.info("partitions_revoked", topic=self.topic, partitions=sorted(tp.partition for tp in partitions))

    def on_lost(self, consumer: Assigning, partitions: list[TopicPartition]) -> None:
        self._count("lost")
        self._drop(consumer, partitions)
        log.warning("partitions_lost", topic=self.topic, partitions=sorted(tp.partition for tp in partitions))

    def _count(self, kind: str) -> None:
        self.rebalances[kind] += 1
        metrics.REBALANCES.labels(self.group, kind).inc()

    def _drop(self, consumer: Assigning, partitions: list[TopicPartition]) -> None:
        gone = {tp.partition for tp in partitions}
        if self.cooperative:
            consumer.incremental_unassign(partitions)
        else:
            consumer.unassign()
            gone = set(self.assigned)
        self.assigned.difference_update(gone)
        self.listener.partitions_dropped(gone)
