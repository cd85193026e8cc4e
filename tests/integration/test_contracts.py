"""One contract per port, run against the fake (tests/fakes.py) and the real adapter alike:

* SearchWriter: ``BulkWriter`` on the real (osmem) engine, ``FakeSearchWriter``;
* PositionStore: ``PgPositionStore`` on real PostgreSQL, ``FakePositionStore``;
* EventSender: ``EventProducer`` on real tansu, ``FakeEventSender``;
* PostTargets: ``PooledPostTargets`` on real PostgreSQL, ``FakePostTargets``.

A fake that drifted from its adapter would make unit tests pass against behaviour production lacks.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from elasticsearch import Elasticsearch
from sqlalchemy.orm import Session

from services.core import events
from services.core.db.registration import BoutInfo
from services.core.domain.results import BoutResult, Method, Score, Winner
from services.core.kafka.admin import ensure_topics
from services.core.kafka.producer import EventProducer
from services.core.search import indices
from services.core.search.bulk import BulkWriter
from services.core.search.client import make_search_client
from services.core.settings import DatabaseSettings, KafkaSettings, Settings
from services.embedded.kafka_broker import TansuBroker
from services.embedded.search_engine import OsmemEngine
from services.intake.bootstrap import post_reads_pool
from services.intake.repository import AppliedRevision, PooledPostTargets, PostTarget
from services.intake.service import EventSender, PostTargets
from services.rankings.model import START, FeedPosition
from services.rankings.ports import PgPositionStore, PositionStore, SearchWriter
from tests.fakes import FakeEventSender, FakePositionStore, FakePostTargets, FakeSearchWriter
from tests.integration.intake_support import D_MEN, T_ALPHA, insert_registration
from tests.rankings_support import db_url, rankings_settings, unique

__all__ = ["db_url"]

# --- SearchWriter -------------------------------------------------------------------------------

Reader = Callable[[str, str], tuple[int, dict[str, Any]] | None]


@pytest.fixture(params=["fake", "osmem"])
def search_writer(request: pytest.FixtureRequest) -> Iterator[tuple[SearchWriter, str, Reader]]:
    if request.param == "fake":
        fake = FakeSearchWriter()
        yield fake, "contract", fake.read
        return
    engine: OsmemEngine = request.getfixturevalue("search")
    settings = rankings_settings("postgresql+psycopg://unused@127.0.0.1/unused", engine.url)
    client: Elasticsearch = make_search_client(settings.search)
    index = unique("contract")
    indices.create_index(client, index, building=False)

    def read(idx: str, doc_id: str) -> tuple[int, dict[str, Any]] | None:
        client.indices.refresh(index=idx)
        found = client.options(ignore_status=404).get(index=idx, id=doc_id)
        if not found.body.get("found"):
            return None
        return int(found.body["_version"]), dict(found.body["_source"])

    try:
        yield BulkWriter(client), index, read
    finally:
        indices.delete_indices(client, [index])
        client.close()


def _doc(doc_id: str, version: int, points: float) -> tuple[dict[str, Any], dict[str, Any]]:
    header = {"_id": doc_id, "version": version, "version_type": "external"}
    return {"index": header}, {"category": "m-73kg", "athlete_id": doc_id, "points": points}


def test_search_writer_keeps_the_highest_version(search_writer: tuple[SearchWriter, str, Reader]) -> None:
    writer, index, read = search_writer
    assert writer.write(index, [_doc("a", 5, 50.0)]).indexed == 1
    stale = writer.write(index, [_doc("a", 3, 30.0)])
    assert (stale.indexed, stale.conflicts) == (0, 1)  # an older write is a conflict, not an error
    assert read(index, "a") == (5, {"category": "m-73kg", "athlete_id": "a", "points": 50.0})
    assert writer.write(index, [_doc("a", 9, 90.0)]).indexed == 1
    found = read(index, "a")
    assert found is not None and found[0] == 9 and found[1]["points"] == 90.0


def test_search_writer_deletes_at_a_version(search_writer: tuple[SearchWriter, str, Reader]) -> None:
    writer, index, read = search_writer
    writer.write(index, [_doc("b", 4, 40.0)])
    stats = writer.write(index, [({"delete": {"_id": "b", "version": 6, "version_type": "external"}}, None)])
    assert stats.deleted == 1
    assert read(index, "b") is None


# --- PositionStore ------------------------------------------------------------------------------


@pytest.fixture(params=["fake", "postgres"])
def position_store(request: pytest.FixtureRequest) -> Iterator[PositionStore]:
    if request.param == "fake":
        yield FakePositionStore()
        return
    engine = sa.create_engine(request.getfixturevalue("db_url"))
    yield PgPositionStore(engine, reader=unique("contract"))
    engine.dispose()


def test_position_store_advances_only_forward_and_rewinds_only_back(position_store: PositionStore) -> None:
    assert position_store.get() == START
    position_store.advance(FeedPosition(10, 3))
    position_store.advance(FeedPosition(9, 99))  # behind: ignored
    assert position_store.get() == FeedPosition(10, 3)
    position_store.advance(FeedPosition(10, 4))
    assert position_store.get() == FeedPosition(10, 4)
    position_store.rewind(FeedPosition(12, 0))  # ahead: ignored
    assert position_store.get() == FeedPosition(10, 4)
    position_store.rewind(FeedPosition(10, 1))
    assert position_store.get() == FeedPosition(10, 1)


# --- EventSender --------------------------------------------------------------------------------


@pytest.fixture(params=["fake", "tansu"])
def event_sender(request: pytest.FixtureRequest) -> Iterator[EventSender]:
    if request.param == "fake":
        yield FakeEventSender(partitions=3)
        return
    broker: TansuBroker = request.getfixturevalue("kafka")
    topic = unique("contract-events")
    settings = Settings(
        kafka=KafkaSettings(bootstrap_servers=broker.bootstrap, topic=topic, dlq_topic=f"{topic}.dlq", partitions=3)
    )
    ensure_topics(settings.kafka, timeout=30)
    producer = EventProducer(settings)
    producer.start()
    try:
        yield producer
    finally:
        producer.close()


def _result(division: str, bout: str, revision: int) -> events.ResultRecorded:
    result = BoutResult(bout, revision, Winner.RED, Method.POINTS, Score(3, 1))
    return events.result_recorded("contract-cup", division, result, events.now_utc())


def test_event_sender_keeps_a_division_on_one_partition_in_order(event_sender: EventSender) -> None:
    async def send_all() -> list[tuple[str, int, int]]:
        out = []
        for i in range(6):
            for division in ("m-60kg", "w-52kg"):
                delivery = await event_sender.send(_result(division, f"{division}-b{i}", 1))
                out.append((division, delivery.partition, delivery.offset))
        return out

    sent = asyncio.run(send_all())
    for division in ("m-60kg", "w-52kg"):
        mine = [(p, o) for d, p, o in sent if d == division]
        assert len({p for p, _ in mine}) == 1 and 0 <= mine[0][0] < 3  # one partition per key
        offsets = [o for _, o in mine]
        assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)  # in order, no repeats


# --- PostTargets --------------------------------------------------------------------------------

WON = {"winner": "red", "method": "points", "score": {"red": 3, "blue": 1}}
APPLIED = [AppliedRevision(1, "result", WON), AppliedRevision(2, "void", {}), AppliedRevision(3, "result", WON)]
B_A1 = BoutInfo("b-a1", T_ALPHA, D_MEN, "a1", "a2")
Opened = Callable[[], AbstractAsyncContextManager[PostTargets]]


@pytest.fixture(params=["fake", "postgres"])
def post_targets(request: pytest.FixtureRequest) -> Iterator[Opened]:
    if request.param == "fake":
        fake = FakePostTargets()
        fake.add(PostTarget(B_A1, "combat-default", APPLIED))
        fake.add(PostTarget(BoutInfo("b-a2", T_ALPHA, D_MEN, "a2", "a1"), "combat-default", []))

        @asynccontextmanager
        async def the_fake() -> AsyncIterator[PostTargets]:
            yield fake

        yield the_fake
        return
    url = request.getfixturevalue("db_url")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        insert_registration(Session(bind=conn))
        conn.execute(
            sa.text(
                "INSERT INTO results (bout_id, revision, kind, payload, event_id, is_effective, occurred_at,"
                " source_partition, source_offset) VALUES (:b, :r, :k, CAST(:p AS jsonb), :e, :f, now(), 0, :r)"
            ),
            [
                {"b": "b-a1", "r": a.revision, "k": a.kind, "p": json.dumps(a.payload), "e": uuid.uuid4(), "f": i == 2}
                for i, a in enumerate(APPLIED)
            ],
        )
    engine.dispose()

    @asynccontextmanager
    async def pooled() -> AsyncIterator[PostTargets]:
        pool = post_reads_pool(DatabaseSettings(url=url, pool_size=1))
        await pool.open(wait=True)
        try:
            yield PooledPostTargets(pool)
        finally:
            await pool.close()

    yield pooled


def test_post_targets_read_the_bout_and_its_applied_revisions_from_the_posted_one(post_targets: Opened) -> None:
    async def read() -> list[PostTarget | None]:
        async with post_targets() as targets:
            return [
                await targets.target("b-nope", 1),
                await targets.target("b-a1", 2),
                await targets.target("b-a1", 4),
                await targets.target("b-a2", 1),
            ]

    unknown, from_two, above_all, none_applied = asyncio.run(read())
    assert unknown is None
    assert from_two == PostTarget(B_A1, "combat-default", APPLIED[1:], None)  # in revision order
    assert above_all == PostTarget(B_A1, "combat-default", [], None)
    assert none_applied == PostTarget(BoutInfo("b-a2", T_ALPHA, D_MEN, "a2", "a1"), "combat-default", [], None)
