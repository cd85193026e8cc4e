"""Process entry point: configure logging once, bootstrap, wait for PostgreSQL, serve the app with uvicorn."""

from __future__ import annotations

import uvicorn

from services.core.gc_pauses import freeze_startup_heap
from services.core.lifecycle import stop_on_signals, wait_for_database
from services.core.logging import configure_logging
from services.core.settings import Settings
from services.intake.app import SERVICE, create_app
from services.intake.bootstrap import bootstrap


def run(settings: Settings, *, port: int | None = None) -> None:
    """Serve the intake on ``settings.api.host`` and ``port`` (default ``settings.intake.port``)."""
    configure_logging(settings.log_level, settings.log_json)
    deps = bootstrap(settings)
    try:
        # PostgreSQL may come up after us: wait (SIGTERM ends the wait) instead of crash-looping.
        with stop_on_signals(SERVICE) as stop:
            if not wait_for_database(deps.engine, stop, service=SERVICE):
                return
        app = create_app(settings, deps=deps)
        freeze_startup_heap()
        uvicorn.run(
            app,
            host=settings.api.host,
            port=port or settings.intake.port,
            log_config=None,  # keep the structlog configuration
            access_log=False,  # request metrics cover it; access lines would only add noise
            proxy_headers=True,
            timeout_graceful_shutdown=10,
        )
    finally:
        deps.close()  # after the lifespan: outstanding deliveries flushed, then the pool closed


if __name__ == "__main__":
    run(Settings())
