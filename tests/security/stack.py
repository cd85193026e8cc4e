"""The security tier's stack: both HTTP apps served by real uvicorn servers on the embedded services.

One :class:`SecurityStack` gets its own migrated database (a seeded registration of two
tournaments), its own topics on the session's tansu broker, its own alias on the session's osmem
engine (built empty, so rankings reads answer instead of "index missing") and one token per role,
including a referee of the *other* tournament for cross-tournament checks.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from services.core.db.engine import make_engine
from services.core.db.tokens import create_token
from services.core.kafka.admin import ensure_topics
from services.core.search.client import make_search_client
from services.core.settings import (
    ApiSettings,
    DatabaseSettings,
    IntakeSettings,
    KafkaSettings,
    SearchSettings,
    Settings,
)
from services.embedded.postgres import EmbeddedPostgres
from services.rankings.reindex import Reindexer
from tests.read_api_helpers import UvicornThread, create_database, registration_doc, seed_registration

T = "sec-cup"  # the referee's tournament
T_OTHER = "sec-other"  # a tournament the referee may not write
D, D2, D_OTHER = "m-73kg", "w-57kg", "m-81kg"
PEPPER = "security-tier-pepper-0123456789abcdef"
ROLES = ("referee", "referee_other", "ops", "admin")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def bout_id(t: str, d: str, n: int = 1) -> str:
    """The id the round-robin schedule gives the n-th bout of a division."""
    return f"{t}-{d}-{n:03d}"


def security_settings(
    pg: EmbeddedPostgres, bootstrap: str, search_url: str, *, db_url: str | None = None, **intake: Any
) -> Settings:
    topic = unique("match-events-sec")
    return Settings(
        environment="test",
        log_json=False,
        database=DatabaseSettings(url=db_url or create_database(pg, "security")),
        kafka=KafkaSettings(bootstrap_servers=bootstrap, topic=topic, dlq_topic=f"{topic}.dlq", partitions=2),
        search=SearchSettings(
            url=search_url, plain_json_media_type=True, alias=unique("rankings-sec"), request_timeout_s=5.0
        ),
        intake=IntakeSettings(**({"rate_limit_per_s": 10_000.0, "rate_limit_burst": 10_000} | intake)),
        # A short SSE heartbeat so a stream's events come quickly to a client that reads a few and hangs up.
        api=ApiSettings(lag_poll_s=0.5, sse_heartbeat_s=0.5),
        token_pepper=PEPPER,
    )


def seed(engine: Engine) -> None:
    """Two live tournaments (round-robin bouts scheduled) and the rankings index."""
    doc = registration_doc(T, {D: 4, D2: 3})
    other = registration_doc(T_OTHER, {D_OTHER: 3})
    doc["athletes"] += other["athletes"]
    doc["tournaments"] += other["tournaments"]
    seed_registration(engine, doc)


def issue_tokens(engine: Engine, pepper: str) -> dict[str, str]:
    with Session(engine) as session, session.begin():
        return {
            "referee": create_token(session, "sec-referee", "referee", [T], pepper=pepper)[1],
            "referee_other": create_token(session, "sec-referee-other", "referee", [T_OTHER], pepper=pepper)[1],
            "ops": create_token(session, "sec-ops", "ops", pepper=pepper)[1],
            "admin": create_token(session, "sec-admin", "admin", pepper=pepper)[1],
        }


def build_rankings_index(engine: Engine, settings: Settings) -> None:
    client = make_search_client(settings.search)
    try:
        Reindexer(engine, client, settings.search).run()
    finally:
        client.close()


def openapi_document(app: str) -> dict[str, Any]:
    """The document ``app`` ("intake" or "api") serves at /openapi.json, built without starting it.

    ``create_app`` does no I/O (STYLE 4); test_schemathesis.py checks the served copy is identical.
    """
    from services.api.app import create_app as create_api
    from services.intake.app import create_app as create_intake

    factory = create_intake if app == "intake" else create_api
    return factory(Settings(environment="test")).openapi()


@dataclass
class SecurityStack:
    settings: Settings
    engine: Engine
    intake: UvicornThread
    api: UvicornThread
    tokens: dict[str, str]

    def bearer(self, role: str | None) -> dict[str, str]:
        """The Authorization header of ``role`` (none for ``None``/"anonymous")."""
        if role is None or role == "anonymous":
            return {}
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@contextmanager
def running_stack(settings: Settings) -> Iterator[SecurityStack]:
    """Seed ``settings.database``, create the topics and the index, serve both apps until exit."""
    from services.api.app import create_app as create_api
    from services.intake.app import create_app as create_intake

    ensure_topics(settings.kafka, timeout=30)
    engine = make_engine(settings.database, pool_size=4)
    try:
        seed(engine)
        tokens = issue_tokens(engine, settings.token_pepper.get_secret_value())
        build_rankings_index(engine, settings)
        with (
            UvicornThread(create_intake(settings)).running() as intake,
            UvicornThread(create_api(settings)).running() as api,
        ):
            yield SecurityStack(settings, engine, intake, api, tokens)
    finally:
        engine.dispose()
