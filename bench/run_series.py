"""Run one bench N times and append one JSON line per run to a results file.

    python bench/run_series.py --runs 3 --out bench/results/2026-11-26-quiet-projector.jsonl -- \
        python bench/projector.py --quick

Each line is ``{"run", "rc", "start", "end", "loadavg_start", "loadavg_end", "command", "result"}``,
where ``result`` is the bench's own last stdout line parsed as JSON (null if the run failed);
``bench/summarize_results.py`` reads these files.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import subprocess
import sys
from pathlib import Path


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _last_json_line(stdout: str) -> dict[str, object] | None:
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                parsed = json.loads(line)
            except json.JSONDecodeError:
                return None
            return parsed if isinstance(parsed, dict) else None
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--timeout-s", type=float, default=600.0)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = [c for c in args.command if c != "--"] or parser.error("a bench command is required")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    existing = len(args.out.read_text().splitlines()) if args.out.exists() else 0
    failures = 0
    for i in range(1, args.runs + 1):
        record: dict[str, object] = {"run": existing + i, "start": _now(), "loadavg_start": _loadavg()}
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout_s, check=False)
            rc, stdout = proc.returncode, proc.stdout
            if rc != 0:
                sys.stderr.write(proc.stderr[-4000:])
        except subprocess.TimeoutExpired:
            rc, stdout = -1, ""
        result = _last_json_line(stdout) if rc == 0 else None
        failures += result is None
        record.update(rc=rc, end=_now(), loadavg_end=_loadavg(), command=shlex.join(command), result=result)
        with args.out.open("a") as f:
            f.write(json.dumps(record) + "\n")
        print(json.dumps(record), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
