"""Engine and session factory. Created in a startup step and passed in, never at import time."""

from __future__ import annotations

from psycopg.conninfo import make_conninfo
from sqlalchemy import URL, Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from services.core.settings import DatabaseSettings


def make_engine(settings: DatabaseSettings, *, pool_size: int | None = None) -> Engine:
    return create_engine(
        settings.sqlalchemy_url(),
        pool_size=pool_size or settings.pool_size,
        pool_pre_ping=True,
        connect_args=settings.connect_args(),
    )


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
