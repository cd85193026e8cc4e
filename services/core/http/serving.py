"""How an HTTP process serves: wait for PostgreSQL (a signal ends the wait), freeze the startup heap,
then run the app under uvicorn until SIGINT/SIGTERM."""

from __future__ import annotations

from typing import Any

import uvicorn
from sqlalchemy import Engine
from starlette.types import ASGIApp

from services.core.gc_pauses import freeze_startup_heap
from services.core.lifecycle import stop_on_signals, wait_for_database


def serve_when_database_ready(
    app: ASGIApp, *, engine: Engine, service: str, host: str, port: int, **uvicorn_options: Any
) -> None:
    """Serve ``app`` once PostgreSQL answers with the schema at head; return early if stopped while waiting.

    PostgreSQL may come up after the process: it waits instead of crash-looping. Logging stays the
    structlog configuration and there is no access log (the request metrics cover it).
    """
    with stop_on_signals(service) as stop:
        if not wait_for_database(engine, stop, service=service):
            return
    freeze_startup_heap()
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, **uvicorn_options)
