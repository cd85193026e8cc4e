"""Pausing the owned partitions while a batch is slow or failing, resuming them, rewinding them.

A batch still running after ``pause_after_s`` (at most a third of ``max.poll.interval.ms``) pauses
every owned partition while the loop keeps polling, so a slow batch never exceeds the poll
interval and nothing piles up in memory. Pausing is the exception: librdkafka drops its prefetched
messages on pause and refetches after resume (~0.6 s on tansu), so pausing every batch would halve
throughput. A failed batch pauses the partitions and rewinds them to the first offset PostgreSQL
has not committed, so resuming re-reads it: no loss, no skip.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from typing import Protocol

from confluent_kafka import TopicPartition

from services.core import metrics
from services.core.logging import get_logger

log = get_logger(__name__)


class Pausable(Protocol):
    """The consumer calls the pausing manager makes."""

    def pause(self, partitions: list[TopicPartition]) -> None: ...
    def resume(self, partitions: list[TopicPartition]) -> None: ...
    def seek(self, partition: TopicPartition) -> None: ...


def first_offsets(positions: Iterable[tuple[int, int]]) -> dict[int, int]:
    """The lowest offset per partition of ``(partition, offset)`` pairs: where a rewind seeks to."""
    first: dict[int, int] = {}
    for partition, offset in positions:
        first[partition] = min(first.get(partition, offset), offset)
    return first


class Pauser:
    """Pauses and resumes all owned partitions together; ``assigned`` is the loop's live set."""

    def __init__(
        self,
        consumer: Pausable,
        topic: str,
        group: str,
        assigned: Set[int],
        *,
        pause_after_s: float,
        max_poll_interval_ms: int,
    ) -> None:
        self._consumer = consumer
        self._topic = topic
        self._group = group
        self._assigned = assigned
        # Never go without a poll for more than a third of max.poll.interval.ms.
        self.pause_after_s = min(pause_after_s, max_poll_interval_ms / 3000)
        self.pausing = False
        self._paused: set[int] = set()

    @property
    def paused(self) -> set[int]:
        return set(self._paused)

    def pause_if_slow(self, started: float, now: float) -> bool:
        """Pause when a batch started at ``started`` (monotonic) has run ``pause_after_s``; True if paused now."""
        if self.pausing or now - started < self.pause_after_s:
            return False
        log.info("batch_slow_pausing", after_s=self.pause_after_s, partitions=sorted(self._assigned))
        self.pause_all()
        return True

    def pause_all(self) -> None:
        """Pause every owned partition (and, until :meth:`resume_all`, every partition assigned later)."""
        self.pausing = True
        todo = set(self._assigned) - self._paused
        if todo:
            self._consumer.pause(self._tps(todo))
            self._paused |= todo
        metrics.CONSUMER_PAUSED.labels(self._group).set(1)

    def resume_all(self) -> None:
        self.pausing = False
        todo = self._paused & set(self._assigned)
        self._paused.clear()
        if todo:
            self._consumer.resume(self._tps(todo))
        metrics.CONSUMER_PAUSED.labels(self._group).set(0)

    def rewind(self, first: Mapping[int, int]) -> None:
        """Pause, then seek each owned partition of ``first`` back to its offset (see :func:`first_offsets`)."""
        self.pause_all()
        for partition, offset in sorted(first.items()):
            if partition in self._assigned:
                self._consumer.seek(TopicPartition(self._topic, partition, offset))
        log.info("partitions_rewound", offsets=dict(first))

    def on_assigned(self, partitions: Iterable[int]) -> None:
        """Newly assigned partitions start paused while the others are."""
        todo = set(partitions) - self._paused
        if self.pausing and todo:
            self._consumer.pause(self._tps(todo))
            self._paused |= todo

    def forget(self, partitions: Iterable[int]) -> None:
        """Partitions revoked or lost: no longer ours to resume."""
        self._paused -= set(partitions)

    def _tps(self, partitions: Iterable[int]) -> list[TopicPartition]:
        return [TopicPartition(self._topic, p) for p in sorted(partitions)]
