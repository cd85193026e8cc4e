"""Helpers for the intake tests: a migrated database of their own, a small registration, tokens,
reading a message back by (partition, offset), and the intake app served by a real uvicorn.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition
from sqlalchemy.orm import Session, sessionmaker

from services.core.auth import Role
from services.core.db import registration
from services.core.db import tokens as token_repo
from services.core.db.engine import make_engine, make_session_factory
from services.core.settings import DatabaseSettings, IntakeSettings, KafkaSettings, Settings
from services.embedded.postgres import EmbeddedPostgres
from services.embedded.waiting import wait_until
from services.intake.app import create_app
from tests.databases import create_database, drop_database
from tests.read_api_helpers import StoredResult, UvicornThread

PEPPER = "intake-test-pepper"
T_ALPHA, T_BETA = "t-alpha", "t-beta"
D_MEN, D_WOMEN, D_BETA = "m-73kg", "w-57kg", "m-81kg"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# -- PostgreSQL ------------------------------------------------------------------------------


def insert_registration(session: Session) -> None:
    """Two tournaments: t-alpha (two divisions, six bouts) and t-beta (one division, one bout)."""
    today = dt.date(2026, 11, 26)
    registration.upsert_tournaments(
        session,
        [
            {"tournament_id": T_ALPHA, "name": "Alpha Open", "tier": "open", "start_date": today, "end_date": today},
            {"tournament_id": T_BETA, "name": "Beta Cup", "tier": "national", "start_date": today, "end_date": today},
        ],
    )
    registration.upsert_divisions(
        session,
        [
            {
                "tournament_id": T_ALPHA,
                "division_id": D_MEN,
                "name": "Men 73",
                "category": "m-73kg",
                "formats": ["round_robin"],
            },
            {
                "tournament_id": T_ALPHA,
                "division_id": D_WOMEN,
                "name": "Women 57",
                "category": "w-57kg",
                "formats": ["round_robin"],
            },
            {
                "tournament_id": T_BETA,
                "division_id": D_BETA,
                "name": "Men 81",
                "category": "m-81kg",
                "formats": ["round_robin"],
            },
        ],
    )
    registration.upsert_athletes(
        session,
        [
            {"athlete_id": "a1", "full_name": "Ōno Shōhei", "country": "JPN", "club": None},
            {"athlete_id": "a2", "full_name": "Zoë Müller-Łukasz", "country": "POL", "club": "KS Gdańsk"},
            {"athlete_id": "a3", "full_name": "Ana Silva", "country": "BRA", "club": None},
            {"athlete_id": "a4", "full_name": "Mia Berg", "country": "NOR", "club": None},
        ],
    )
    registration.upsert_bouts(
        session,
        [
            {
                "bout_id": "b-a1",
                "tournament_id": T_ALPHA,
                "division_id": D_MEN,
                "red_athlete_id": "a1",
                "blue_athlete_id": "a2",
            },
            {
                "bout_id": "b-a2",
                "tournament_id": T_ALPHA,
                "division_id": D_MEN,
                "red_athlete_id": "a2",
                "blue_athlete_id": "a1",
            },
            {
                "bout_id": "b-a3",
                "tournament_id": T_ALPHA,
                "division_id": D_WOMEN,
                "red_athlete_id": "a3",
                "blue_athlete_id": "a4",
            },
            {
                "bout_id": "b-a4",
                "tournament_id": T_ALPHA,
                "division_id": D_WOMEN,
                "red_athlete_id": "a4",
                "blue_athlete_id": "a3",
            },
            {
                "bout_id": "b-a5",
                "tournament_id": T_ALPHA,
                "division_id": D_MEN,
                "red_athlete_id": "a1",
                "blue_athlete_id": "a2",
            },
            {
                "bout_id": "b-a6",
                "tournament_id": T_ALPHA,
                "division_id": D_WOMEN,
                "red_athlete_id": "a3",
                "blue_athlete_id": "a4",
            },
            {
                "bout_id": "b-b1",
                "tournament_id": T_BETA,
                "division_id": D_BETA,
                "red_athlete_id": "a1",
                "blue_athlete_id": "a3",
            },
        ],
    )


@dataclass
class IntakeDb:
    url: str
    session_factory: sessionmaker[Session]

    def insert_applied(self, bout_id: str, revision: int, kind: str, payload: dict[str, object]) -> None:
        """Simulate the projector having applied a revision (a ``results`` row)."""
        applied = StoredResult(bout_id, revision, kind, payload, offset=revision)
        with self.session_factory() as session, session.begin():
            session.add(applied.row(at=dt.datetime.now(dt.UTC), partition=0, is_effective=True))

    def token(self, role: Role, tournaments: list[str] | None = None) -> str:
        with self.session_factory() as session, session.begin():
            _, plaintext = token_repo.create_token(session, unique("test"), role, tournaments or [], pepper=PEPPER)
        return plaintext

    def revoke(self, token_id: str) -> bool:
        with self.session_factory() as session, session.begin():
            return token_repo.revoke(session, token_id)


@contextmanager
def intake_database(pg: EmbeddedPostgres, prefix: str) -> Iterator[IntakeDb]:
    """A migrated database of its own with :func:`insert_registration`'s rows; dropped on exit."""
    name = unique(prefix).replace("-", "_")
    url = create_database(pg, name)
    engine = make_engine(DatabaseSettings(url=url), pool_size=2)
    factory = make_session_factory(engine)
    with factory() as session, session.begin():
        insert_registration(session)
    try:
        yield IntakeDb(url, factory)
    finally:
        engine.dispose()
        drop_database(pg, name)


# -- Kafka ---------------------------------------------------------------------------------------


def intake_settings(db_url: str, bootstrap: str, topic: str, **intake: object) -> Settings:
    return Settings(
        environment="test",
        log_json=False,
        database=DatabaseSettings(url=db_url),
        kafka=KafkaSettings(bootstrap_servers=bootstrap, topic=topic, dlq_topic=f"{topic}.dlq", partitions=3),
        intake=IntakeSettings.model_validate(intake),
        token_pepper=PEPPER,
    )


def read_message(bootstrap: str, topic: str, partition: int, offset: int, timeout: float = 10.0) -> Message:
    """The message at (topic, partition, offset), read by direct assignment (no group join)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique("intake-reader"),
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 5,
        }
    )
    try:
        consumer.assign([TopicPartition(topic, partition, offset)])
        found: list[Message] = []

        def got() -> bool:
            msg = consumer.poll(0.2)
            if msg is None:
                return False
            if msg.error():
                raise KafkaException(msg.error())
            if msg.offset() == offset:
                found.append(msg)
                return True
            return False

        wait_until(got, timeout, f"message {topic}[{partition}]@{offset}")
        return found[0]
    finally:
        consumer.close()


def headers_of(msg: Message) -> dict[str, bytes]:
    raw = msg.headers() or []
    out: dict[str, bytes] = {}
    for key, value in raw.items() if isinstance(raw, dict) else raw:
        assert isinstance(value, bytes), key
        out[key] = value
    return out


# -- the app on a real server --------------------------------------------------------------------


class ServedApp(UvicornThread):
    """``create_app(settings)`` under uvicorn's default event loop and HTTP parser, in a thread on a
    free port; lifespan runs for real, and a server that does not stop fails the test."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(create_app(settings), loop="auto", http="auto", graceful_shutdown_s=None)
        self.settings = settings

    def start(self, timeout: float = 20.0) -> ServedApp:
        super().start(timeout)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        super().stop(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"intake on {self.url} did not stop within {timeout}s")


@dataclass(frozen=True)
class Intake:
    """The served intake as its tests see it: where it listens, its settings, its database and topic."""

    url: str
    settings: Settings
    db: IntakeDb
    bootstrap: str
    topic: str
