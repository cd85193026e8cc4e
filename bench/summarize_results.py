"""Median and min-max of every numeric figure over the runs stored in bench/results/*.jsonl.

    python bench/summarize_results.py bench/results/2026-11-26-read_api.jsonl [...]

Each line of a results file is one run: ``{"run", "rc", "start", "end", "loadavg_start",
"loadavg_end", "result": <the bench's own JSON line, verbatim, or null if the run failed>}``.
Failed runs are counted and skipped.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path


def numeric(result: dict[str, object]) -> dict[str, float]:
    return {k: float(v) for k, v in result.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def main() -> None:
    for name in sys.argv[1:]:
        runs = [json.loads(line) for line in Path(name).read_text().splitlines() if line.strip()]
        ok = [r for r in runs if r.get("result")]
        print(f"## {name}: {len(ok)} of {len(runs)} runs succeeded")
        print("loadavg (1m) at start: " + ", ".join(str(r.get("loadavg_start", "?")).split()[0] for r in runs))
        figures: dict[str, list[float]] = {}
        for r in ok:
            for k, v in numeric(r["result"]).items():
                figures.setdefault(k, []).append(v)
        width = max((len(k) for k in figures), default=10)
        for k, values in figures.items():
            med = statistics.median(values)
            print(
                f"{k:<{width}}  median {med:>12,.3f}   min {min(values):>12,.3f}   max {max(values):>12,.3f}   n={len(values)}"
            )
        print()


if __name__ == "__main__":
    main()
