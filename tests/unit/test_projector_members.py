"""Member reporter on a fake consumer and store: heartbeats, lag, fingerprint, removal on close."""

from __future__ import annotations

import threading

import sqlalchemy.exc
from confluent_kafka import KafkaException, TopicPartition
from prometheus_client import REGISTRY

from services.projector.members import MemberReporter, config_fingerprint
from services.projector.store import MemberReport

TOPIC = "match-events"
GROUP = "members-test"


class FakeConsumer:
    def __init__(self) -> None:
        self.member = "member-1"
        self.positions = {0: 10, 1: 3}
        self.high = {0: 15, 1: 2}
        self.fail_position = False

    def memberid(self) -> str:
        return self.member

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        if self.fail_position:
            raise KafkaException("not assigned")
        return [TopicPartition(TOPIC, tp.partition, self.positions[tp.partition]) for tp in partitions]

    def get_watermark_offsets(
        self, partition: TopicPartition, timeout: float = -1, cached: bool = False
    ) -> tuple[int, int]:
        assert cached  # never a network call from the poll loop
        return 0, self.high[partition.partition]


class FakeStore:
    def __init__(self) -> None:
        self.saved: list[tuple[MemberReport, str | None]] = []
        self.deleted: list[str] = []
        self.fail = False
        self.wrote = threading.Event()

    def save_member(self, report: MemberReport, previous: str | None) -> None:
        if self.fail:
            raise sqlalchemy.exc.OperationalError("upsert", {}, Exception("down"))
        self.saved.append((report, previous))
        self.wrote.set()

    def delete_member(self, member_id: str) -> None:
        if self.fail:
            raise sqlalchemy.exc.OperationalError("delete", {}, Exception("down"))
        self.deleted.append(member_id)


def reporter(assigned: set[int]) -> tuple[MemberReporter, FakeConsumer, FakeStore]:
    consumer, store = FakeConsumer(), FakeStore()
    r = MemberReporter(
        consumer,
        store,  # type: ignore[arg-type]
        group=GROUP,
        topic=TOPIC,
        assigned=assigned,
        fingerprint="fp",
        config={"batch_size": "10"},
        heartbeat_s=5.0,
        lag_interval_s=5.0,
    )
    return r, consumer, store


def heartbeat(r: MemberReporter, store: FakeStore, now: float) -> MemberReport:
    store.wrote.clear()
    r.tick(now)
    assert store.wrote.wait(5), "no heartbeat written"
    return store.saved[-1][0]


def test_a_heartbeat_reports_assignment_lag_and_fingerprint() -> None:
    r, _, store = reporter({0, 1})
    report = heartbeat(r, store, now=100.0)
    assert report.member_id == "member-1"
    assert list(report.assigned) == [0, 1]
    assert dict(report.lag) == {"0": 5, "1": 0}  # tansu's low high watermark is clamped at 0
    assert report.fingerprint == "fp" and dict(report.config) == {"batch_size": "10"}
    assert REGISTRY.get_sample_value("standings_consumer_lag_messages", {"group": GROUP, "partition": "0"}) == 5
    r.close()


def test_heartbeats_follow_their_interval_or_an_assignment_change() -> None:
    r, _, store = reporter({0})
    heartbeat(r, store, now=100.0)
    r.tick(101.0)  # not due
    r.report_soon()
    heartbeat(r, store, now=101.5)
    assert len(store.saved) == 2
    r.close()


def test_a_new_member_id_replaces_the_old_row() -> None:
    r, consumer, store = reporter({0})
    heartbeat(r, store, now=100.0)
    consumer.member = "member-2"
    r.report_soon()
    heartbeat(r, store, now=100.1)
    assert store.saved[-1][1] == "member-1"
    r.close()
    assert store.deleted == ["member-2"]


def test_forgotten_partitions_leave_the_lag_report() -> None:
    r, _, store = reporter({0, 1})
    heartbeat(r, store, now=100.0)
    r.forget([0])
    assert r.lag == {"1": 0}
    assert REGISTRY.get_sample_value("standings_consumer_lag_messages", {"group": GROUP, "partition": "0"}) is None
    r.close()


def test_database_errors_are_logged_not_raised() -> None:
    r, consumer, store = reporter({0})
    consumer.fail_position = True
    store.fail = True
    r.tick(100.0)  # lag unavailable, heartbeat fails on the side thread
    r.close()  # waits for it, then the delete fails too: nothing raised
    assert store.saved == [] and store.deleted == []


def test_the_fingerprint_covers_consumer_knobs_batch_size_and_ruleset() -> None:
    conf = {"max.poll.interval.ms": 6000, "session.timeout.ms": 6000, "partition.assignment.strategy": "x"}
    fp, config = config_fingerprint(conf, batch_size=500, ruleset="combat-default")
    assert config["max.poll.interval.ms"] == "6000" and config["batch_size"] == "500"
    assert config["ruleset"] == "combat-default" and "ruleset_version" in config
    other, _ = config_fingerprint(conf, batch_size=501, ruleset="combat-default")
    assert fp != other
