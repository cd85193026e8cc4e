"""Consumer-group report: members, assignment, lag per partition, and config drift.

Lag per partition is the Kafka high watermark minus the group's stored position in PostgreSQL
(``consumer_positions``: the projector's source of truth, written with the effects it covers).
Drift comes from the members' heartbeats (``consumer_members``) through the pure
:mod:`services.ops.drift`; computing a report sets the ``standings_consumer_config_drift_members``
gauge of the group.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Protocol, Self

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import TopicMetadata
from sqlalchemy.orm import Session

from services.core import metrics
from services.core.db import consumers as consumer_repo
from services.core.kafka.consumer import consumer_conf
from services.core.settings import ConsumerSettings, KafkaSettings, Settings
from services.ops import repository
from services.ops.drift import DriftReport, MemberRow, assess

# Heartbeats older than this many heartbeat intervals mark a member stale (crashed, not yet expired).
STALE_AFTER_HEARTBEATS = 3
MIN_TTL_S = 15.0


class Watermarks(Protocol):
    """Port: the partitions of a topic and their (low, high) watermarks."""

    def partitions(self, topic: str) -> list[int]: ...

    def watermarks(self, topic: str, partition: int) -> tuple[int, int]: ...


class KafkaWatermarks:
    """Watermarks from the brokers, through a consumer that never joins a group or commits."""

    group_prefix = "standings-ops"

    def __init__(self, kafka: KafkaSettings, timeout_s: float = 5.0) -> None:
        self._kafka = kafka
        self._timeout_s = timeout_s
        self._client: Consumer | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _conf(self) -> dict[str, Any]:
        group = f"{self.group_prefix}-{uuid.uuid4().hex[:12]}"  # never joined: no subscribe(), no commit
        return consumer_conf(self._kafka, group, ConsumerSettings())

    def _consumer(self) -> Consumer:
        if self._client is None:
            self._client = Consumer(self._conf())
        return self._client

    def _topic(self, topic: str) -> TopicMetadata | None:
        """The topic's metadata, None when the broker does not know it (KafkaException: unreachable)."""
        return self._consumer().list_topics(topic, timeout=self._timeout_s).topics.get(topic)

    def partitions(self, topic: str) -> list[int]:
        meta = self._topic(topic)
        if meta is None or meta.error is not None:
            raise KafkaException(meta.error if meta is not None else f"topic {topic} not found")
        return sorted(meta.partitions)

    def watermarks(self, topic: str, partition: int) -> tuple[int, int]:
        low, high = self._consumer().get_watermark_offsets(
            TopicPartition(topic, partition), timeout=self._timeout_s, cached=False
        )
        return int(low), int(high)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def kafka_watermarks(kafka: KafkaSettings, timeout_s: float = 5.0) -> KafkaWatermarks:
    """Watermarks to use in a ``with`` block (the consumer is closed at its end)."""
    return KafkaWatermarks(kafka, timeout_s)


@dataclass(frozen=True, slots=True)
class PartitionLag:
    partition: int
    next_offset: int | None  # the group's stored position (None: never consumed)
    high_watermark: int | None
    lag: int | None  # None when the watermark could not be read
    owner: str | None  # member_id of the live member that reports it as assigned


@dataclass(frozen=True, slots=True)
class GroupReport:
    group: str
    topic: str
    generated_at: dt.datetime
    ttl_s: float
    drift: DriftReport
    partitions: tuple[PartitionLag, ...]
    kafka_error: str | None = None

    @property
    def total_lag(self) -> int | None:
        lags = [p.lag for p in self.partitions]
        return None if not lags or any(lag is None for lag in lags) else sum(lag for lag in lags if lag is not None)

    def member_lag(self, member: MemberRow) -> int | None:
        """Lag over the member's assigned partitions (computed; else the member's own last report)."""
        by_partition = {p.partition: p.lag for p in self.partitions}
        lags = [by_partition.get(p) for p in member.assigned]
        if lags and all(lag is not None for lag in lags):
            return sum(lag for lag in lags if lag is not None)
        if member.lag:
            return sum(member.lag.get(p, 0) for p in member.assigned)
        return None if member.assigned else 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (API body, ``standings consumers --json``)."""
        return {
            "group": self.group,
            "topic": self.topic,
            "generated_at": self.generated_at.isoformat(),
            "ttl_s": self.ttl_s,
            "expected_fingerprint": self.drift.expected_fingerprint,
            "expected_config": dict(self.drift.expected_config),
            "drifted_members": self.drift.drifted,
            "split": self.drift.split,
            "total_lag": self.total_lag,
            "kafka_error": self.kafka_error,
            "members": [
                {
                    "member_id": v.member.member_id,
                    "host": v.member.host,
                    "pid": v.member.pid,
                    "assigned": list(v.member.assigned),
                    "lag": self.member_lag(v.member),
                    "fingerprint": v.member.fingerprint,
                    "config": dict(v.member.config),
                    "heartbeat_at": v.member.heartbeat_at.isoformat(),
                    "drift": v.drifted,
                    "differences": {k: {"member": a, "expected": b} for k, (a, b) in v.differences.items()},
                }
                for v in self.drift.members
            ],
            "stale_members": [
                {
                    "member_id": m.member_id,
                    "host": m.host,
                    "pid": m.pid,
                    "fingerprint": m.fingerprint,
                    "heartbeat_at": m.heartbeat_at.isoformat(),
                }
                for m in self.drift.stale
            ],
            "partitions": [
                {
                    "partition": p.partition,
                    "next_offset": p.next_offset,
                    "high_watermark": p.high_watermark,
                    "lag": p.lag,
                    "owner": p.owner,
                }
                for p in self.partitions
            ],
        }


def default_ttl_s(settings: Settings) -> float:
    return max(MIN_TTL_S, STALE_AFTER_HEARTBEATS * settings.projector.member_heartbeat_s)


def load_members(session: Session, group: str) -> list[MemberRow]:
    return [
        MemberRow(
            member_id=m.member_id,
            fingerprint=m.fingerprint,
            config=dict(m.config or {}),
            heartbeat_at=m.heartbeat_at,
            host=m.host,
            pid=m.pid,
            assigned=tuple(sorted(m.assigned or ())),
            lag=consumer_repo.lag_by_partition(m.lag),
        )
        for m in consumer_repo.list_members(session, group)
    ]


def assess_group(session: Session, group: str, ttl_s: float) -> DriftReport:
    """Drift of ``group`` judged on the database clock; sets the CONFIG_DRIFT gauge."""
    report = assess(group, load_members(session, group), repository.db_now(session), dt.timedelta(seconds=ttl_s))
    metrics.CONFIG_DRIFT.labels(group).set(report.drifted)
    return report


def group_report(
    session: Session,
    group: str,
    topic: str,
    ttl_s: float,
    watermarks: Watermarks | None,
) -> GroupReport:
    """Members, drift and per-partition lag of ``group`` on ``topic`` (no lag without ``watermarks``)."""
    drift = assess_group(session, group, ttl_s)
    owners = {p: v.member.member_id for v in drift.members for p in v.member.assigned}
    kafka_error: str | None = None
    partitions: list[int] = []
    marks: dict[int, tuple[int, int]] = {}
    if watermarks is not None:
        try:
            partitions = watermarks.partitions(topic)
            marks = {p: watermarks.watermarks(topic, p) for p in partitions}
        except KafkaException as exc:
            kafka_error = str(exc)
    positions = repository.group_positions(session, group, topic)
    partitions = sorted(set(partitions) | set(positions) | set(owners))
    rows = []
    for p in partitions:
        position = positions.get(p)
        low_high = marks.get(p)
        lag: int | None = None
        if low_high is not None:
            low, high = low_high
            # A member that never consumed starts at the log start (auto.offset.reset=earliest).
            # tansu under-reports the high watermark: clamp at 0 rather than report a negative lag.
            lag = max(0, high - (position if position is not None else low))
        rows.append(PartitionLag(p, position, low_high[1] if low_high else None, lag, owners.get(p)))
    return GroupReport(
        group=group,
        topic=topic,
        generated_at=repository.db_now(session),
        ttl_s=ttl_s,
        drift=drift,
        partitions=tuple(rows),
        kafka_error=kafka_error,
    )
