"""The projector loop alone, repeated on one embedded stack: for A/B runs of a change.

    python bench/loop_rate.py [--events 40000] [--repeats 2] [--batch-size 5000]

Each repeat is ``bench/projector.py``'s projector step (``projector_rate``): the standard workload
in a fresh database, a real ``ProjectorLoop`` in this process from assignment until every stored
position reaches the produced offsets, then the standings checked against the from-scratch oracle. Prints one JSON line:
events/s per repeat and where the CPU went per event (``bench/cpu_accounting.py``). About 25 s
for two repeats; ``bench/projector.py --quick`` takes minutes because it measures everything
else too. For an A/B, alternate a checkout of each side (``git worktree add``), several times:
this machine's noise (±10 % between runs) is larger than most single changes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.projector import projector_rate  # noqa: E402
from services.core.logging import configure_logging  # noqa: E402
from services.embedded.stack import EmbeddedStack  # noqa: E402


def one_run(stack: EmbeddedStack, n_events: int, batch_size: int) -> dict[str, Any]:
    """``bench/projector.py``'s step 3 (the production path, with the ranking hook), once."""
    rate, info = projector_rate(
        stack, stack.postgres.admin_url, n_events, batch_size=batch_size, ranking_hook=True, check=True
    )
    return {
        "events_per_s": round(rate),
        "cpu_us_per_event": info["cpu_us_per_event"],
        "matches_from_scratch": info["matches_from_scratch"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args()
    configure_logging("ERROR", json=True)
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-loop-") as tmp:
        stack = EmbeddedStack.start(Path(tmp) / "stack", timeout=60)
        try:
            runs = [one_run(stack, args.events, args.batch_size) for _ in range(args.repeats)]
        finally:
            stack.stop()
    print(
        json.dumps(
            {
                "bench": "loop_rate",
                "checkout": str(REPO),
                "events": args.events,
                "events_per_s": [r["events_per_s"] for r in runs],
                "matches_from_scratch": all(r["matches_from_scratch"] for r in runs),
                "cpu_us_per_event": [r["cpu_us_per_event"] for r in runs],
                "load_avg_1m": os.getloadavg()[0],
            }
        )
    )


if __name__ == "__main__":
    main()
