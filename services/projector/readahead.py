"""The next batch: messages consumed ahead while the previous batch ran, then what is fetched now.

``consume(batch_size, timeout)`` alone waits the whole timeout unless the batch fills, which adds
that timeout to every event's latency at low rates; draining with timeout 0 and waiting for a
single message when nothing is there gives full batches under load and no added latency otherwise.
At most ``batch_size`` messages are read ahead.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from typing import Protocol

from confluent_kafka import KafkaError, KafkaException, Message

from services.core.logging import get_logger
from services.core.planning.batch import Decoded, Incoming, decode_one

log = get_logger(__name__)


class Fetching(Protocol):
    """The consumer calls the read-ahead buffer makes."""

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Message]: ...
    def poll(self, timeout: float = -1) -> Message | None: ...


class ReadAhead:
    """Consumed, decoded, not yet applied messages of owned partitions (``assigned``: the loop's live set)."""

    def __init__(self, consumer: Fetching, assigned: Set[int], *, batch_size: int, batch_timeout_s: float) -> None:
        self._consumer = consumer
        self._assigned = assigned
        self._size = batch_size
        self._timeout_s = batch_timeout_s
        self._carry: list[Decoded] = []

    def __len__(self) -> int:
        return len(self._carry)

    def next_batch(self, *, one_at_a_time: bool = False) -> list[Decoded]:
        """Up to ``batch_size`` messages: what was read ahead, then what is fetched, else wait
        ``batch_timeout_s`` for one. ``one_at_a_time`` (isolation) returns only the first."""
        batch, self._carry = self._carry[: self._size], self._carry[self._size :]
        room = self._size - len(batch)
        if room:
            got = self._consumer.consume(num_messages=room, timeout=0)
            if not got and not batch:
                got = self._consumer.consume(num_messages=1, timeout=self._timeout_s)
                if got and room > 1:
                    got += self._consumer.consume(num_messages=room - 1, timeout=0)
            batch.extend(self._accept(got))
        if one_at_a_time and batch:
            self._carry = batch[1:] + self._carry
            batch = batch[:1]
        return batch

    def read_ahead(self) -> None:
        """Take what librdkafka has fetched, without waiting, while there is room."""
        room = self._size - len(self._carry)
        if room > 0:
            self._carry.extend(self._accept(self._consumer.consume(num_messages=room, timeout=0)))

    def poll(self) -> None:
        """Serve callbacks without waiting; a message (none expected while paused) is kept."""
        msg = self._consumer.poll(0)
        if msg is not None:
            self._carry.extend(self._accept([msg]))

    def take_all(self) -> list[Decoded]:
        """Empty the buffer (a rewind re-reads these messages)."""
        carry, self._carry = self._carry, []
        return carry

    def drop(self, partitions: Iterable[int]) -> None:
        """Partitions revoked or lost: their messages are the next owner's."""
        gone = set(partitions)
        self._carry = [d for d in self._carry if d.msg.partition not in gone]

    def _accept(self, messages: Iterable[Message]) -> list[Decoded]:
        """Data messages of owned partitions, decoded (poison included, with its reason)."""
        out: list[Decoded] = []
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    continue
                if err.fatal():
                    raise KafkaException(err)
                log.warning("consumer_error", error=str(err), topic=msg.topic(), partition=msg.partition())
                continue
            incoming = Incoming.from_message(msg)
            if incoming.partition in self._assigned:
                out.append(decode_one(incoming))
        return out
