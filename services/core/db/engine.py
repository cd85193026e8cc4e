"""Engine and session factory. Created in a startup step and passed in, never at import time."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
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
