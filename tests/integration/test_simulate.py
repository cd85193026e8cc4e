"""The simulator against the real intake app and a real broker: every post accepted, events on the topic."""

from __future__ import annotations

import threading
import uuid
from collections import Counter

import pytest
from confluent_kafka import Consumer, TopicPartition
from sqlalchemy.orm import Session

from services.cli.simulate import simulate
from services.core.db.engine import make_engine
from services.core.db.tokens import create_token
from services.core.events import ResultRecorded, ResultVoided, decode
from services.core.settings import DatabaseSettings, KafkaSettings, Settings
from services.embedded.kafka_broker import TansuBroker, ensure_topics
from services.embedded.postgres import EmbeddedPostgres
from tests.read_api_helpers import UvicornThread, create_database, registration_doc, seed_registration

T = "sim-cup"


def test_simulator_posts_a_tournament_through_intake(pg: EmbeddedPostgres, kafka: TansuBroker) -> None:
    intake_app = pytest.importorskip("services.intake.app")
    topic = f"match-events-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        environment="test",
        log_json=False,
        database=DatabaseSettings(url=create_database(pg, "sim")),
        kafka=KafkaSettings(bootstrap_servers=kafka.bootstrap, topic=topic, partitions=2),
    )
    ensure_topics(kafka.bootstrap, {topic: 2})
    engine = make_engine(settings.database)
    seed_registration(engine, registration_doc(T, {"m-73kg": 5, "w-57kg": 4}))  # 10 + 6 bouts
    with Session(engine) as session, session.begin():
        _, token = create_token(session, "sim", "referee", [T], pepper=settings.token_pepper.get_secret_value())

    with UvicornThread(intake_app.create_app(settings, engine=engine)).running() as server:
        report = simulate(server.url, token, engine, 0, T, threading.Event(), seed=3, correction_rate=0.3)

    assert report.failures == 0 and report.conflicts == 0
    assert report.results == 16
    assert report.voids == 1
    assert report.corrections >= 2  # several revision-2 corrections plus the void's reinstatement
    assert len(report.accepted) == report.posted

    consumer = Consumer(
        {
            "bootstrap.servers": kafka.bootstrap,
            "group.id": f"sim-check-{uuid.uuid4().hex[:6]}",
            "enable.auto.commit": False,
        }
    )
    try:
        ends = {(a["partition"], a["offset"]) for a in report.accepted}
        consumer.assign([TopicPartition(topic, p, 0) for p in (0, 1)])
        events = []
        deadline_polls = 200
        while len(events) < report.posted and deadline_polls:
            deadline_polls -= 1
            msg = consumer.poll(0.1)
            if msg is not None and msg.error() is None:
                events.append((msg.partition(), msg.offset(), decode(msg.value())))
        assert {(p, o) for p, o, _ in events} == ends
        kinds = Counter(type(e).__name__ for _, _, e in events)
        assert kinds[ResultVoided.__name__] == 1
        assert kinds[ResultRecorded.__name__] == report.results + report.corrections
        # a division's events share one partition
        partitions = {(e.division_id, p) for p, _, e in events}
        assert len({d for d, _ in partitions}) == len(partitions)
    finally:
        consumer.close()
        engine.dispose()
