"""standings-projector process: ``python -m services.projector.main`` (settings from ``STANDINGS_*``).

Logging and build info, then :func:`services.projector.bootstrap.bootstrap` wires the engine, the
DLQ, the applier, the loop and the health server. SIGTERM/SIGINT finish the in-flight batch, commit
its offsets and leave the consumer group.
"""

from __future__ import annotations

import sys

from services.core import metrics, tracing
from services.core.logging import configure_logging
from services.core.settings import APP_VERSION, Settings
from services.projector.bootstrap import bootstrap
from services.projector.loop import AfterDbCommit


def run(settings: Settings | None = None, *, after_db_commit: AfterDbCommit | None = None) -> int:
    """Run the projector until SIGTERM/SIGINT; returns the process exit code.

    ``after_db_commit`` is called between each batch's DB commit and its Kafka commit (the kill-9
    fault test's entry point, ``tests/projector_pause_entry.py``, pauses there).
    """
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_json)
    with tracing.traced(settings.tracing, "projector"):
        metrics.BUILD.info({"version": APP_VERSION, "service": "projector"})
        process = bootstrap(settings)
        process.loop.after_db_commit = after_db_commit
        return process.run()


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
