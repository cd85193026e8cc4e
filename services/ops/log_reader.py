"""Reading ``match-events`` for a replay: ``assign()`` under a throwaway group id, never a group join,
never an offset commit."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from services.core.settings import KafkaSettings
from services.ops.consumers import KafkaWatermarks

ProgressCallback = Callable[[int, int], None]


class ReplayError(RuntimeError):
    """The log could not be read (broker unreachable, topic missing)."""


class LogReader(KafkaWatermarks):
    """Reads a topic with ``assign()`` and a throwaway group id: never joins a group, never commits."""

    group_prefix = "standings-replay"

    def __init__(self, kafka: KafkaSettings, timeout_s: float = 10.0) -> None:
        super().__init__(kafka, timeout_s)

    def _conf(self) -> dict[str, Any]:
        conf = super()._conf()
        conf["enable.partition.eof"] = True
        return conf

    def partitions(self, topic: str) -> list[int]:
        try:
            meta = self._topic(topic)
        except KafkaException as exc:
            raise ReplayError(f"cannot reach Kafka at {self._kafka.bootstrap_servers}: {exc}") from exc
        if meta is None or meta.error is not None or not meta.partitions:
            raise ReplayError(f"topic {topic} does not exist on {self._kafka.bootstrap_servers}")
        return sorted(meta.partitions)

    def offset_at(self, topic: str, partition: int, when: dt.datetime, default: int) -> int:
        """First offset whose timestamp is >= ``when`` (``default`` when there is none)."""
        millis = int(when.timestamp() * 1000)
        (found,) = self._consumer().offsets_for_times(
            [TopicPartition(topic, partition, millis)], timeout=self._timeout_s
        )
        return int(found.offset) if found.offset >= 0 else default

    def read(
        self,
        topic: str,
        windows: Mapping[int, tuple[int, int]],
        on_message: Callable[[Message], None],
        on_progress: ProgressCallback | None = None,
        idle_timeout_s: float = 10.0,
    ) -> tuple[dict[int, int], list[int]]:
        """Read each partition from ``start`` until ``target`` (or its end); returns the next offset
        reached per partition and the partitions given up on after ``idle_timeout_s`` without data."""
        consumer = self._consumer()
        reached = {p: start for p, (start, _) in windows.items()}
        todo = {p for p, (start, target) in windows.items() if start < target}
        total = sum(max(0, target - start) for start, target in windows.values())
        done_count = 0
        if not todo:
            return reached, []
        consumer.assign([TopicPartition(topic, p, windows[p][0]) for p in sorted(todo)])
        last_data = time.monotonic()
        try:
            while todo:
                batch = consumer.consume(num_messages=1000, timeout=0.5)
                if not batch and time.monotonic() - last_data > idle_timeout_s:
                    break
                for msg in batch:
                    p = msg.partition()
                    assert p is not None
                    err = msg.error()
                    if err is not None:
                        if err.code() == KafkaError._PARTITION_EOF:
                            todo.discard(p)  # at the end of the log: nothing more to read
                            continue
                        raise ReplayError(f"reading {topic}[{p}]: {err}")
                    offset = msg.offset()
                    assert offset is not None
                    if p not in todo or offset < reached[p]:
                        continue
                    last_data = time.monotonic()
                    on_message(msg)
                    done_count += offset + 1 - reached[p]
                    reached[p] = offset + 1
                    if reached[p] >= windows[p][1]:
                        todo.discard(p)
                if on_progress is not None:
                    on_progress(min(done_count, total), total)
        finally:
            consumer.unassign()
        if on_progress is not None:
            on_progress(total, total)
        return reached, sorted(todo)


def plan_windows(
    reader: LogReader,
    topic: str,
    live_positions: Mapping[int, int],
    from_time: dt.datetime | None,
) -> dict[int, tuple[int, int]]:
    """partition -> (start, target)."""
    windows: dict[int, tuple[int, int]] = {}
    for p in reader.partitions(topic):
        low, high = reader.watermarks(topic, p)
        start = low if from_time is None else max(low, reader.offset_at(topic, p, from_time, default=high))
        windows[p] = (start, max(high, live_positions.get(p, 0)))
    return windows
