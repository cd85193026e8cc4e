"""The part of a Kafka consumer that pausing uses (pause, resume, seek), recorded for assertions."""

from __future__ import annotations

from confluent_kafka import TopicPartition


class PausableConsumer:
    def __init__(self) -> None:
        self.paused: set[int] = set()
        self.seeks: list[tuple[int, int]] = []

    def pause(self, partitions: list[TopicPartition]) -> None:
        self.paused |= {tp.partition for tp in partitions}

    def resume(self, partitions: list[TopicPartition]) -> None:
        self.paused -= {tp.partition for tp in partitions}

    def seek(self, partition: TopicPartition) -> None:
        self.seeks.append((partition.partition, partition.offset))
