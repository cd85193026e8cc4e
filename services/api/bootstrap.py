"""The read API's wiring point: the engine from ``Settings``, then the app built on it.

The app's lifespan still builds the per-process context (cache, hub, freshness), the LISTEN
connection and the lag monitor on that engine (``services.api.app``); what :func:`bootstrap`
owns is what outlives the lifespan — the engine — and it is disposed by :meth:`ApiProcess.close`
after the server has stopped. No connection opens here: the engine connects on first use.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from sqlalchemy import Engine

from services.api.app import create_app
from services.core.db.engine import make_engine
from services.core.settings import Settings


@dataclass
class ApiProcess:
    settings: Settings
    engine: Engine
    app: FastAPI
    owns_engine: bool = True

    def close(self) -> None:
        if self.owns_engine:
            self.engine.dispose()


def bootstrap(settings: Settings, *, engine: Engine | None = None) -> ApiProcess:
    db = engine if engine is not None else make_engine(settings.database)
    return ApiProcess(settings, db, create_app(settings, engine=db), owns_engine=engine is None)
