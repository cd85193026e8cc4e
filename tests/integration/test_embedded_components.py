"""The embedded components, for real: PostgreSQL 18, tansu, librdkafka's mock cluster and osmem.

Every wait is bounded; kill/restart tests start their own instances so the session-wide ones stay intact.
"""

from __future__ import annotations

import asyncio
import json
import os
import selectors
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from elasticsearch import ApiError

from services.core.search.client import make_async_search_client, make_search_client
from services.core.settings import KafkaSettings, SearchSettings, Settings
from services.embedded.errors import ComponentStartError
from services.embedded.kafka_broker import MockCluster, TansuBroker, broker_ready, ensure_topics
from services.embedded.postgres import EmbeddedPostgres
from services.embedded.search_engine import OsmemEngine, search_ready
from services.embedded.stack import STATE_FILE, EmbeddedStack, ShutdownSignal, read_state, stop_from_state
from services.embedded.waiting import pid_alive, wait_for_exit, wait_until
from tests.conftest import TEST_CONSUMER

Record = tuple[int, int, bytes, bytes]  # partition, offset, key, value


def as_record(msg: Message) -> Record:
    partition, offset, key, value = msg.partition(), msg.offset(), msg.key(), msg.value()
    assert partition is not None and offset is not None and isinstance(key, bytes) and isinstance(value, bytes)
    return partition, offset, key, value


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def produce(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]], timeout: float = 15.0) -> list[Record]:
    """Produce with the project's (idempotent, acks=all) producer config; return the delivery reports."""
    producer = Producer(KafkaSettings(bootstrap_servers=bootstrap).producer_config())
    delivered: list[Record] = []
    errors: list[Any] = []

    def on_delivery(err: Any, msg: Any) -> None:
        if err is not None:
            errors.append(err)
        else:
            delivered.append(as_record(msg))

    for key, value in messages:
        producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
    remaining = producer.flush(timeout)
    assert remaining == 0, f"{remaining} messages not delivered within {timeout}s"
    assert not errors
    assert len(delivered) == len(messages)
    return delivered


def consume_group(bootstrap: str, topic: str, group: str, count: int, timeout: float = 30.0) -> list[Record]:
    """Consume ``count`` messages as a member of ``group`` (project consumer config), then commit."""
    consumer = Consumer(KafkaSettings(bootstrap_servers=bootstrap).consumer_config(group, TEST_CONSUMER))
    consumer.subscribe([topic])
    received: list[Record] = []
    try:

        def got_all() -> bool:
            for msg in consumer.consume(num_messages=500, timeout=0.2):
                if msg.error() is not None:
                    raise KafkaException(msg.error())
                received.append(as_record(msg))
            return len(received) >= count

        wait_until(got_all, timeout, f"{count} messages from {topic}", interval=0)
        last: dict[int, int] = {}
        for partition, offset, _, _ in received:
            last[partition] = max(last.get(partition, -1), offset)
        positions = [TopicPartition(topic, partition, offset + 1) for partition, offset in last.items()]
        consumer.commit(offsets=positions, asynchronous=False)  # explicit offsets, as the projector does
        committed = consumer.committed([TopicPartition(topic, p) for p in last], timeout=10)
    finally:
        consumer.close()
    assert {tp.partition: tp.offset for tp in committed} == {p: o + 1 for p, o in last.items()}
    return received


def consume_assigned(bootstrap: str, topic: str, partitions: list[int], count: int) -> list[Record]:
    """Read from explicit partitions without a group (no join delay)."""
    conf = KafkaSettings(bootstrap_servers=bootstrap).consumer_config(unique("assign"), TEST_CONSUMER)
    consumer = Consumer(conf)
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    received: list[Record] = []
    try:

        def got_all() -> bool:
            for msg in consumer.consume(num_messages=500, timeout=0.2):
                if msg.error() is None:
                    received.append(as_record(msg))
            return len(received) >= count

        wait_until(got_all, 20.0, f"{count} messages from {topic}", interval=0)
    finally:
        consumer.close()
    return received


# -- PostgreSQL ---------------------------------------------------------------------------------------


def test_postgres_accepts_queries(pg: EmbeddedPostgres) -> None:
    engine = sa.create_engine(pg.url)
    try:
        with engine.connect() as conn:
            version = conn.execute(sa.text("SHOW server_version")).scalar_one()
            database = conn.execute(sa.text("SELECT current_database()")).scalar_one()
    finally:
        engine.dispose()
    assert version.startswith("18")
    assert database == "standings"
    assert pg.admin_url.startswith("postgresql+psycopg://") and "/postgres?" in pg.admin_url


def test_postgres_kill_restart_keeps_committed_data(tmp_path: Path) -> None:
    server = EmbeddedPostgres.start(tmp_path / "data", stop_at_exit=False)
    try:
        url, old_pid = server.url, server.pid
        assert old_pid is not None
        with psycopg.connect(server.conninfo(), autocommit=True) as conn:
            conn.execute("CREATE TABLE bouts (id int PRIMARY KEY, winner text)")
            conn.execute("INSERT INTO bouts VALUES (1, 'red'), (2, 'blue')")

        server.kill()
        assert server.pid is None and not pid_alive(old_pid)
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(server.conninfo(), connect_timeout=2).close()

        server.restart()  # crash recovery
        assert server.url == url and server.pid not in (None, old_pid)
        with psycopg.connect(server.conninfo()) as conn:
            rows = conn.execute("SELECT id, winner FROM bouts ORDER BY id").fetchall()
        assert rows == [(1, "red"), (2, "blue")]
    finally:
        server.stop()
    assert server.pid is None
    server.stop()  # idempotent


# -- Kafka-protocol brokers ---------------------------------------------------------------------------


@pytest.fixture(params=["tansu", "mock"])
def broker(request: pytest.FixtureRequest) -> TansuBroker | MockCluster:
    """The session's tansu broker, then the mock cluster."""
    fixture = "kafka" if request.param == "tansu" else "mock_kafka"
    found: TansuBroker | MockCluster = request.getfixturevalue(fixture)
    return found


def test_produce_consume_with_group(broker: TansuBroker | MockCluster) -> None:
    """The same round trip on both brokers (the mock cluster cannot create topics: auto-create)."""
    topic = unique("t")
    bootstrap = broker.bootstrap
    if isinstance(broker, TansuBroker):
        ensure_topics(bootstrap, {topic: 3}, timeout=10)
    messages = [(f"k{i % 5}".encode(), json.dumps({"n": i, "name": "Zoë Müller-Łukasz"}).encode()) for i in range(200)]
    delivered = produce(bootstrap, topic, messages)
    received = consume_group(bootstrap, topic, unique("g"), len(messages))

    assert sorted(received) == sorted(delivered)  # same partitions, offsets, keys and values
    assert sorted(v for _, _, _, v in received) == sorted(v for _, v in messages)
    by_key: dict[bytes, set[int]] = {}
    for partition, _, key, _ in received:
        by_key.setdefault(key, set()).add(partition)
    assert all(len(partitions) == 1 for partitions in by_key.values())  # a key stays on one partition


def test_tansu_ensure_topics_is_idempotent(kafka: TansuBroker) -> None:
    topic = unique("t")
    ensure_topics(kafka.bootstrap, {topic: 3, f"{topic}.dlq": 1}, timeout=10)
    ensure_topics(kafka.bootstrap, {topic: 3}, timeout=10)  # TOPIC_ALREADY_EXISTS is fine
    metadata = AdminClient({"bootstrap.servers": kafka.bootstrap}).list_topics(timeout=5)
    assert len(metadata.topics[topic].partitions) == 3
    assert len(metadata.topics[f"{topic}.dlq"].partitions) == 1


def test_mock_cluster_auto_creates_four_partitions(mock_kafka: MockCluster) -> None:
    topic = unique("m")
    produce(mock_kafka.bootstrap, topic, [(b"k", b"v")])
    metadata = AdminClient({"bootstrap.servers": mock_kafka.bootstrap}).list_topics(topic, timeout=5)
    assert len(metadata.topics[topic].partitions) == 4


def test_tansu_kill_restart_same_port_loses_topics(tmp_path: Path) -> None:
    broker = TansuBroker.start(log_dir=tmp_path)
    try:
        bootstrap, old_pid = broker.bootstrap, broker.pid
        assert old_pid is not None
        topic = unique("t")
        ensure_topics(bootstrap, {topic: 2}, timeout=10)
        produce(bootstrap, topic, [(b"a", b"1")])

        broker.kill()
        assert broker.pid is None and not pid_alive(old_pid)
        assert not broker_ready(bootstrap, timeout=0.5)

        broker.restart()
        assert broker.bootstrap == bootstrap and broker.pid not in (None, old_pid)
        metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=5)
        assert topic not in metadata.topics  # memory storage: a restart starts empty

        ensure_topics(bootstrap, {topic: 2}, timeout=10)
        delivered = produce(bootstrap, topic, [(b"a", b"2"), (b"b", b"3")])
        received = consume_assigned(bootstrap, topic, [0, 1], 2)
        assert sorted(received) == sorted(delivered)
    finally:
        broker.stop()
    assert not pid_alive(old_pid)


def test_tansu_port_in_use_is_a_clear_start_error(kafka: TansuBroker, tmp_path: Path) -> None:
    with pytest.raises(ComponentStartError, match=r"^tansu: port \d+ is in use"):
        TansuBroker.start(kafka.port, tmp_path, timeout=10)


def test_missing_binary_is_a_clear_start_error(tmp_path: Path) -> None:
    with pytest.raises(ComponentStartError, match=r"^tansu: cannot run /nonexistent/tansu"):
        TansuBroker.start(log_dir=tmp_path, binary="/nonexistent/tansu")
    with pytest.raises(ComponentStartError, match=r"^osmem: cannot run /nonexistent/osmem.*pip install"):
        OsmemEngine.start(log_dir=tmp_path, binary="/nonexistent/osmem")


# -- osmem + the search client ------------------------------------------------------------------------


def test_search_client_index_search_alias(search: OsmemEngine) -> None:
    client = make_search_client(SearchSettings(url=search.url, plain_json_media_type=True))
    index = unique("rankings-v")
    alias = unique("rankings")
    try:
        client.indices.create(
            index=index,
            mappings={
                "properties": {
                    "name": {"type": "text"},
                    "category": {"type": "keyword"},
                    "points": {"type": "float"},
                }
            },
        )
        client.index(index=index, id="ath-1", document={"name": "Ōno Shōhei", "category": "m-73kg", "points": 200})
        client.index(index=index, id="ath-2", document={"name": "Zoë Müller", "category": "w-57kg", "points": 70})
        client.indices.refresh(index=index)

        hits = client.search(index=index, query={"match": {"name": "Ōno"}})["hits"]["hits"]
        assert [hit["_id"] for hit in hits] == ["ath-1"]

        client.indices.update_aliases(actions=[{"add": {"index": index, "alias": alias}}])
        assert client.indices.get_alias(name=alias).body == {index: {"aliases": {alias: {}}}}
        filtered = client.search(index=alias, query={"bool": {"filter": [{"term": {"category": "w-57kg"}}]}})
        assert [hit["_id"] for hit in filtered["hits"]["hits"]] == ["ath-2"]
    finally:
        client.indices.delete(index=index, ignore_unavailable=True)
        client.close()


def test_search_needs_plain_json_media_type(search: OsmemEngine) -> None:
    client = make_search_client(SearchSettings(url=search.url))  # the production default
    try:
        with pytest.raises(ApiError) as excinfo:
            client.search(index="anything", query={"match_all": {}})
        assert excinfo.value.meta.status == 406
    finally:
        client.close()


def test_async_search_client(search: OsmemEngine) -> None:
    index = unique("async")

    async def roundtrip() -> int:
        client = make_async_search_client(SearchSettings(url=search.url, plain_json_media_type=True))
        try:
            await client.index(index=index, id="1", document={"name": "x"}, refresh=True)
            response = await client.search(index=index, query={"match_all": {}})
            await client.indices.delete(index=index)
            return int(response["hits"]["total"]["value"])
        finally:
            await client.close()

    assert asyncio.run(roundtrip()) == 1


def test_osmem_restart_same_port_starts_empty(tmp_path: Path) -> None:
    engine = OsmemEngine.start(log_dir=tmp_path)
    try:
        client = make_search_client(SearchSettings(url=engine.url, plain_json_media_type=True))
        client.indices.create(index="before")
        old_pid = engine.pid
        engine.kill()
        assert not search_ready(engine.url, timeout=0.5)
        engine.restart()
        assert engine.pid not in (None, old_pid)
        assert not client.indices.exists(index="before")
        client.close()
    finally:
        engine.stop()


# -- the whole stack ----------------------------------------------------------------------------------


def test_stack_settings_env_state_file_and_stop_from_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stack = EmbeddedStack.start(tmp_path / "state", topics={"match-events": 6, "match-events.dlq": 1})
    try:
        for name, value in stack.settings_env().items():
            monkeypatch.setenv(name, value)
        settings = Settings()
        assert settings.database.sqlalchemy_url() == stack.postgres.url
        assert settings.kafka.bootstrap_servers == stack.kafka.bootstrap
        assert settings.search.url == stack.search.url and settings.search.plain_json_media_type

        state = read_state(tmp_path / "state")
        assert state is not None
        pids = [state[name]["pid"] for name in ("postgres", "kafka", "search")]
        assert pids == [stack.postgres.pid, stack.kafka.pid, stack.search.pid]
        with pytest.raises(ComponentStartError, match="already running"):
            EmbeddedStack.start(tmp_path / "state")
    except BaseException:
        stack.stop()
        raise

    assert stop_from_state(tmp_path / "state") is True  # what `standings down` does
    wait_for_exit(pids, 10, "stack processes")
    assert not (tmp_path / "state" / STATE_FILE).exists()
    assert stop_from_state(tmp_path / "state") is False
    stack.stop()  # nothing left to do


def test_stack_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    previous = signal.getsignal(signal.SIGTERM)
    pids: list[int | None] = []
    with (
        pytest.raises(ShutdownSignal),
        EmbeddedStack.start(tmp_path / "state", handle_signals=True) as stack,
    ):
        pids = [stack.postgres.pid, stack.kafka.pid, stack.search.pid]
        os.kill(os.getpid(), signal.SIGTERM)
        stack.wait(check_interval=0.1)
    assert all(pid is not None and not pid_alive(pid) for pid in pids)
    assert signal.getsignal(signal.SIGTERM) == previous
    assert not (tmp_path / "state" / STATE_FILE).exists()


_CHILD_LAUNCHER = """
import json, sys, threading
from pathlib import Path
from services.embedded.kafka_broker import TansuBroker
from services.embedded.search_engine import OsmemEngine
log_dir = Path(sys.argv[1])
broker, engine = TansuBroker.start(log_dir=log_dir), OsmemEngine.start(log_dir=log_dir)
print(json.dumps([broker.pid, engine.pid]), flush=True)
threading.Event().wait()
"""


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise TimeoutError(f"no output from the launcher within {timeout}s")
    return proc.stdout.readline()


def test_children_die_with_a_sigkilled_launcher(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    launcher = subprocess.Popen(
        [sys.executable, "-c", _CHILD_LAUNCHER, str(tmp_path)],
        cwd=repo,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(repo)},
    )
    try:
        pids = json.loads(_read_line(launcher, 30))
        assert all(pid_alive(pid) for pid in pids)
        launcher.kill()
        launcher.wait(10)
        wait_for_exit(pids, 10, "tansu and osmem after their launcher was SIGKILLed")
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait(10)
