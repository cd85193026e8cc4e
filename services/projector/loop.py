"""The standings-projector consumer loop.

Guarantees (SPEC §6, docs/architecture.md):

- one PostgreSQL transaction per batch holds the effects *and* the partitions' next offsets;
  the Kafka offset commit (synchronous) happens only after it committed. On assignment the
  partitions are positioned from ``consumer_positions``: PostgreSQL is the source of truth.
- the DB work runs on a worker thread. A batch still running after ``pause_after_s`` pauses all
  assigned partitions while this thread keeps calling ``poll`` (heartbeats, rebalance callbacks),
  so a slow batch never exceeds ``max.poll.interval.ms`` and never starts a rebalance loop.
- a revocation while a batch is in flight waits (bounded) for it and commits what PG committed.
- a failed batch commits nothing to Kafka: the partitions are paused and rewound to the batch
  start, readiness fails, and the batch is retried with backoff (PostgreSQL down: until it is
  back). A batch that keeps failing for another reason is replayed one message at a time and the
  message that fails alone is dead-lettered (``processing_error``): no crash loop, no silent skip.
- SIGTERM (:meth:`ProjectorLoop.stop`): the in-flight batch finishes (or is abandoned after
  ``shutdown_grace_s`` and rolls back), its offsets are committed, the consumer leaves the group.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from queue import SimpleQueue
from typing import Any, TypeVar

import sqlalchemy.exc
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition
from sqlalchemy import Engine, text
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_exponential

from services.core import metrics
from services.core.db import consumers
from services.core.db.engine import make_session_factory
from services.core.db.errors import DATABASE_DOWN_ERRORS
from services.core.domain.ruleset import get_ruleset
from services.core.kafka.consumer import consumer_conf, effective_config_fingerprint, is_cooperative, make_consumer
from services.core.kafka.dlq import DeadLetterError, DeadLetterPublisher
from services.core.logging import get_logger
from services.core.settings import APP_VERSION, Settings
from services.projector.batch import Decoded, Incoming, decode_one
from services.projector.service import BatchApplier, BatchOutcome

log = get_logger(__name__)

T = TypeVar("T")
ConsumerFactory = Callable[..., Consumer]

# Consecutive non-transient failures of the same batch before it is replayed message by message.
ISOLATE_AFTER_FAILURES = 2
# Messages dead-lettered one after another (processing_error) before failures count as systemic.
SYSTEMIC_AFTER_DEAD_LETTERS = 5
# While a batch runs: how often to check for its end between non-blocking consumes of the next one.
_PREFETCH_SLICE_S = 0.002


def is_transient(exc: BaseException) -> bool:
    """Failures of the environment (PostgreSQL or the DLQ unreachable), retried until they pass.

    Anything else is treated as a possible poison message (see isolation mode).
    """
    if isinstance(exc, (*DATABASE_DOWN_ERRORS, DeadLetterError)):
        return True
    return isinstance(exc, sqlalchemy.exc.DBAPIError) and bool(exc.connection_invalidated)


class _Abandoned(Exception):
    """Shutdown grace expired while a batch was in flight: it is left to roll back."""


class _Worker:
    """One daemon thread running submitted calls in order (daemon: an abandoned transaction dies
    with the process and rolls back)."""

    def __init__(self, name: str) -> None:
        self._queue: SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None] = SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        self._queue.put((future, fn, args))
        return future

    def stop(self) -> None:
        self._queue.put(None)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            future, fn, args = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:
                future.set_exception(exc)


@dataclass(slots=True)
class _Inflight:
    batch: Sequence[Decoded]
    future: Future[BatchOutcome]
    kafka_committed: bool = False

    def next_offsets(self) -> dict[int, int]:
        offsets: dict[int, int] = {}
        for item in self.batch:
            msg = item.msg
            offsets[msg.partition] = max(offsets.get(msg.partition, 0), msg.offset + 1)
        return offsets


@dataclass(slots=True)
class LoopHealth:
    """Read by the health server (another thread); plain attribute writes are atomic enough."""

    started_at: float = field(default_factory=time.monotonic)
    last_tick: float = field(default_factory=time.monotonic)
    running: bool = False
    db_ok: bool = True
    reason: str = "starting"

    def live(self, max_silence_s: float) -> bool:
        return time.monotonic() - self.last_tick < max_silence_s

    def ready(self) -> bool:
        return self.running and self.db_ok


class ProjectorLoop:
    """Consumes ``match-events`` and projects them into PostgreSQL. ``run`` blocks until ``stop``."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        dlq: DeadLetterPublisher | None = None,
        applier: BatchApplier | None = None,
        consumer_factory: ConsumerFactory = make_consumer,
    ) -> None:
        self.settings = settings
        ps = settings.projector
        self.group = ps.group_id
        self.topic = settings.kafka.topic
        self._ps = ps
        self._cs = ps.consumer
        self._sessions = make_session_factory(engine)
        self._dlq = dlq or DeadLetterPublisher(settings.kafka, self.group, delivery_timeout_s=ps.dlq_flush_timeout_s)
        self.applier = applier or BatchApplier(
            self._sessions, self._dlq, self.group, dlq_flush_timeout_s=ps.dlq_flush_timeout_s
        )
        self._consumer_factory = consumer_factory
        self._conf = consumer_conf(settings.kafka, self.group, self._cs)
        self._cooperative = is_cooperative(self._conf)
        ruleset = get_ruleset(ps.ruleset)
        self.fingerprint, self.effective_config = effective_config_fingerprint(
            self._conf,
            {
                "batch_size": self._cs.batch_size,
                "app_version": APP_VERSION,
                "ruleset": ruleset.name,
                "ruleset_version": ruleset.version,
            },
        )
        self.health = LoopHealth()
        self.rebalances: Counter[str] = Counter()
        self._stop = threading.Event()
        self._consumer: Consumer | None = None
        self._worker: _Worker | None = None
        self._heartbeats: _Worker | None = None
        self._heartbeat: Future[None] | None = None
        self._assigned: set[int] = set()
        self._paused: set[int] = set()
        self._pausing = False
        # Consumed (and decoded) but not yet applied: the next batch, read ahead while one runs.
        self._carry: list[Decoded] = []
        self._inflight: _Inflight | None = None
        self._isolate: dict[int, int] = {}
        self._failures = 0
        self._dead_lettered_in_a_row = 0
        self._member_id: str | None = None
        self._next_heartbeat = 0.0
        self._next_lag = 0.0
        self._lag: dict[str, int] = {}
        self._revoke_wait_s = self._cs.max_poll_interval_ms / 2000
        # Never go without a poll for more than a third of max.poll.interval.ms.
        self._pause_after_s = min(ps.pause_after_s, self._cs.max_poll_interval_ms / 3000)
        self._max_silence_s = max(30.0, self._cs.max_poll_interval_ms / 1000)

    # -- public ------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to finish the in-flight batch, commit, leave the group and return."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def assigned(self) -> set[int]:
        return set(self._assigned)

    def live(self) -> bool:
        return self.health.live(self._max_silence_s)

    def run(self) -> None:
        self._worker = _Worker("projector-db")
        self._heartbeats = _Worker("projector-member")
        self._consumer = self._consumer_factory(
            self.settings.kafka,
            self.group,
            self._cs,
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        self._dlq.warm_up()
        metrics.CONSUMER_PAUSED.labels(self.group).set(0)
        self.health.running = True
        self.health.reason = "ok"
        log.info(
            "projector_started",
            group=self.group,
            topic=self.topic,
            fingerprint=self.fingerprint,
            config=self.effective_config,
        )
        try:
            while not self._stop.is_set():
                self._tick()
                batch = self._next_batch()
                if batch:
                    self._process(batch)
        finally:
            self._shutdown()

    # -- batches -----------------------------------------------------------------------------

    def _next_batch(self) -> list[Decoded]:
        """Up to batch_size messages: whatever is already fetched, else wait for the first one.

        ``consume(batch_size, timeout)`` alone waits the whole timeout unless the batch fills, which
        adds that timeout to every event's latency at low rates; draining with timeout 0 and waiting
        for a single message instead gives full batches under load and no added latency otherwise.
        """
        consumer = self._require_consumer()
        size = self._cs.batch_size
        batch, self._carry = self._carry[:size], self._carry[size:]
        room = size - len(batch)
        if room:
            got = consumer.consume(num_messages=room, timeout=0)
            if not got and not batch:
                got = consumer.consume(num_messages=1, timeout=self._cs.batch_timeout_s)
                if got and room > 1:
                    got += consumer.consume(num_messages=room - 1, timeout=0)
            batch.extend(self._accept(got))
        if self._isolate and batch:
            # Replaying a failing batch one message at a time to find the message that fails alone.
            self._carry = batch[1:] + self._carry
            batch = batch[:1]
        return batch

    def _accept(self, messages: Iterable[Message]) -> list[Decoded]:
        """Data messages of assigned partitions, decoded (poison included, with its reason)."""
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

    def _process(self, batch: Sequence[Decoded]) -> None:
        started = time.perf_counter()
        inflight = _Inflight(batch, self._submit(self.applier.apply, batch))
        self._inflight = inflight
        try:
            self._await(inflight.future)
        except _Abandoned:
            self._inflight = None
            log.warning("batch_abandoned_on_shutdown", messages=len(batch), **_span(batch))
            return
        except Exception as exc:
            self._inflight = None
            self._on_batch_failure(batch, exc)
            return
        if self._ps.test_pause_after_db_commit_s:
            log.warning(
                "test_hook_pause_after_db_commit", seconds=self._ps.test_pause_after_db_commit_s, **_span(batch)
            )
            self._pause_all()
            try:
                self._poll_sleep(self._ps.test_pause_after_db_commit_s)
            finally:
                self._resume_all()
        self._commit(inflight)
        self._inflight = None
        self._after_success(batch)
        metrics.BATCH_SIZE.observe(len(batch))
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)

    def _after_success(self, batch: Sequence[Decoded]) -> None:
        self._failures = 0
        self._dead_lettered_in_a_row = 0
        if not self.health.db_ok:
            log.info("projector_recovered")
        self.health.db_ok = True
        self.health.reason = "ok"
        for item in batch:
            msg = item.msg
            end = self._isolate.get(msg.partition)
            if end is not None and msg.offset >= end:
                del self._isolate[msg.partition]
                log.info("isolation_finished", topic=msg.topic, partition=msg.partition, offset=msg.offset)

    def _submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        assert self._worker is not None
        return self._worker.submit(fn, *args)

    def _await(self, future: Future[T]) -> T:
        """The worker's result. Meanwhile consume the next batch (at most ``batch_size`` messages
        are held); past ``pause_after_s`` pause all partitions and keep polling instead, so a slow
        batch never exceeds ``max.poll.interval.ms`` and nothing piles up in memory.

        Pausing is the exception: librdkafka drops its prefetched messages on pause and refetches
        after resume (~0.6 s on tansu), so pausing every batch would halve throughput.
        """
        consumer = self._require_consumer()
        size = self._cs.batch_size
        pause_at = time.monotonic() + self._pause_after_s
        while not self._pausing:
            try:
                return future.result(timeout=_PREFETCH_SLICE_S)
            except FutureTimeout:
                pass
            if time.monotonic() >= pause_at:
                log.info("batch_slow_pausing", after_s=self._pause_after_s, partitions=sorted(self._assigned))
                self._pause_all()
                break
            room = size - len(self._carry)
            if room > 0 and not self._stop.is_set():
                self._tick()
                self._carry.extend(self._accept(consumer.consume(num_messages=room, timeout=0)))
        stop_seen: float | None = None
        try:
            while not future.done():
                self._poll_once(0.1)
                if self._stop.is_set():
                    stop_seen = stop_seen or time.monotonic()
                    if time.monotonic() - stop_seen > self._ps.shutdown_grace_s:
                        raise _Abandoned()
        finally:
            self._resume_all()
        return future.result()

    def _commit(self, inflight: _Inflight) -> None:
        """Synchronous Kafka commit of a batch PG has committed (informational: PG is the truth)."""
        if inflight.kafka_committed:
            return
        inflight.kafka_committed = True
        offsets = [TopicPartition(self.topic, p, o) for p, o in inflight.next_offsets().items() if p in self._assigned]
        if not offsets:
            return
        try:
            self._require_consumer().commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # The positions are in PG already; the next owner seeks from there.
            log.warning("kafka_commit_failed", error=str(exc), offsets={tp.partition: tp.offset for tp in offsets})

    # -- failures ----------------------------------------------------------------------------

    def _on_batch_failure(self, batch: Sequence[Decoded], exc: Exception) -> None:
        transient = is_transient(exc)
        self._failures += 1
        self.health.db_ok = False
        self.health.reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
        log.error(
            "batch_failed",
            error=self.health.reason,
            transient=transient,
            attempt=self._failures,
            messages=len(batch),
            **_span(batch),
            exc_info=not transient,
        )
        if not transient and len(batch) == 1 and self._isolate:
            if self._dead_lettered_in_a_row < SYSTEMIC_AFTER_DEAD_LETTERS:
                self._dead_letter_alone(batch[0], exc)
                return
            # Message after message fails alone: a bug or a broken dependency, not poison.
            # Dead-lettering everything would empty the stream into the DLQ; retry instead.
            log.error("systemic_failure_not_dead_lettering", dead_lettered_in_a_row=self._dead_lettered_in_a_row)
        self._rewind(batch)
        if not transient and self._failures >= ISOLATE_AFTER_FAILURES:
            self._isolate = {}
            for item in batch:
                msg = item.msg
                self._isolate[msg.partition] = max(self._isolate.get(msg.partition, -1), msg.offset)
            log.warning("isolation_started", partitions=self._isolate)
        self._pause_all()
        try:
            self._wait_for_recovery(transient)
        finally:
            self._resume_all()

    def _rewind(self, batch: Sequence[Decoded]) -> None:
        """Seek every partition of the batch (and of messages consumed after it) back to the first
        offset not committed in PG, so resuming re-reads them: no loss, no skip."""
        first: dict[int, int] = {}
        for item in [*batch, *self._carry]:
            msg = item.msg
            first[msg.partition] = min(first.get(msg.partition, msg.offset), msg.offset)
        self._carry = []
        self._pause_all()
        consumer = self._require_consumer()
        for partition, offset in sorted(first.items()):
            if partition in self._assigned:
                consumer.seek(TopicPartition(self.topic, partition, offset))
        log.info("partitions_rewound", offsets=first)

    def _wait_for_recovery(self, transient: bool) -> None:
        """Back off (polling all the while); for a DB failure, until PostgreSQL answers again."""

        def probe() -> None:
            with self._sessions() as session:
                session.execute(text("SELECT 1"))

        retrying = Retrying(
            wait=wait_exponential(multiplier=0.2, max=self._ps.retry_max_backoff_s),
            retry=retry_if_exception(is_transient),
            stop=lambda _state: self._stop.is_set(),
            sleep=self._poll_sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        if not transient:
            self._poll_sleep(min(self._ps.retry_max_backoff_s, 0.2 * 2**self._failures))
            return
        try:
            for attempt in retrying:
                with attempt:
                    self._run_polling(probe)
        except Exception as exc:  # stopped while still failing: leave it to the shutdown
            log.warning("recovery_wait_stopped", error=str(exc))

    @staticmethod
    def _log_retry(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "waiting_for_database",
            attempt=state.attempt_number,
            sleep_s=round(state.upcoming_sleep, 2),
            error=str(exc).splitlines()[0] if exc else None,
        )

    def _dead_letter_alone(self, item: Decoded, exc: Exception) -> None:
        msg = item.msg
        try:
            self._run_polling(self.applier.dead_letter_alone, msg, exc)
        except Exception as dlq_exc:
            log.error("dead_letter_alone_failed", error=str(dlq_exc), partition=msg.partition, offset=msg.offset)
            self._rewind([item])
            self._pause_all()
            try:
                self._wait_for_recovery(is_transient(dlq_exc))
            finally:
                self._resume_all()
            return
        inflight = _Inflight([item], Future())
        self._commit(inflight)
        streak = self._dead_lettered_in_a_row + 1
        self._after_success([item])
        self._dead_lettered_in_a_row = streak

    def _run_polling(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` on the worker thread while this thread keeps polling (partitions paused)."""
        future = self._submit(fn, *args)
        while not future.done():
            self._poll_once(0.1)
        return future.result()

    # -- polling while paused ----------------------------------------------------------------

    def _pause_all(self) -> None:
        self._pausing = True
        todo = self._assigned - self._paused
        if todo:
            self._require_consumer().pause([TopicPartition(self.topic, p) for p in sorted(todo)])
            self._paused |= todo
        metrics.CONSUMER_PAUSED.labels(self.group).set(1)

    def _resume_all(self) -> None:
        self._pausing = False
        todo = self._paused & self._assigned
        self._paused.clear()
        if todo and self._consumer is not None:
            self._consumer.resume([TopicPartition(self.topic, p) for p in sorted(todo)])
        metrics.CONSUMER_PAUSED.labels(self.group).set(0)

    def _poll_once(self, timeout: float) -> None:
        """Serve heartbeats and rebalance callbacks; a message (none expected while paused) is kept."""
        self._tick()
        msg = self._require_consumer().poll(timeout)
        if msg is not None:
            self._carry.extend(self._accept([msg]))

    def _poll_sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self._poll_once(min(0.1, left))

    # -- rebalance callbacks (run inside poll/consume on this thread) --------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.rebalances["assign"] += 1
        metrics.REBALANCES.labels(self.group, "assign").inc()
        numbers = [tp.partition for tp in partitions]
        stored = self._stored_positions(numbers)
        for tp in partitions:
            if stored is not None:
                tp.offset = stored.get(tp.partition, OFFSET_BEGINNING)
        if self._cooperative:
            consumer.incremental_assign(partitions)
            self._assigned |= set(numbers)
        else:
            consumer.assign(partitions)
            self._assigned = set(numbers)
        if self._pausing and partitions:
            consumer.pause(partitions)
            self._paused |= set(numbers)
        log.info(
            "partitions_assigned",
            topic=self.topic,
            partitions={tp.partition: tp.offset for tp in partitions},
            from_postgres=stored is not None,
            assigned=sorted(self._assigned),
        )
        self._next_heartbeat = 0.0

    def _stored_positions(self, partitions: list[int]) -> dict[int, int] | None:
        """Next offsets from PostgreSQL; None when it is unreachable.

        Then the partitions start from Kafka's committed offsets instead: those are never ahead of
        PG's (Kafka commits after PG), and messages below PG's positions are skipped under the
        positions lock, so this only costs re-reading.
        """
        if not partitions:
            return {}
        try:
            with self._sessions() as session:
                return consumers.load_positions(session, self.group, self.topic, partitions)
        except sqlalchemy.exc.SQLAlchemyError as exc:
            log.warning("positions_unavailable_using_kafka_offsets", error=str(exc).splitlines()[0])
            self.health.db_ok = False
            self.health.reason = "positions unavailable"
            return None

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.rebalances["revoke"] += 1
        metrics.REBALANCES.labels(self.group, "revoke").inc()
        self._finish_inflight_for_revoke()
        self._drop({tp.partition for tp in partitions}, consumer, partitions)
        log.info("partitions_revoked", topic=self.topic, partitions=sorted(tp.partition for tp in partitions))

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.rebalances["lost"] += 1
        metrics.REBALANCES.labels(self.group, "lost").inc()
        # Lost partitions may already belong to someone else: commit nothing for them.
        self._drop({tp.partition for tp in partitions}, consumer, partitions)
        log.warning("partitions_lost", topic=self.topic, partitions=sorted(tp.partition for tp in partitions))

    def _finish_inflight_for_revoke(self) -> None:
        inflight = self._inflight
        if inflight is None:
            return
        try:
            inflight.future.result(timeout=self._revoke_wait_s)
        except FutureTimeout:
            log.warning("revoked_with_batch_in_flight", waited_s=self._revoke_wait_s)
            return
        except Exception:
            return  # failed: nothing committed in PG; the loop rewinds what it still owns
        self._commit(inflight)

    def _drop(self, partitions: set[int], consumer: Consumer, tps: list[TopicPartition]) -> None:
        if self._cooperative:
            consumer.incremental_unassign(tps)
        else:
            consumer.unassign()
            partitions = set(self._assigned)
        self._assigned -= partitions
        self._paused -= partitions
        self._carry = [d for d in self._carry if d.msg.partition not in partitions]
        for p in partitions:
            self._isolate.pop(p, None)
            self._lag.pop(str(p), None)
            with contextlib.suppress(KeyError):
                metrics.CONSUMER_LAG.remove(self.group, str(p))
        self._next_heartbeat = 0.0

    # -- housekeeping ------------------------------------------------------------------------

    def _tick(self) -> None:
        now = time.monotonic()
        self.health.last_tick = now
        if now >= self._next_lag:
            self._next_lag = now + self._ps.lag_interval_s
            self._update_lag()
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + self._ps.member_heartbeat_s
            self._report_member()

    def _update_lag(self) -> None:
        """Lag per partition from cached watermarks (no network). tansu reports the base offset of
        the last batch as high watermark, so the value can be low; it is clamped at 0."""
        consumer = self._consumer
        if consumer is None or not self._assigned:
            return
        tps = [TopicPartition(self.topic, p) for p in sorted(self._assigned)]
        try:
            positions = consumer.position(tps)
        except KafkaException:
            return
        for tp in positions:
            try:
                watermarks = consumer.get_watermark_offsets(TopicPartition(self.topic, tp.partition), cached=True)
            except KafkaException:
                continue
            if not watermarks or tp.offset < 0 or watermarks[1] < 0:
                continue
            lag = max(0, watermarks[1] - tp.offset)
            self._lag[str(tp.partition)] = lag
            metrics.CONSUMER_LAG.labels(self.group, str(tp.partition)).set(lag)

    def _report_member(self) -> None:
        """Upsert this member's row (fingerprint, assignment, lag) on a side thread, never blocking polls."""
        consumer, workers = self._consumer, self._heartbeats
        if consumer is None or workers is None or (self._heartbeat is not None and not self._heartbeat.done()):
            return
        try:
            member_id = consumer.memberid()
        except RuntimeError:
            return
        if not member_id:
            return
        previous, self._member_id = self._member_id, member_id
        self._heartbeat = workers.submit(
            self._write_member, member_id, previous, sorted(self._assigned), dict(self._lag)
        )

    def _write_member(self, member_id: str, previous: str | None, assigned: list[int], lag: dict[str, int]) -> None:
        try:
            with self._sessions() as session, session.begin():
                if previous and previous != member_id:
                    consumers.delete_member(session, self.group, previous)
                consumers.upsert_member(
                    session,
                    group=self.group,
                    member_id=member_id,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    fingerprint=self.fingerprint,
                    config=self.effective_config,
                    assigned=assigned,
                    lag=lag,
                )
        except sqlalchemy.exc.SQLAlchemyError as exc:
            log.warning("member_heartbeat_failed", error=str(exc).splitlines()[0])

    def _require_consumer(self) -> Consumer:
        if self._consumer is None:
            raise RuntimeError("the projector loop is not running")
        return self._consumer

    def _shutdown(self) -> None:
        self.health.running = False
        self.health.reason = "stopping"
        consumer, self._consumer = self._consumer, None
        self._inflight = None
        if self._heartbeat is not None:
            with contextlib.suppress(Exception):  # best effort: its failure is logged by itself
                self._heartbeat.result(timeout=5)
        if self._member_id:
            try:
                with self._sessions() as session, session.begin():
                    consumers.delete_member(session, self.group, self._member_id)
            except sqlalchemy.exc.SQLAlchemyError as exc:
                log.warning("member_delete_failed", error=str(exc).splitlines()[0])
        if consumer is not None:
            self._consumer = consumer  # close() runs on_revoke, which needs it
            try:
                consumer.close()
            except (KafkaException, RuntimeError) as exc:
                log.warning("consumer_close_failed", error=str(exc))
            self._consumer = None
        self._dlq.close()
        for worker in (self._worker, self._heartbeats):
            if worker is not None:
                worker.stop()
        metrics.CONSUMER_PAUSED.labels(self.group).set(0)
        log.info("projector_stopped", group=self.group)


def _span(batch: Sequence[Decoded]) -> dict[str, Any]:
    """Structured fields naming a batch: topic and first/last offset per partition."""
    spans: dict[int, list[int]] = {}
    for msg in (d.msg for d in batch):
        span = spans.setdefault(msg.partition, [msg.offset, msg.offset])
        span[0] = min(span[0], msg.offset)
        span[1] = max(span[1], msg.offset)
    fields: dict[str, Any] = {"topic": batch[0].msg.topic if batch else None, "offsets": spans}
    if len(batch) == 1:
        fields.update(partition=batch[0].msg.partition, offset=batch[0].msg.offset)
    return fields
