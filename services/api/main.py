"""Run the read API under uvicorn (uvloop + httptools when installed: ~1.6x the h11 throughput)."""

from __future__ import annotations

import importlib.util

from services.api.app import SERVICE
from services.api.bootstrap import bootstrap
from services.core import tracing
from services.core.http.serving import serve_when_database_ready
from services.core.logging import configure_logging
from services.core.settings import Settings


def _best(module: str, preferred: str, fallback: str) -> str:
    return preferred if importlib.util.find_spec(module) is not None else fallback


def run(settings: Settings) -> None:
    """Serve the API on ``settings.api.host:port`` until SIGINT/SIGTERM."""
    configure_logging(settings.log_level, settings.log_json)
    with tracing.traced(settings.tracing, "api"):
        process = bootstrap(settings)
        try:
            serve_when_database_ready(
                process.app,
                engine=process.engine,
                service=SERVICE,
                host=settings.api.host,
                port=settings.api.port,
                loop=_best("uvloop", "uvloop", "asyncio"),
                http=_best("httptools", "httptools", "h11"),
                timeout_graceful_shutdown=5,
            )
        finally:
            process.close()


if __name__ == "__main__":
    run(Settings())
