"""Process entry point: configure logging once, build the app, serve it with uvicorn."""

from __future__ import annotations

import uvicorn

from services.core.gc_pauses import freeze_startup_heap
from services.core.logging import configure_logging
from services.core.settings import Settings
from services.intake.app import create_app


def run(settings: Settings, *, port: int | None = None) -> None:
    """Serve the intake on ``settings.api.host`` and ``port`` (default ``settings.intake.port``)."""
    configure_logging(settings.log_level, settings.log_json)
    app = create_app(settings)
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


if __name__ == "__main__":
    run(Settings())
