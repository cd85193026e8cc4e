"""rankings-indexer process: ``python -m services.indexer.main`` (wired by ``standings up``)."""

from __future__ import annotations

import threading

from services.core import tracing
from services.core.logging import configure_logging
from services.core.settings import Settings
from services.indexer.bootstrap import bootstrap


def run(settings: Settings | None = None, *, stop: threading.Event | None = None) -> None:
    """Run the indexer until SIGTERM/SIGINT (or ``stop`` is set)."""
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_json)
    with tracing.traced(settings.tracing, "indexer"):
        bootstrap(settings).run(stop)


if __name__ == "__main__":
    run()
