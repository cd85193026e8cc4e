"""Dead-letter publisher: a message that cannot be handled is copied to the DLQ topic, never dropped.

The original key, value and headers are kept; headers naming the error and the source are added.
Callers flush before they commit the batch that skipped the message (DB and offsets), so a
poison message is never lost: if the DLQ is unreachable the flush raises and the batch retries.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from confluent_kafka import KafkaError, Message, Producer

from services.core.logging import get_logger
from services.core.settings import KafkaSettings

log = get_logger(__name__)

MAX_ERROR_MESSAGE = 2000

Headers = Sequence[tuple[str, bytes | str | None]]


class SourceRecord(Protocol):
    """The parts of a consumed message the DLQ keeps."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Headers | None: ...


class DeadLetterError(RuntimeError):
    """Dead letters could not all be delivered; the batch that produced them must not commit."""


def dead_letter_headers(
    source: SourceRecord, error_class: str, error_message: str, group_id: str
) -> list[tuple[str, str | bytes | None]]:
    """Original headers first, then ours (readers that build a dict see ours)."""
    headers: list[tuple[str, str | bytes | None]] = []
    for name, value in source.headers or ():
        if value is None:
            continue
        headers.append((name, value.encode() if isinstance(value, str) else bytes(value)))
    headers += [
        ("error.class", error_class.encode()),
        ("error.message", error_message[:MAX_ERROR_MESSAGE].encode()),
        ("source.topic", source.topic.encode()),
        ("source.partition", str(source.partition).encode()),
        ("source.offset", str(source.offset).encode()),
        ("consumer.group", group_id.encode()),
    ]
    return headers


class DeadLetterPublisher:
    """Produces dead letters to ``kafka.dlq_topic``; the librdkafka producer is created on first use."""

    def __init__(
        self,
        kafka: KafkaSettings,
        group_id: str,
        *,
        delivery_timeout_s: float = 10.0,
        producer_factory: Callable[[dict[str, Any]], Producer] = Producer,
    ) -> None:
        self.topic = kafka.dlq_topic
        self.group_id = group_id
        self._kafka = kafka
        self._delivery_timeout_s = delivery_timeout_s
        self._factory = producer_factory
        self._producer: Producer | None = None
        self._lock = threading.Lock()
        self._failures: list[str] = []

    def warm_up(self) -> None:
        """Create the producer now: an idempotent producer needs ~0.5 s to get its producer id,
        which would otherwise delay the first batch that has a dead letter."""
        self._client()

    def _client(self) -> Producer:
        with self._lock:
            if self._producer is None:
                conf = self._kafka.producer_config()
                conf["message.timeout.ms"] = max(1000, int(self._delivery_timeout_s * 1000))
                conf["client.id"] = f"{self._kafka.client_id}-dlq"
                self._producer = self._factory(conf)
            return self._producer

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self._failures.append(str(err))

    def publish(self, source: SourceRecord, error_class: str, error_message: str) -> None:
        """Queue one dead letter (call :meth:`flush` before committing the source batch)."""
        producer = self._client()
        headers = dead_letter_headers(source, error_class, error_message, self.group_id)
        while True:
            try:
                producer.produce(
                    self.topic, value=source.value, key=source.key, headers=headers, on_delivery=self._on_delivery
                )
                break
            except BufferError:  # local queue full: serve delivery reports, then try again
                producer.poll(0.1)
        producer.poll(0)

    def flush(self, timeout: float) -> None:
        """Wait until every queued dead letter is acknowledged; raise DeadLetterError otherwise."""
        producer = self._producer
        if producer is None:
            return
        remaining = producer.flush(timeout)
        failures, self._failures = self._failures, []
        if remaining or failures:
            detail = f"{remaining} undelivered after {timeout}s" if remaining else ""
            if failures:
                detail = f"{detail}; {len(failures)} failed: {failures[0]}".lstrip("; ")
            raise DeadLetterError(f"dead letters to {self.topic} not delivered: {detail}")

    def close(self, timeout: float = 5.0) -> None:
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            remaining = producer.flush(timeout)
            if remaining:
                log.warning("dlq_close_undelivered", remaining=remaining)
