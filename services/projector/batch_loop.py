"""The projector's consumer loop itself: consume a batch, apply it on the DB worker, commit offsets.

Guarantees (SPEC §6, docs/projector.md):

- one PostgreSQL transaction per batch holds the effects *and* the partitions' next offsets; the
  Kafka offset commit (synchronous) happens only after it committed. On assignment the partitions
  are positioned from ``consumer_positions``: PostgreSQL is the source of truth (:mod:`.rebalance`).
- the DB work runs on a worker thread. This thread waits on its future in slices of
  ``POLL_TIMEOUT_S`` and turns the consumer in between: the next batch is read ahead, and a batch
  still running after ``pause_after_s`` pauses all owned partitions (:mod:`.pausing`), so a slow
  batch never exceeds ``max.poll.interval.ms`` and never starts a rebalance loop.
- a revocation while a batch is in flight waits (bounded) for it and commits what PG committed.
- a batch that would move a position past offsets it lacks (an offset gap, :mod:`.gaps`) writes
  nothing and is read again from the stored offset at once.
- a failed batch commits nothing to Kafka: the partitions are paused and rewound to the batch start,
  readiness fails, and what happens next is :mod:`.failure_policy`'s decision (retry after backoff,
  after a database probe, isolation, dead letter, systemic).
- a stop (SIGTERM, :meth:`ProjectorLoop.stop <services.projector.loop.ProjectorLoop.stop>`): the in-flight batch finishes (or is abandoned after
  ``shutdown_grace_s`` and rolls back), its offsets are committed, the consumer leaves the group.
  Every backoff waits on the stop event, so a stop is honoured within ``POLL_TIMEOUT_S`` there.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy.exc
from confluent_kafka import KafkaException, TopicPartition

from services.core import metrics
from services.core.logging import get_logger
from services.core.planning.batch import Decoded, OffsetGap
from services.projector.failure_policy import Action, Decision, FailurePolicy, Position, is_transient
from services.projector.gaps import GapGuard, GapVerdict
from services.projector.members import MemberReporter
from services.projector.pausing import Pauser, first_offsets
from services.projector.readahead import ReadAhead
from services.projector.rebalance import Rebalancer
from services.projector.service import BatchOutcome, OffsetGapError
from services.projector.wiring import Wiring
from services.projector.worker import Worker

log = get_logger(__name__)

T = TypeVar("T")

# Longest wait on a future or the stop event before the consumer is turned again.
POLL_TIMEOUT_S = 0.1
# Longest wait for a partition's low watermark when an offset gap is checked.
WATERMARK_TIMEOUT_S = 2.0


class _Abandoned(Exception):
    """Shutdown grace expired while a call was in flight on the worker: it is left to roll back."""


@dataclass(slots=True)
class _Inflight:
    batch: Sequence[Decoded]
    future: futures.Future[BatchOutcome]
    kafka_committed: bool = False


class BatchLoop:
    """One run of the loop, from creating the consumer to closing it (``run`` returns after ``stop``)."""

    def __init__(self, w: Wiring) -> None:
        ps, cs = w.settings.projector, w.settings.projector.consumer
        self._ps = ps
        self._w = w
        self._topic = w.settings.kafka.topic
        self._group = ps.group_id
        self._stop = w.stop
        self._health = w.health
        self._assigned = w.assigned
        self._policy = FailurePolicy(max_backoff_s=ps.retry_max_backoff_s)
        self._gaps = GapGuard()
        self._inflight: _Inflight | None = None
        self._revoke_wait_s = cs.max_poll_interval_ms / 2000
        rebalance = Rebalancer(
            self._topic,
            self._group,
            cooperative=w.cooperative,
            assigned=w.assigned,
            rebalances=w.rebalances,
            listener=self,
        )
        self._consumer = w.consumer_factory(
            w.settings.kafka,
            self._group,
            cs,
            on_assign=rebalance.on_assign,
            on_revoke=rebalance.on_revoke,
            on_lost=rebalance.on_lost,
        )
        self._reader = ReadAhead(
            self._consumer, w.assigned, batch_size=cs.batch_size, batch_timeout_s=cs.batch_timeout_s
        )
        self._pauser = Pauser(
            self._consumer,
            self._topic,
            self._group,
            w.assigned,
            pause_after_s=ps.pause_after_s,
            max_poll_interval_ms=cs.max_poll_interval_ms,
        )
        self._members = MemberReporter(
            self._consumer,
            w.store,
            group=self._group,
            topic=self._topic,
            assigned=w.assigned,
            fingerprint=w.fingerprint,
            config=w.config,
            heartbeat_s=ps.member_heartbeat_s,
            lag_interval_s=ps.lag_interval_s,
        )
        self._worker = Worker("projector-db")

    def run(self) -> None:
        try:
            self._w.dlq.warm_up()
            metrics.CONSUMER_PAUSED.labels(self._group).set(0)
            self._health.running = True
            self._health.reason = "ok"
            log.info(
                "projector_started",
                group=self._group,
                topic=self._topic,
                fingerprint=self._w.fingerprint,
                config=self._w.config,
            )
            while not self._stop.is_set():
                self._tick()
                batch = self._reader.next_batch(one_at_a_time=self._policy.isolating)
                if batch:
                    self._process(batch)
        finally:
            self._shutdown()

    # -- one batch ---------------------------------------------------------------------------

    def _process(self, batch: Sequence[Decoded]) -> None:
        """Apply ``batch`` on the worker (one PG transaction), then commit its offsets to Kafka."""
        started = time.perf_counter()
        inflight = _Inflight(batch, self._worker.submit(self._w.applier.apply, batch))
        self._inflight = inflight
        try:
            self._wait(inflight.future, grace_s=self._ps.shutdown_grace_s, read_ahead=True)
        except _Abandoned:
            self._inflight = None
            log.warning("batch_abandoned_on_shutdown", messages=len(batch), **batch_fields(batch))
            return
        except OffsetGapError as gap:
            self._inflight = None
            self._reread(batch, gap.gaps)
            return
        except Exception as exc:
            self._inflight = None
            self._failed(batch, exc)
            return
        if self._w.after_db_commit is not None:
            self._w.after_db_commit(batch)
        self._commit_inflight(inflight)
        self._inflight = None
        self._succeeded(self._policy.on_success(_positions(batch)))
        metrics.BATCH_SIZE.observe(len(batch))
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)

    def _wait(self, future: futures.Future[T], *, grace_s: float, read_ahead: bool) -> T:
        """``future``'s result, waited for in slices of ``POLL_TIMEOUT_S`` with the consumer turned
        in between (heartbeats, rebalance callbacks; the next batch read ahead when ``read_ahead``).
        A call slower than ``pause_after_s`` pauses the partitions, resumed when it ends. After a
        stop the call gets ``grace_s`` more, then it is abandoned (what it left open rolls back)."""
        started = time.monotonic()
        stop_seen: float | None = None
        paused_here = False
        if read_ahead:
            self._reader.read_ahead()  # what is fetched already is decoded while the worker runs
        try:
            while not futures.wait([future], timeout=POLL_TIMEOUT_S).done:
                now = time.monotonic()
                if self._stop.is_set():
                    stop_seen = now if stop_seen is None else stop_seen
                    if now - stop_seen >= grace_s:
                        raise _Abandoned()
                paused_here = self._pauser.pause_if_slow(started, now) or paused_here
                self._serve(read_ahead=read_ahead and not self._pauser.pausing and not self._stop.is_set())
        finally:
            if paused_here:
                self._pauser.resume_all()
        return future.result()

    def _serve(self, *, read_ahead: bool) -> None:
        """One turn of the consumer between waits (never blocking)."""
        self._tick()
        if read_ahead:
            self._reader.read_ahead()
        else:
            self._reader.poll()

    def _tick(self) -> None:
        now = time.monotonic()
        self._health.last_tick = now
        self._members.tick(now)

    def _commit_inflight(self, inflight: _Inflight) -> None:
        if not inflight.kafka_committed:
            inflight.kafka_committed = True
            self._commit(_next_offsets(inflight.batch))

    def _commit(self, next_offsets: Mapping[int, int]) -> None:
        """Synchronous Kafka commit of offsets PG has committed (informational: PG is the truth)."""
        offsets = [TopicPartition(self._topic, p, o) for p, o in next_offsets.items() if p in self._assigned]
        if not offsets:
            return
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # The positions are in PG already; the next owner seeks from there.
            log.warning("kafka_commit_failed", error=str(exc), offsets={tp.partition: tp.offset for tp in offsets})

    def _succeeded(self, isolation_finished: Sequence[Position]) -> None:
        if not self._health.db_ok:
            log.info("projector_recovered")
        self._health.db_ok = True
        self._health.reason = "ok"
        for partition, offset in isolation_finished:
            log.info("isolation_finished", topic=self._topic, partition=partition, offset=offset)

    # -- failures ----------------------------------------------------------------------------

    def _failed(self, batch: Sequence[Decoded], exc: Exception) -> None:
        decision = self._policy.on_failure(_positions(batch), transient=is_transient(exc))
        self._health.db_ok = False
        self._health.reason = f"{type(exc).__name__}: {_first_line(exc)}"[:300]
        log.error(
            "batch_failed",
            error=self._health.reason,
            transient=decision.transient,
            attempt=decision.attempt,
            messages=len(batch),
            **batch_fields(batch),
            exc_info=exc if not decision.transient else False,
        )
        if decision.action is Action.DEAD_LETTER:
            self._dead_letter_alone(batch[0], exc)
            return
        if decision.action is Action.SYSTEMIC:
            # Message after message fails alone: a bug or a broken dependency, not poison.
            log.error("systemic_failure_not_dead_lettering", dead_lettered_in_a_row=self._policy.dead_lettered_in_a_row)
        self._rewind(batch)
        if decision.isolation is not None:
            log.warning("isolation_started", partitions=dict(decision.isolation))
        self._recover(decision)

    def _rewind(self, batch: Sequence[Decoded], stored: Sequence[Position] = ()) -> None:
        """Seek the batch's partitions (and those of messages read ahead after it) back to the first
        offset PG has not committed (a ``stored`` offset, where that lies below the batch), so
        resuming re-reads them: no loss, no skip."""
        read_ahead = self._reader.take_all()
        self._pauser.rewind(first_offsets([*_positions([*batch, *read_ahead]), *stored]))

    def _reread(self, batch: Sequence[Decoded], gaps: Sequence[OffsetGap]) -> None:
        """The batch would have skipped messages (nothing of it was written): read again from the
        stored offsets, or apply across a gap that is Kafka's own (:mod:`.gaps`). No backoff."""
        stored: list[Position] = []
        for gap in gaps:
            partition = gap.tp[1]
            verdict = self._gaps.decide(gap, self._low_watermark(partition))
            metrics.OFFSET_GAPS.labels(self._group, verdict.value).inc()
            fields = {"topic": gap.tp[0], "partition": partition, "expected": gap.expected, "first": gap.first}
            if verdict is GapVerdict.REREAD:
                stored.append((partition, gap.expected))
                log.warning("offset_gap_rereading", sightings=self._gaps.sightings(gap), **fields)
            else:
                self._w.applier.accept_gap(gap)
                log.error("offset_gap_accepted", reason=verdict.value, **fields)
        self._rewind(batch, stored)
        self._pauser.resume_all()

    def _low_watermark(self, partition: int) -> int | None:
        try:
            low, _high = self._consumer.get_watermark_offsets(
                TopicPartition(self._topic, partition), timeout=WATERMARK_TIMEOUT_S, cached=False
            )
        except (KafkaException, RuntimeError) as exc:
            log.warning("low_watermark_unavailable", partition=partition, error=str(exc))
            return None
        return int(low)

    def _recover(self, decision: Decision) -> None:
        """Back off with the partitions paused: ``backoff_s``, or until PostgreSQL answers again."""
        self._pauser.pause_all()
        try:
            if decision.backoff_s is None:
                self._wait_for_database()
            else:
                self._back_off(decision.backoff_s)
        finally:
            self._pauser.resume_all()

    def _wait_for_database(self) -> None:
        """Probe PostgreSQL until it answers, backing off (exponentially) between probes; a stop ends it."""
        attempt = 0
        while not self._stop.is_set():
            attempt += 1
            try:
                self._wait(self._worker.submit(self._w.store.ping), grace_s=0, read_ahead=False)
                return
            except _Abandoned:
                break
            except Exception as exc:
                if not is_transient(exc):
                    log.warning("recovery_wait_stopped", error=_first_line(exc))
                    return
                delay = self._policy.probe_backoff_s(attempt)
                log.warning("waiting_for_database", attempt=attempt, sleep_s=round(delay, 2), error=_first_line(exc))
                self._back_off(delay)
        log.warning("recovery_wait_stopped", attempts=attempt, reason="stopping")

    def _back_off(self, seconds: float) -> None:
        """Wait ``seconds`` on the stop event (so a stop ends it at once), turning the consumer meanwhile."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self._stop.wait(min(POLL_TIMEOUT_S, left)):
                return
            self._serve(read_ahead=False)

    def _dead_letter_alone(self, item: Decoded, exc: Exception) -> None:
        """Isolation: ``item`` failed on its own. Dead-letter it as ``processing_error`` and move its
        position past it (one small transaction), then commit that offset to Kafka."""
        msg = item.msg
        call = self._worker.submit(self._w.applier.dead_letter_alone, msg, exc)
        try:
            self._wait(call, grace_s=self._ps.shutdown_grace_s, read_ahead=False)
        except _Abandoned:
            log.warning("batch_abandoned_on_shutdown", messages=1, **batch_fields([item]))
            return
        except Exception as dlq_exc:
            log.error("dead_letter_alone_failed", error=str(dlq_exc), partition=msg.partition, offset=msg.offset)
            self._rewind([item])
            self._recover(self._policy.on_dead_letter_failure(transient=is_transient(dlq_exc)))
            return
        self._commit(_next_offsets([item]))
        self._succeeded(self._policy.on_dead_lettered((msg.partition, msg.offset)))

    # -- rebalance listener (called by the callbacks, inside poll/consume on this thread) -------

    def stored_positions(self, partitions: list[int]) -> dict[int, int] | None:
        try:
            return self._w.store.load_positions(partitions)
        except sqlalchemy.exc.SQLAlchemyError as exc:
            log.warning("positions_unavailable_using_kafka_offsets", error=_first_line(exc))
            self._health.db_ok = False
            self._health.reason = "positions unavailable"
            return None

    def partitions_assigned(self, partitions: list[int]) -> None:
        self._pauser.on_assigned(partitions)
        self._members.report_soon()

    def before_revoke(self) -> None:
        inflight = self._inflight
        if inflight is None:
            return
        try:
            inflight.future.result(timeout=self._revoke_wait_s)
        except futures.TimeoutError:
            log.warning("revoked_with_batch_in_flight", waited_s=self._revoke_wait_s)
            return
        except Exception:
            return  # failed: nothing committed in PG; the loop rewinds what it still owns
        self._commit_inflight(inflight)

    def partitions_dropped(self, partitions: set[int]) -> None:
        self._pauser.forget(partitions)
        self._reader.drop(partitions)
        self._policy.forget(partitions)
        self._members.forget(partitions)

    # -- shutdown ----------------------------------------------------------------------------

    def _shutdown(self) -> None:
        self._health.running = False
        self._health.reason = "stopping"
        self._inflight = None
        self._members.close()
        try:
            self._consumer.close()  # leaves the group (runs on_revoke first)
        except (KafkaException, RuntimeError) as exc:
            log.warning("consumer_close_failed", error=str(exc))
        self._w.dlq.close()
        self._worker.stop()
        metrics.CONSUMER_PAUSED.labels(self._group).set(0)
        log.info("projector_stopped", group=self._group)


def batch_fields(batch: Sequence[Decoded]) -> dict[str, Any]:
    """Structured log fields naming a batch: topic and first/last offset per partition."""
    spans: dict[int, list[int]] = {}
    for msg in (d.msg for d in batch):
        span = spans.setdefault(msg.partition, [msg.offset, msg.offset])
        span[0] = min(span[0], msg.offset)
        span[1] = max(span[1], msg.offset)
    fields: dict[str, Any] = {"topic": batch[0].msg.topic if batch else None, "offsets": spans}
    if len(batch) == 1:
        fields.update(partition=batch[0].msg.partition, offset=batch[0].msg.offset)
    return fields


def _positions(batch: Sequence[Decoded]) -> list[Position]:
    return [(d.msg.partition, d.msg.offset) for d in batch]


def _next_offsets(batch: Sequence[Decoded]) -> dict[int, int]:
    offsets: dict[int, int] = {}
    for d in batch:
        offsets[d.msg.partition] = max(offsets.get(d.msg.partition, 0), d.msg.offset + 1)
    return offsets


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else ""
