"""This member's ``consumer_members`` row and the lag gauge.

Every ``member_heartbeat_s`` the member upserts its row: member id, host, pid, assigned partitions,
lag per partition and the fingerprint of its effective config, compared across members to detect
drift. The write runs on a side thread, so a slow database never delays a poll. Lag comes from
cached watermarks (no network); tansu reports the base offset of the last batch as its high
watermark, so lag there reads low (clamped at 0).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Set
from concurrent.futures import Future
from typing import Any, Protocol

import sqlalchemy.exc
from confluent_kafka import KafkaException, TopicPartition

from services.core import metrics
from services.core.domain.ruleset import get_ruleset
from services.core.kafka.consumer import effective_config_fingerprint
from services.core.logging import get_logger
from services.core.settings import APP_VERSION
from services.projector.store import GroupStore, MemberReport
from services.projector.worker import Worker

log = get_logger(__name__)


class MemberSource(Protocol):
    """The consumer calls the member reporter makes (none of them waits on the network)."""

    def memberid(self) -> str: ...
    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]: ...
    def get_watermark_offsets(
        self, partition: TopicPartition, timeout: float = -1, cached: bool = False
    ) -> tuple[int, int]: ...


def config_fingerprint(conf: Mapping[str, Any], *, batch_size: int, ruleset: str) -> tuple[str, dict[str, Any]]:
    """(fingerprint, the config it covers): the consumer knobs plus what changes a batch's effects."""
    rules = get_ruleset(ruleset)
    extra = {
        "batch_size": batch_size,
        "app_version": APP_VERSION,
        "ruleset": rules.name,
        "ruleset_version": rules.version,
    }
    return effective_config_fingerprint(conf, extra)


class MemberReporter:
    """Heartbeats and lag, driven by :meth:`tick` from the poll loop (``assigned``: the loop's live set)."""

    def __init__(
        self,
        consumer: MemberSource,
        store: GroupStore,
        *,
        group: str,
        topic: str,
        assigned: Set[int],
        fingerprint: str,
        config: Mapping[str, Any],
        heartbeat_s: float,
        lag_interval_s: float,
    ) -> None:
        self._consumer = consumer
        self._store = store
        self._group = group
        self._topic = topic
        self._assigned = assigned
        self._fingerprint = fingerprint
        self._config = dict(config)
        self._heartbeat_s = heartbeat_s
        self._lag_interval_s = lag_interval_s
        self._worker = Worker("projector-member")
        self._pending: Future[None] | None = None
        self._member_id: str | None = None
        self._next_heartbeat = 0.0
        self._next_lag = 0.0
        self.lag: dict[str, int] = {}

    def tick(self, now: float) -> None:
        """Update the lag and send a heartbeat when they are due (``now``: monotonic)."""
        if now >= self._next_lag:
            self._next_lag = now + self._lag_interval_s
            self._update_lag()
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + self._heartbeat_s
            self._report()

    def report_soon(self) -> None:
        """The assignment changed: heartbeat on the next tick."""
        self._next_heartbeat = 0.0

    def forget(self, partitions: Iterable[int]) -> None:
        """Partitions revoked or lost: no lag of ours to report for them."""
        for p in partitions:
            self.lag.pop(str(p), None)
            with contextlib.suppress(KeyError):
                metrics.CONSUMER_LAG.remove(self._group, str(p))
        self.report_soon()

    def close(self, timeout_s: float = 5.0) -> None:
        """Wait (bounded) for a heartbeat in flight, delete this member's row, stop the side thread."""
        if self._pending is not None:
            with contextlib.suppress(Exception):  # best effort: its failure is logged by itself
                self._pending.result(timeout=timeout_s)
        self._worker.stop()
        if self._member_id:
            try:
                self._store.delete_member(self._member_id)
            except sqlalchemy.exc.SQLAlchemyError as exc:
                log.warning("member_delete_failed", error=str(exc).splitlines()[0])

    def _update_lag(self) -> None:
        if not self._assigned:
            return
        try:
            positions = self._consumer.position([TopicPartition(self._topic, p) for p in sorted(self._assigned)])
        except KafkaException:
            return
        for tp in positions:
            try:
                watermarks = self._consumer.get_watermark_offsets(
                    TopicPartition(self._topic, tp.partition), cached=True
                )
            except KafkaException:
                continue
            if not watermarks or tp.offset < 0 or watermarks[1] < 0:
                continue
            lag = max(0, watermarks[1] - tp.offset)
            self.lag[str(tp.partition)] = lag
            metrics.CONSUMER_LAG.labels(self._group, str(tp.partition)).set(lag)

    def _report(self) -> None:
        """Queue a heartbeat unless one is still in flight or the member has no id yet."""
        if self._pending is not None and not self._pending.done():
            return
        try:
            member_id = self._consumer.memberid()
        except RuntimeError:
            return
        if not member_id:
            return
        previous, self._member_id = self._member_id, member_id
        report = MemberReport(member_id, sorted(self._assigned), dict(self.lag), self._fingerprint, self._config)
        self._pending = self._worker.submit(self._write, report, previous)

    def _write(self, report: MemberReport, previous: str | None) -> None:
        try:
            self._store.save_member(report, previous)
        except sqlalchemy.exc.SQLAlchemyError as exc:
            log.warning("member_heartbeat_failed", error=str(exc).splitlines()[0])
