"""Consumer factory and the effective-config fingerprint compared across group members.

Every member derives its librdkafka config from :meth:`KafkaSettings.consumer_config`; the
fingerprint covers the knobs whose disagreement between members causes rebalance storms
(``max.poll.interval.ms``, ``session.timeout.ms``, the assignment strategy) plus what makes two
members produce different effects (batch size, app version, ruleset version).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from services.core.settings import ConsumerSettings, KafkaSettings

RebalanceCallback = Callable[[Consumer, list[TopicPartition]], None]

FINGERPRINT_KEYS = ("max.poll.interval.ms", "session.timeout.ms", "partition.assignment.strategy")


def consumer_conf(kafka: KafkaSettings, group_id: str, consumer: ConsumerSettings) -> dict[str, Any]:
    """The librdkafka dict: the shared consumer config (manual commits, short fetch wait)."""
    conf = kafka.consumer_config(group_id, consumer)
    conf.setdefault("enable.partition.eof", False)
    # Reconnect quickly after a broker restart (the default backoff grows to 10 s).
    conf.setdefault("reconnect.backoff.max.ms", 1000)
    return conf


def make_consumer(
    kafka: KafkaSettings,
    group_id: str,
    consumer: ConsumerSettings,
    *,
    on_assign: RebalanceCallback,
    on_revoke: RebalanceCallback,
    on_lost: RebalanceCallback,
    topics: Sequence[str] | None = None,
) -> Consumer:
    """A consumer subscribed to ``topics`` (default: the match-events topic).

    librdkafka connects in the background; no call here waits on the network. The rebalance
    callbacks run inside ``poll``/``consume`` on the calling thread.
    """
    client = Consumer(consumer_conf(kafka, group_id, consumer))
    client.subscribe(list(topics or [kafka.topic]), on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
    return client


def is_cooperative(conf: Mapping[str, Any]) -> bool:
    """True when the assignment strategy is incremental (assign/unassign deltas, not full sets)."""
    return str(conf.get("partition.assignment.strategy", "")).strip() == "cooperative-sticky"


def effective_config_fingerprint(conf: Mapping[str, Any], extra: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(sha256 hex, the config subset it covers) for drift detection between group members.

    ``extra`` carries what is not a librdkafka property: batch size, ``APP_VERSION``, ruleset
    name and version. Values are compared as strings so ``6000`` and ``"6000"`` agree.
    """
    subset: dict[str, Any] = {key: str(conf[key]) for key in FINGERPRINT_KEYS if key in conf}
    subset.update({key: str(value) for key, value in extra.items()})
    canonical = json.dumps(subset, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest(), subset
