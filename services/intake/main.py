"""Process entry point: configure logging once, bootstrap, wait for PostgreSQL, serve the app with uvicorn."""

from __future__ import annotations

from services.core import tracing
from services.core.http.serving import serve_when_database_ready
from services.core.logging import configure_logging
from services.core.settings import Settings
from services.intake.app import SERVICE, create_app
from services.intake.bootstrap import bootstrap


def run(settings: Settings, *, port: int | None = None) -> None:
    """Serve the intake on ``settings.api.host`` and ``port`` (default ``settings.intake.port``)."""
    configure_logging(settings.log_level, settings.log_json)
    with tracing.traced(settings.tracing, "intake"):
        deps = bootstrap(settings)
        try:
            serve_when_database_ready(
                create_app(settings, deps=deps),
                engine=deps.engine,
                service=SERVICE,
                host=settings.api.host,
                port=port or settings.intake.port,
                proxy_headers=True,
                timeout_graceful_shutdown=10,
            )
        finally:
            deps.close()  # after the lifespan: outstanding deliveries flushed, then the pool closed


if __name__ == "__main__":
    run(Settings())
