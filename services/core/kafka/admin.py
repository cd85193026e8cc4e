"""Topic administration: create ``match-events`` and its DLQ, idempotently.

Run by ``standings migrate`` and the compose topic job, never by a service at startup, so a
misconfigured cluster fails loudly in one place instead of being papered over by auto-create.
"""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from services.core.logging import get_logger
from services.core.settings import KafkaSettings

log = get_logger(__name__)


class TopicSetupError(RuntimeError):
    """The topics could not be listed or created; the message says which and why."""


def ensure_topics(kafka: KafkaSettings, timeout: float = 10.0) -> list[str]:
    """Create the event topic and the DLQ when missing; return the names created.

    An existing topic is left alone (its partition count is an ops decision); a count that
    differs from the settings is logged, not "fixed".
    """
    admin = AdminClient(kafka.common_config())
    wanted = {kafka.topic: kafka.partitions, kafka.dlq_topic: kafka.partitions}
    try:
        existing = admin.list_topics(timeout=timeout).topics
    except KafkaException as exc:
        raise TopicSetupError(f"cannot reach Kafka at {kafka.bootstrap_servers}: {exc}") from exc

    missing = []
    for name, partitions in wanted.items():
        meta = existing.get(name)
        if meta is not None and meta.error is None:
            if len(meta.partitions) != partitions:
                log.warning("topic_partition_mismatch", topic=name, actual=len(meta.partitions), configured=partitions)
            continue
        missing.append(NewTopic(name, num_partitions=partitions, replication_factor=kafka.replication_factor))
    if not missing:
        return []

    futures = admin.create_topics(missing, operation_timeout=timeout, request_timeout=timeout)
    created: list[str] = []
    failures: list[str] = []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout)
            created.append(name)
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            if isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue  # created concurrently by another job: fine
            failures.append(f"{name}: {err or exc}")
        except Exception as exc:  # e.g. concurrent.futures.TimeoutError
            failures.append(f"{name}: {type(exc).__name__} {exc}")
    if failures:
        raise TopicSetupError(f"could not create topics on {kafka.bootstrap_servers}: " + "; ".join(sorted(failures)))
    log.info("topics_created", topics=sorted(created))
    return sorted(created)
