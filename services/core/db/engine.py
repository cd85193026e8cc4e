"""Engine and session factory. Created in a startup step and passed in, never at import time."""

from __future__ import annotations

from psycopg.conninfo import make_conninfo
from sqlalchemy import URL, Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from services.core import tracing
from services.core.settings import DatabaseSettings


def make_engine(settings: DatabaseSettings, *, pool_size: int | None = None) -> Engine:
    """The process's engine; with tracing on, every statement is a client span of the span running it."""
    engine = create_engine(
        settings.sqlalchemy_url(),
        pool_size=pool_size or settings.pool_size,
        pool_pre_ping=True,
        connect_args=settings.connect_args(),
    )
    if tracing.enabled():
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
        from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
        from opentelemetry.metrics import NoOpMeter

        # One EngineTracer per engine (the instrumentor's instrument() works once per process).
        usage = NoOpMeter("standings").create_up_down_counter("db.client.connections.usage")
        tracer = tracing.installed().get_tracer(SQLAlchemyInstrumentor.__module__)
        EngineTracer(tracer, engine, usage)
    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def libpq_conninfo(url: URL) -> str:
    """A libpq connection string for a plain psycopg connection (the LISTEN connections).

    Built from the URL's decoded parts: re-rendering the URL would encode a space in a query value
    (a socket directory, an ``sslrootcert`` path) as "+", which libpq reads literally.
    """
    params: dict[str, str | int | None] = {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "dbname": url.database,
    }
    for key, value in url.query.items():
        params[key] = value[-1] if isinstance(value, tuple) else value
    return make_conninfo("", **{k: v for k, v in params.items() if v is not None})
