"""Topic creation for `standings migrate`: idempotent, and a clear error when Kafka is unreachable."""

from __future__ import annotations

import time

import pytest
from confluent_kafka.admin import AdminClient

from services.core.kafka.admin import TopicSetupError, ensure_topics
from services.core.settings import KafkaSettings
from services.embedded.kafka_broker import TansuBroker
from services.embedded.waiting import free_port
from tests.integration.intake_support import unique


def test_creates_the_topic_and_its_dlq_once(kafka: TansuBroker):
    topic = unique("admin-topic")
    settings = KafkaSettings(bootstrap_servers=kafka.bootstrap, topic=topic, dlq_topic=f"{topic}.dlq", partitions=4)

    assert ensure_topics(settings, timeout=15) == sorted([topic, f"{topic}.dlq"])
    assert ensure_topics(settings, timeout=15) == []

    metadata = AdminClient({"bootstrap.servers": kafka.bootstrap}).list_topics(timeout=10)
    assert len(metadata.topics[topic].partitions) == 4
    assert len(metadata.topics[f"{topic}.dlq"].partitions) == 4


def test_unreachable_kafka_is_a_clear_error():
    settings = KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}")
    started = time.monotonic()
    with pytest.raises(TopicSetupError, match="cannot reach Kafka"):
        ensure_topics(settings, timeout=1.0)
    assert time.monotonic() - started < 5
