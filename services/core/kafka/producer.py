"""The match-event producer: one idempotent librdkafka producer per process.

``send`` resolves only on the broker's delivery report and never waits longer than
``intake.delivery_timeout_s``: a full local queue, an unreachable broker or a missing report
all surface as :class:`ServiceUnavailable` (503 + Retry-After), so a referee's request never
hangs. A 503 does not prove the event was lost (the report may still arrive later); that is
fine because event ids are deterministic and the projector absorbs the client's retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from opentelemetry.trace import SpanKind

from services.core import events, tracing
from services.core.errors import ServiceUnavailable
from services.core.logging import get_logger
from services.core.metrics import PRODUCER_DELIVERY_SECONDS, PRODUCER_FAILURES
from services.core.settings import Settings

log = get_logger(__name__)
_librdkafka_log = logging.getLogger("librdkafka.producer")

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_BROKER_DOWN_CODES = frozenset({KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT, KafkaError._RESOLVE})


class Delivery(NamedTuple):
    partition: int
    offset: int


class _RepeatFilter(logging.Filter):
    """Drop repeats of a librdkafka line (ignoring numbers) within ``window_s``: a dead broker is
    retried many times a second and one line per window says as much as all of them."""

    def __init__(self, window_s: float = 10.0) -> None:
        super().__init__()
        self.window_s = window_s
        self._seen: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = re.sub(r"\d+", "#", record.getMessage())[:160]
        now = time.monotonic()
        if now - self._seen.get(key, -self.window_s) < self.window_s:
            return False
        if len(self._seen) > 1000:
            self._seen.clear()
        self._seen[key] = now
        return True


def traceparent_for(incoming: str | None) -> str:
    """The span running now (the request's, when tracing is on); else a valid W3C ``traceparent``
    unchanged; else a new sampled trace."""
    current = tracing.current_traceparent()
    if current:
        return current
    if incoming:
        m = _TRACEPARENT.match(incoming.strip().lower())
        if m and m.group(1) != "ff" and set(m.group(2)) != {"0"} and set(m.group(3)) != {"0"}:
            return m.group(0)
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def trace_id_of(traceparent: str) -> str:
    return traceparent.split("-")[1] if traceparent.count("-") == 3 else ""


class EventProducer:
    """Produces :data:`events.MatchEvent` to ``settings.kafka.topic`` keyed by tournament:division."""

    def __init__(
        self,
        settings: Settings,
        *,
        producer_id: str | None = None,
        producer_factory: Callable[[dict[str, Any]], Producer] = Producer,
    ) -> None:
        self._kafka = settings.kafka
        self.topic = settings.kafka.topic
        self.producer_id = producer_id or settings.intake.producer_id
        self.delivery_timeout_s = settings.intake.delivery_timeout_s
        self.retry_after_s = max(1, math.ceil(settings.intake.delivery_timeout_s))
        self._factory = producer_factory
        self._producer: Producer | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fatal: KafkaError | None = None
        self._broker_down = False

    # -- lifecycle -------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """librdkafka config: the shared producer config plus the intake's delivery bound."""
        conf = self._kafka.producer_config()
        # librdkafka gives up on a message at the same bound the HTTP request waits for.
        conf["message.timeout.ms"] = max(1, int(self.delivery_timeout_s * 1000))
        # Reconnect quickly after a broker restart; the default backoff grows to 10 s.
        conf.setdefault("reconnect.backoff.max.ms", 1000)
        conf["error_cb"] = self._on_error
        conf["logger"] = _librdkafka_log  # librdkafka's own lines go through logging, not raw stderr
        return conf

    def start(self) -> None:
        """Create the librdkafka client (it connects in the background) and the poll thread."""
        if not any(isinstance(f, _RepeatFilter) for f in _librdkafka_log.filters):
            _librdkafka_log.addFilter(_RepeatFilter())
        with self._lock:
            if self._producer is not None:
                return
            self._producer = self._factory(self.config())
        self._stop.clear()
        self._thread = threading.Thread(target=self._poll_loop, name="event-producer-poll", daemon=True)
        self._thread.start()
        log.info("producer_started", topic=self.topic, producer_id=self.producer_id)

    def close(self, timeout: float = 5.0) -> int:
        """Flush outstanding messages (bounded by ``timeout``); return how many were not delivered."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is None:
            return 0
        remaining = int(producer.flush(timeout))
        if remaining:
            log.warning("producer_close_undelivered", remaining=remaining)
        return remaining

    @property
    def started(self) -> bool:
        return self._producer is not None

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            producer = self._producer
            if producer is None:  # being replaced after a fatal error
                self._stop.wait(0.01)
                continue
            try:
                producer.poll(0.1)
            except KafkaException as exc:
                self._note_exception(exc)
            except Exception:  # a callback bug must not stop delivery reports for everyone
                log.exception("producer_poll_failed")

    def _on_error(self, err: KafkaError) -> None:
        """librdkafka's error callback (poll thread). Logs transitions, not every reconnect attempt."""
        if err.fatal():
            self._mark_fatal(err)
        elif err.code() == KafkaError._ALL_BROKERS_DOWN:
            if not self._broker_down:
                self._broker_down = True
                log.warning("producer_brokers_down", error=str(err))
        elif err.code() not in _BROKER_DOWN_CODES:
            log.warning("producer_error", error=str(err))

    def _note_exception(self, exc: KafkaException) -> None:
        err = exc.args[0] if exc.args else None
        if isinstance(err, KafkaError) and (err.fatal() or err.code() == KafkaError._FATAL):
            self._mark_fatal(err)
        else:
            log.warning("producer_error", error=str(exc))

    def _mark_fatal(self, err: KafkaError) -> None:
        if self._fatal is None:
            log.error("producer_fatal_error", error=str(err))
        self._fatal = err

    def _client(self) -> Producer:
        """The live client. One that hit a fatal error is replaced: an idempotent producer cannot recover
        in place (e.g. its producer id is unknown to a broker that lost its state), a new one can."""
        if self._fatal is not None:
            with self._lock:
                old = self._producer
                if old is not None and self._fatal is not None:
                    self._producer = self._factory(self.config())
                    self._fatal = None
                    log.warning("producer_recreated_after_fatal_error")
                else:
                    old = None
            if old is not None:
                old.flush(0)  # in-flight requests of the old client time out on their own
        producer = self._producer
        if producer is None:
            PRODUCER_FAILURES.labels("not_started").inc()
            raise ServiceUnavailable("the event producer is not running", self.retry_after_s)
        return producer

    # -- producing ---------------------------------------------------------------------

    async def send(self, event: events.MatchEvent, *, traceparent: str | None = None) -> Delivery:
        """Produce one event and wait for its delivery report (at most ``delivery_timeout_s``)."""
        producer = self._client()
        trace = traceparent_for(traceparent)
        if not tracing.enabled():  # no span to start: the event carries the request's trace context as it is
            return await self._send(producer, event, trace)
        with tracing.tracer(__name__).start_as_current_span(
            f"{self.topic} publish",
            context=tracing.context_of(trace),
            kind=SpanKind.PRODUCER,
            attributes={"messaging.system": "kafka", "messaging.destination.name": self.topic},
        ) as span:
            return await self._send(producer, event, traceparent_for(tracing.traceparent_of(span)))

    async def _send(self, producer: Producer, event: events.MatchEvent, traceparent: str) -> Delivery:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Delivery] = loop.create_future()
        started = time.perf_counter()

        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            # Runs on the poll thread: hand the outcome to the event loop.
            outcome: Delivery | KafkaError = (
                err if err is not None else Delivery(int(msg.partition() or 0), int(msg.offset() or 0))
            )
            with contextlib.suppress(RuntimeError):  # loop closed: nobody is waiting any more
                loop.call_soon_threadsafe(_settle, future, outcome)

        headers: list[tuple[str, str | bytes | None]] = [
            ("traceparent", traceparent.encode()),
            ("producer-id", self.producer_id.encode()),
            ("event-type", _event_type(event).encode()),
            ("schema-version", str(event.schema_version).encode()),
        ]
        value = events.encode(event)
        key = events.partition_key(event.tournament_id, event.division_id).encode()
        for attempt in (1, 2):
            try:
                producer.produce(self.topic, value=value, key=key, headers=headers, on_delivery=on_delivery)
                break
            except BufferError:
                PRODUCER_FAILURES.labels("queue_full").inc()
                raise ServiceUnavailable("the event queue is full; retry shortly", self.retry_after_s) from None
            except KafkaException as exc:
                self._note_exception(exc)
                if self._fatal is not None and attempt == 1:
                    producer = self._client()  # nothing was sent: retry once on a fresh client
                    continue
                PRODUCER_FAILURES.labels("produce_error").inc()
                log.warning("produce_failed", error=str(exc), event_id=str(event.event_id))
                raise ServiceUnavailable("the event broker rejected the message", self.retry_after_s) from None

        try:
            outcome = await asyncio.wait_for(asyncio.shield(future), self.delivery_timeout_s)
        except TimeoutError:
            PRODUCER_FAILURES.labels("timeout").inc()
            log.warning("delivery_timeout", event_id=str(event.event_id), timeout_s=self.delivery_timeout_s)
            raise ServiceUnavailable(
                "the event broker did not confirm the result in time", self.retry_after_s
            ) from None
        if isinstance(outcome, KafkaError):
            reason = "timeout" if outcome.code() == KafkaError._MSG_TIMED_OUT else "delivery_error"
            PRODUCER_FAILURES.labels(reason).inc()
            log.warning("delivery_failed", event_id=str(event.event_id), error=str(outcome))
            raise ServiceUnavailable("the event broker is unavailable", self.retry_after_s)
        PRODUCER_DELIVERY_SECONDS.observe(time.perf_counter() - started)
        if self._broker_down:
            self._broker_down = False
            log.info("producer_brokers_up")
        return outcome

    # -- health ------------------------------------------------------------------------

    def check(self, timeout: float = 1.0) -> str | None:
        """Blocking readiness probe: None when the broker answers metadata for the topic, else why not."""
        producer = self._producer
        if producer is None:
            return "producer not started"
        if self._fatal is not None:
            return f"producer fatal error: {self._fatal}"
        try:
            md = producer.list_topics(self.topic, timeout=timeout)
        except KafkaException as exc:
            return f"broker unreachable: {exc.args[0] if exc.args else exc}"
        topic = md.topics.get(self.topic)
        if topic is None or topic.error is not None or not topic.partitions:
            return f"topic {self.topic} unavailable: {topic.error if topic is not None else 'missing'}"
        return None


def _settle(future: asyncio.Future[Any], outcome: Any) -> None:
    if not future.done():
        future.set_result(outcome)


def _event_type(event: events.MatchEvent) -> str:
    if isinstance(event, events.ResultRecorded):
        return "result_recorded"
    if isinstance(event, events.ResultVoided):
        return "result_voided"
    return "tournament_finalized"
