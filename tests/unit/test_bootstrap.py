"""Each process's bootstrap wires its collaborators from Settings without any I/O, and probes report states."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from pydantic import SecretStr

from services.core.http.readiness import FAILING, OK
from services.core.search.breaker import BreakerState
from services.core.settings import DatabaseSettings, KafkaSettings, Settings
from services.indexer import bootstrap as indexer_bootstrap
from services.indexer.health import liveness as indexer_liveness
from services.indexer.health import readiness as indexer_readiness
from services.indexer.loop import IndexerStatus
from services.intake import bootstrap as intake_bootstrap
from services.intake.context import IntakeContext
from services.projector import bootstrap as projector_bootstrap
from services.projector.health import liveness as projector_liveness
from services.projector.health import readiness as projector_readiness

# Nothing listens on port 1: any connection attempt during bootstrap would fail the test.
UNREACHABLE = Settings(
    environment="test",
    database=DatabaseSettings(url=SecretStr("postgresql+psycopg://u:p@127.0.0.1:1/none")),
    kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"),
)


def test_intake_bootstrap_builds_and_owns_what_it_creates() -> None:
    deps = intake_bootstrap.bootstrap(UNREACHABLE)
    try:
        assert deps.owns_engine and deps.owns_producer
        assert not deps.producer.started  # started in the lifespan, never here
        ctx = intake_bootstrap.build_context(deps)
        assert isinstance(ctx, IntakeContext)
        assert ctx.engine is deps.engine and ctx.producer is deps.producer
        assert set(ctx.readiness_probes(broker_timeout_s=0.1)) == {"postgres", "kafka"}
    finally:
        deps.close()


@dataclass
class FakeProducer:
    closed: list[float] = field(default_factory=list)

    def close(self, timeout: float = 5.0) -> int:
        self.closed.append(timeout)
        return 0


def test_intake_bootstrap_never_closes_what_it_was_given() -> None:
    engine = sa.create_engine("postgresql+psycopg://u:p@127.0.0.1:1/none")
    producer = FakeProducer()
    fixed = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    deps = intake_bootstrap.bootstrap(UNREACHABLE, engine=engine, producer=producer, clock=lambda: fixed)  # type: ignore[arg-type]
    assert deps.engine is engine and deps.producer is producer and deps.clock() == fixed
    deps.close()
    assert producer.closed == []


def test_projector_bootstrap_wires_the_loop_and_an_unbound_health_server() -> None:
    process = projector_bootstrap.bootstrap(UNREACHABLE)
    try:
        assert process.loop.applier is not None
        assert process.health.port == UNREACHABLE.projector.http_port  # not bound until run()
        assert process.engine.pool.size() == projector_bootstrap.POOL_SIZE  # type: ignore[attr-defined]
    finally:
        process.engine.dispose()


@dataclass
class FakeLoopHealth:
    running: bool = True
    db_ok: bool = True
    reason: str = "OperationalError: connection to server at db.internal failed"


@dataclass
class FakeLoop:
    health: FakeLoopHealth = field(default_factory=FakeLoopHealth)
    alive: bool = True

    def live(self) -> bool:
        return self.alive


def test_projector_probes_report_states_not_the_reason() -> None:
    loop = FakeLoop()
    assert projector_readiness(loop).ok
    loop.health.db_ok = False
    result = projector_readiness(loop)
    assert not result.ok
    assert result.body == {"status": "fail", "checks": {"consuming": OK, "postgres": FAILING}}
    assert "db.internal" not in str(result.body)
    loop.alive = False
    assert not projector_liveness(loop).ok


def _status(**changes: Any) -> IndexerStatus:
    values: dict[str, Any] = {
        "breaker": BreakerState.CLOSED,
        "freshness_s": 0.0,
        "pending": 0,
        "alias_ok": True,
        "heartbeat_age_s": 1.0,
        "last_error": None,
    }
    values.update(changes)
    return IndexerStatus(**values)


def test_indexer_readiness_names_checks_and_hides_error_text() -> None:
    code, body = indexer_readiness(_status(), slo_s=5.0)
    assert code == 200 and body["status"] == "ok" and set(body["checks"].values()) == {OK}
    code, body = indexer_readiness(
        _status(breaker=BreakerState.OPEN, last_error="ConnectionError: es.internal:9200 refused"), slo_s=5.0
    )
    assert code == 503 and body["status"] == "degraded" and body["breaker"] == "open"
    assert body["checks"]["search_breaker"] == FAILING and body["last_error"] == "ConnectionError"
    assert not indexer_liveness(_status(heartbeat_age_s=1e6)).ok


def test_indexer_bootstrap_wires_without_io() -> None:
    process = indexer_bootstrap.bootstrap(UNREACHABLE)
    try:
        assert process.indexer.engine is process.engine and process.indexer.client is process.search
        assert process.health.port == UNREACHABLE.indexer.http_port
    finally:
        process.search.close()
        process.engine.dispose()
