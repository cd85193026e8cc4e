"""``python -m tests.projector_pause_entry``: the real projector (``services.projector.main.run``) with a
pause between each batch's DB commit and its Kafka commit, logged as ``test_hook_pause_after_db_commit``,
so the kill-9 fault test can SIGKILL it exactly in that window."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from services.core.logging import get_logger
from services.core.planning.batch import Decoded
from services.projector.loop import batch_fields
from services.projector.main import run

PAUSE_S = 0.3

log = get_logger("tests.projector_pause_entry")


def pause_after_db_commit(batch: Sequence[Decoded]) -> None:
    """PG has committed the batch, Kafka not yet: hold the process there for ``PAUSE_S``."""
    log.warning("test_hook_pause_after_db_commit", seconds=PAUSE_S, **batch_fields(batch))
    time.sleep(PAUSE_S)  # a window for the test's SIGKILL to land in, not a wait for anything


if __name__ == "__main__":
    sys.exit(run(after_db_commit=pause_after_db_commit))
