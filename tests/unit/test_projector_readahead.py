"""Read-ahead buffer on a fake consumer: full batches without added latency, isolation, revocation."""

from __future__ import annotations

from confluent_kafka import Message

from services.projector.readahead import ReadAhead

TOPIC = "match-events"


class FakeConsumer:
    """Hands out queued messages; records how each ``consume`` was called."""

    def __init__(self, messages: list[Message] | None = None) -> None:
        self.queue = list(messages or [])
        self.calls: list[tuple[int, float]] = []
        self.arrive_on_wait: list[Message] = []

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Message]:
        self.calls.append((num_messages, timeout))
        if not self.queue and timeout > 0:
            self.queue, self.arrive_on_wait = self.arrive_on_wait, []
        out, self.queue = self.queue[:num_messages], self.queue[num_messages:]
        return out

    def poll(self, timeout: float = -1) -> Message | None:
        out = self.consume(1, 0)
        return out[0] if out else None


def msgs(partition: int, *offsets: int) -> list[Message]:
    return [Message(topic=TOPIC, partition=partition, offset=o, value=b"not json") for o in offsets]


def offsets(batch: list) -> list[tuple[int, int]]:  # type: ignore[type-arg]
    return [(d.msg.partition, d.msg.offset) for d in batch]


def reader(consumer: FakeConsumer, assigned: set[int], size: int = 3) -> ReadAhead:
    return ReadAhead(consumer, assigned, batch_size=size, batch_timeout_s=0.05)


def test_a_full_batch_is_drained_without_waiting() -> None:
    consumer = FakeConsumer(msgs(0, 0, 1, 2, 3))
    batch = reader(consumer, {0}).next_batch()
    assert offsets(batch) == [(0, 0), (0, 1), (0, 2)]
    assert consumer.calls == [(3, 0)]
    assert batch[0].poison is not None  # decoded, poison included


def test_nothing_fetched_waits_for_one_message_then_drains_the_rest() -> None:
    consumer = FakeConsumer()
    consumer.arrive_on_wait = msgs(0, 5, 6)
    batch = reader(consumer, {0}).next_batch()
    assert offsets(batch) == [(0, 5), (0, 6)]
    assert consumer.calls == [(3, 0), (1, 0.05), (2, 0)]


def test_read_ahead_fills_up_to_the_batch_size_and_comes_first() -> None:
    consumer = FakeConsumer(msgs(0, 0, 1, 2, 3, 4))
    r = reader(consumer, {0}, size=2)
    r.read_ahead()
    r.read_ahead()  # full: no call
    assert len(r) == 2 and consumer.calls == [(2, 0)]
    assert offsets(r.next_batch()) == [(0, 0), (0, 1)]
    assert offsets(r.next_batch()) == [(0, 2), (0, 3)]


def test_isolation_hands_out_one_message_at_a_time_in_order() -> None:
    r = reader(FakeConsumer(msgs(0, 0, 1) + msgs(1, 0)), {0, 1})
    assert offsets(r.next_batch(one_at_a_time=True)) == [(0, 0)]
    assert offsets(r.next_batch(one_at_a_time=True)) == [(0, 1)]
    assert offsets(r.next_batch(one_at_a_time=True)) == [(1, 0)]


def test_messages_of_partitions_not_owned_or_dropped_are_discarded() -> None:
    assigned = {0, 1}
    r = reader(FakeConsumer(msgs(0, 0) + msgs(2, 0) + msgs(1, 0)), assigned, size=5)
    r.read_ahead()
    assert len(r) == 2  # partition 2 is not ours
    r.drop([1])
    assert offsets(r.take_all()) == [(0, 0)]
    assert len(r) == 0


def test_poll_keeps_a_message_it_is_handed() -> None:
    r = reader(FakeConsumer(msgs(0, 7)), {0})
    r.poll()
    r.poll()
    assert offsets(r.take_all()) == [(0, 7)]
