"""Where a result's post -> visible time goes: py-spy on the intake and projector processes while
``bench/projector.py``'s step 5 runs (200 results/s over HTTP, projector and intake as separate
processes, production settings and the ranking hook).

    python bench/profile_latency.py [--posts 1020] [--rate 200]

``bench.projector.process`` (which starts the two service processes) is wrapped so that each gets a
``py-spy record --threads --idle --nonblocking`` (100 Hz, without pausing the process) for its whole
life; idle samples are kept, so a thread's samples are its wall time. Writes ``latency-projector.txt`` (the ``projector-db`` worker: time per step of a
batch, PostgreSQL waits included, and the consumer loop thread) and ``latency-intake.txt`` (the
intake's event loop) under ``--out`` and prints one JSON line with the latencies measured while
sampled (py-spy pauses the processes: they are higher than the bench's).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import bench.projector as bp  # noqa: E402
from bench.profile_stacks import parse, py_spy, step_table, summarize  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1020)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--spy-rate", type=int, default=100)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "profiles")
    args = parser.parse_args()

    from services.core.logging import configure_logging
    from services.embedded.stack import EmbeddedStack

    configure_logging("ERROR", json=True)
    args.out.mkdir(parents=True, exist_ok=True)
    raws: dict[str, Path] = {}
    original = bp.process

    @contextlib.contextmanager
    def spied(cmd: list[str], env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
        name = "projector" if "services.projector.main" in cmd else "intake"
        raw = log_path.with_suffix(".collapsed")
        with original(cmd, env, log_path) as proc:
            spy = subprocess.Popen(
                [
                    *(py_spy(), "record", "--pid", str(proc.pid), "--rate", str(args.spy_rate)),
                    *("--threads", "--idle", "--nonblocking", "--format", "raw", "--output", str(raw)),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            try:
                yield proc
            finally:
                spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
                spy.communicate(timeout=60)
                raws[name] = raw

    bp.process = spied  # type: ignore[assignment]
    result: dict[str, Any] = {"bench": "profile_latency", "load_avg_1m_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="profile-latency-") as tmpdir:
        tmp = Path(tmpdir)
        stack = EmbeddedStack.start(tmp / "stack", timeout=60)
        try:
            lat = bp.latency(stack, stack.postgres.admin_url, args.posts, args.rate, tmp)
        finally:
            stack.stop()
        proj = raws["projector"].read_text()
        table, shares = step_table(proj, "projector-db")
        db_report, _ = summarize(
            "\n".join(ln for ln in proj.splitlines() if ln.split(";", 1)[0].endswith(": projector-db")),
            title="projector-db worker (wall time, idle included)",
        )
        loop_report, _ = summarize(
            "\n".join(ln for ln in proj.splitlines() if ln.split(";", 1)[0].endswith(": MainThread")),
            title="projector consumer loop (MainThread, wall time, idle included)",
        )
        (args.out / "latency-projector.txt").write_text(
            f"# post -> visible at {lat['achieved_rate']}/s while sampled: p50 {lat['p50']:.1f} ms, p99 "
            f"{lat['p99']:.1f} ms (HTTP 202 p50 {lat['ack_p50']:.1f}, p99 {lat['ack_p99']:.1f} ms)\n\n"
            f"{table}\n{db_report}\n{loop_report}"
        )
        intake = raws["intake"].read_text()
        intake_threads: Counter[str] = Counter()
        for frames, n in parse(intake):
            intake_threads[frames[0].split(": ", 1)[-1]] += n
        intake_report, _ = summarize(
            "\n".join(ln for ln in intake.splitlines() if ln.split(";", 1)[0].endswith(": MainThread")),
            title="intake event loop (MainThread, wall time, idle included)",
        )
        (args.out / "latency-intake.txt").write_text(
            f"# samples per thread: {json.dumps(dict(intake_threads))}\n\n{intake_report}"
        )
    result.update(
        {
            "post_to_visible_p50_ms": round(lat["p50"], 1),
            "post_to_visible_p99_ms": round(lat["p99"], 1),
            "intake_ack_p50_ms": round(lat["ack_p50"], 1),
            "intake_ack_p99_ms": round(lat["ack_p99"], 1),
            "achieved_rate": lat["achieved_rate"],
            "projector_db_thread_steps_pct": shares,
            "load_avg_1m_after": os.getloadavg()[0],
        }
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
