"""Run the read API under uvicorn (uvloop + httptools when installed: ~1.6x the h11 throughput)."""

from __future__ import annotations

import importlib.util

import uvicorn

from services.api.app import create_app
from services.core.gc_pauses import freeze_startup_heap
from services.core.logging import configure_logging
from services.core.settings import Settings


def _best(module: str, preferred: str, fallback: str) -> str:
    return preferred if importlib.util.find_spec(module) is not None else fallback


def run(settings: Settings) -> None:
    """Serve the API on ``settings.api.host:port`` until SIGINT/SIGTERM."""
    configure_logging(settings.log_level, settings.log_json)
    app = create_app(settings)
    freeze_startup_heap()
    uvicorn.run(
        app,
        host=settings.api.host,
        port=settings.api.port,
        loop=_best("uvloop", "uvloop", "asyncio"),
        http=_best("httptools", "httptools", "h11"),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    run(Settings())
