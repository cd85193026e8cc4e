"""Where the projector spends its time, on the embedded stack (tansu, PostgreSQL 18).

    python bench/profile_projector.py [--events 60000] [--batch-size 5000] [--rate 200]
                                      [--out bench/results/profiles]

Same workload as ``bench/projector.py`` step 3 (2 tournaments x 50 divisions, revisions, voids,
duplicates and conflicts mixed; production path with the ranking hook), profiled twice:

1. ``py-spy record --threads --idle`` on this process while a real ``ProjectorLoop`` consumes
   the topic (from assignment until every stored position reaches the produced offsets). Idle
   samples are kept, so each thread's samples are its wall time: the ``projector-db`` worker's
   shows how a batch's time splits between Python and waiting on PostgreSQL, the main thread's
   what consuming/decoding/committing costs. -> ``projector-pyspy.txt``
2. pyinstrument (wall clock, main thread) around ``BatchApplier.apply(decode_batch(batch))`` over
   the same messages pre-consumed into memory: the batch unit of work without Kafka.
   -> ``projector-pyinstrument.txt``

Prints one JSON line (events/s of both runs, main shares). Needs py-spy and pyinstrument
(``pip install py-spy pyinstrument``) and permission to ptrace this process (root, or
``kernel.yama.ptrace_scope=0``). py-spy pauses the process to sample: rates here are lower than
``bench/projector.py``'s.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.profile_stacks import parse, py_spy, step_table, summarize  # noqa: E402
from bench.projector import seconds_until_caught_up, wait_assigned  # noqa: E402
from bench.workload import workload  # noqa: E402


def setup(stack: Any, admin_url: str, n_events: int, batch_size: int) -> tuple[Any, Any, Any, Any]:
    from tests.projector_support import produce

    w = workload(stack, admin_url, "prof", "pf", n_events, batch_size=batch_size)
    tracker = produce(w.settings.kafka, w.messages)
    return w.settings, w.engine, w.messages, tracker


def by_thread(text: str) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for frames, n in parse(text):
        head = next((f for f in frames if f.startswith("thread ")), "thread ?")
        counts[head] += n
    return dict(counts)


def thread_report(text: str, name: str, title: str) -> tuple[str, dict[str, object]]:
    """Summary of the stacks of the thread named ``name`` (py-spy's ``thread (tid): name`` frame)."""
    keep = [line for line in text.splitlines() if line.split(";", 1)[0].endswith(f": {name}")]
    return summarize("\n".join(keep), title=title)


def run_spy(stack: Any, admin_url: str, n_events: int, batch_size: int, rate: int, tmp: Path) -> tuple[float, str]:

    from services.projector.loop import ProjectorLoop

    settings, engine, messages, tracker = setup(stack, admin_url, n_events, batch_size)
    loop = ProjectorLoop(settings, engine)
    raw = tmp / "projector.collapsed"
    thread = threading.Thread(target=loop.run, daemon=True, name="projector-loop")
    thread.start()
    group, topic = settings.projector.group_id, settings.kafka.topic
    spy: subprocess.Popen[bytes] | None = None
    try:
        wait_assigned(loop)
        cmd = [py_spy(), "record", "--pid", str(os.getpid()), "--rate", str(rate), "--threads", "--idle"]
        spy = subprocess.Popen(
            [*cmd, "--format", "raw", "--output", str(raw)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        time.sleep(0.5)  # py-spy attached
        elapsed = seconds_until_caught_up(engine, group, topic, tracker.next_offsets)
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
            _, err = spy.communicate(timeout=60)
            if not raw.exists():
                raise RuntimeError(f"py-spy wrote nothing: {err.decode()[-2000:]}")
        loop.stop()
        thread.join(60)
        engine.dispose()
    return len(messages) / elapsed, raw.read_text()


def run_pyinstrument(stack: Any, admin_url: str, n_events: int, batch_size: int) -> tuple[float, str, dict[str, float]]:
    from confluent_kafka import Consumer
    from pyinstrument import Profiler
    from sqlalchemy.orm import sessionmaker

    from services.core.kafka.consumer import consumer_conf
    from services.core.kafka.dlq import DeadLetterPublisher
    from services.core.planning.batch import Incoming, decode_batch
    from services.projector.service import BatchApplier

    settings, engine, messages, _ = setup(stack, admin_url, n_events, batch_size)
    group = settings.projector.group_id
    consumer = Consumer(consumer_conf(settings.kafka, group, settings.projector.consumer))
    consumer.subscribe([settings.kafka.topic])
    incoming: list[Incoming] = []
    deadline = time.monotonic() + 120
    while len(incoming) < len(messages) and time.monotonic() < deadline:
        incoming += [Incoming.from_message(m) for m in consumer.consume(1000, timeout=0.5) if m.error() is None]
    consumer.close()
    dlq = DeadLetterPublisher(settings.kafka, group)
    dlq.warm_up()
    time.sleep(2)  # the idempotent producer gets its id (~0.5 s) before the first flush, as in the loop
    applier = BatchApplier(sessionmaker(engine), dlq, group)
    phases: dict[str, float] = {"decode_s": 0.0, "apply_s": 0.0}
    profiler = Profiler(interval=0.001, async_mode="disabled")
    started = time.perf_counter()
    profiler.start()
    for i in range(0, len(incoming), batch_size):
        t0 = time.perf_counter()
        decoded = decode_batch(incoming[i : i + batch_size])
        t1 = time.perf_counter()
        applier.apply(decoded)
        phases["decode_s"] += t1 - t0
        phases["apply_s"] += time.perf_counter() - t1
    profiler.stop()
    elapsed = time.perf_counter() - started
    dlq.close()
    engine.dispose()
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    return len(incoming) / elapsed, text, {k: round(v, 3) for k, v in phases.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "profiles")
    args = parser.parse_args()

    from services.core.logging import configure_logging
    from services.embedded.stack import EmbeddedStack

    configure_logging("ERROR", json=True)
    args.out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"bench": "profile_projector", "events": args.events, "batch_size": args.batch_size}
    result["load_avg_1m_before"] = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="profile-projector-") as tmpdir:
        tmp = Path(tmpdir)
        stack = EmbeddedStack.start(tmp / "stack", timeout=60)
        try:
            admin = stack.postgres.admin_url
            rate, raw = run_spy(stack, admin, args.events, args.batch_size, args.rate, tmp)
            threads = by_thread(raw)
            db_report, db_shares = thread_report(raw, "projector-db", "projector-db worker thread (wall time)")
            main_report, main_shares = thread_report(
                raw, "projector-loop", "projector loop thread (consume, decode, Kafka commit; wall time)"
            )
            all_report, _ = summarize(raw, title="whole process (all threads, idle included)")
            if os.environ.get("PROFILE_KEEP_RAW"):
                Path(os.environ["PROFILE_KEEP_RAW"]).write_text(raw)
            steps, step_shares = step_table(raw, "projector-db")
            (args.out / "projector-pyspy.txt").write_text(
                f"# ProjectorLoop, {args.events} events, batch {args.batch_size}: {rate:,.0f} events/s while sampled\n"
                f"# samples per thread: {json.dumps(threads)}\n\n{steps}\n{db_report}\n{main_report}\n{all_report}"
            )
            result["pyspy_db_thread_steps_pct"] = step_shares
            result["loop_events_per_s_while_sampled"] = round(rate)
            result["pyspy_db_thread"] = db_shares
            result["pyspy_loop_thread"] = main_shares

            rate2, text, phases = run_pyinstrument(stack, admin, args.events, args.batch_size)
            (args.out / "projector-pyinstrument.txt").write_text(
                f"# BatchApplier.apply(decode_batch(...)) over {args.events} pre-consumed events, batch "
                f"{args.batch_size}: {rate2:,.0f} events/s under pyinstrument; phases {phases}\n\n{text}"
            )
            result["apply_events_per_s_under_pyinstrument"] = round(rate2)
            result["apply_phases_s"] = phases
        finally:
            stack.stop()
    result["load_avg_1m_after"] = os.getloadavg()[0]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
