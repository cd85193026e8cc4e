"""Peers doing the projector's work, for ``bench/projector.py``'s same-work ratios.

- ``plain_loop_rate``: the loop a Python user writes first: ``consume(N)``, the project's unit of
  work (``BatchApplier.apply`` over the decoded batch: one transaction, positions included), then a
  synchronous offset commit, in one thread.
- ``quix_rate``: a Quix Streams application (``bench/quix_peer.py``) whose sink runs the same unit
  of work per checkpoint, in its own process and virtualenv (``.state/venv-quix``, made from
  ``locks/bench-quix.txt`` on first use; ``python bench/peers.py --relock`` writes that lock).

Each is timed like the projector: from its first record (the projector: from its partitions'
assignment, which is earlier) until every stored position reached the produced offsets.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from confluent_kafka import Consumer  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from bench.workload import Workload  # noqa: E402
from services.core.kafka.dlq import DeadLetterPublisher  # noqa: E402
from services.core.planning.batch import Incoming, decode_batch  # noqa: E402
from services.projector.service import BatchApplier  # noqa: E402
from tests.projector_support import produce  # noqa: E402

QUIX_LOCK = REPO / "locks" / "bench-quix.txt"
QUIX_VENV = REPO / ".state" / "venv-quix"
QUIX_VERSION = "3.28.1"


def caught_up(w: Workload, next_offsets: dict[int, int], timeout_s: float = 600) -> float:
    """The CLOCK_MONOTONIC instant every stored position reached ``next_offsets``."""
    from bench.projector import seconds_until_caught_up

    seconds_until_caught_up(w.engine, w.settings.projector.group_id, w.settings.kafka.topic, next_offsets, timeout_s)
    return time.monotonic()


def plain_loop_rate(w: Workload, batch_size: int) -> tuple[float, dict[str, Any]]:
    settings = w.settings
    tracker = produce(settings.kafka, w.messages)
    group = settings.projector.group_id
    applier = BatchApplier(sessionmaker(w.engine), DeadLetterPublisher(settings.kafka, group), group)
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka.bootstrap_servers,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 50,
        }
    )
    stop = threading.Event()
    first: list[float] = []

    def run() -> None:
        consumer.subscribe([settings.kafka.topic])
        while not stop.is_set():
            batch = [Incoming.from_message(m) for m in consumer.consume(batch_size, 0.1) if m.error() is None]
            if not batch:
                continue
            if not first:
                first.append(time.monotonic())
            applier.apply(decode_batch(batch))
            consumer.commit(asynchronous=False)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        done = caught_up(w, tracker.next_offsets)
    finally:
        stop.set()
        thread.join(60)
        consumer.close()
    elapsed = done - first[0]
    return len(w.messages) / elapsed, {"events": len(w.messages), "seconds": round(elapsed, 2)}


def quix_python() -> Path:
    """The Quix virtualenv's interpreter, (re)made when the lock changed."""
    stamp = QUIX_VENV / "lock.sha256"
    digest = hashlib.sha256(QUIX_LOCK.read_bytes()).hexdigest()
    python = QUIX_VENV / "bin" / "python"
    if not (stamp.exists() and stamp.read_text() == digest and python.exists()):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(QUIX_VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, "--require-hashes", "--only-binary=:all:", "-r", str(QUIX_LOCK)], check=True)
        stamp.write_text(digest)
    return python


def quix_rate(w: Workload, batch_size: int) -> tuple[float, dict[str, Any]]:
    settings = w.settings
    python = quix_python()
    tracker = produce(settings.kafka, w.messages)
    with tempfile.TemporaryDirectory(prefix="quix-state-") as state:
        args = [
            str(python),
            str(REPO / "bench" / "quix_peer.py"),
            f"--bootstrap={settings.kafka.bootstrap_servers}",
            f"--topic={settings.kafka.topic}",
            f"--group={settings.projector.group_id}",
            f"--batch={batch_size}",
            f"--state-dir={state}",
        ]
        proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            text=True,
            env={
                "PYTHONPATH": str(REPO),
                "PATH": "/usr/bin:/bin",
                "BENCH_DATABASE_URL": settings.database.url.get_secret_value(),  # not on the command line
            },
        )
        try:
            done = caught_up(w, tracker.next_offsets)
        finally:
            proc.terminate()
            out, _ = proc.communicate(timeout=60)
    starts = [float(line.split()[1]) for line in out.splitlines() if line.startswith("first-record ")]
    if not starts:
        raise RuntimeError(f"the Quix peer processed nothing: {out[-2000:]}")
    elapsed = done - starts[0]
    info = {"events": len(w.messages), "seconds": round(elapsed, 2), "quixstreams": QUIX_VERSION}
    return len(w.messages) / elapsed, info


def relock() -> None:
    """Write locks/bench-quix.txt: quixstreams and the project's runtime dependencies, with the
    version floors quixstreams cannot meet (confluent-kafka, pydantic) left to the resolver."""
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    relaxed = [d.split(">")[0] if d.startswith(("confluent-kafka", "pydantic")) else d for d in deps]
    with tempfile.NamedTemporaryFile("w", suffix=".in") as spec:
        spec.write("\n".join([f"quixstreams=={QUIX_VERSION}", *relaxed]) + "\n")
        spec.flush()
        subprocess.run(
            ["uv", "pip", "compile", "--quiet", "--python-version", "3.11", "--generate-hashes", spec.name,
             "-o", str(QUIX_LOCK), "--custom-compile-command", "python bench/peers.py --relock"],
            check=True,
        )  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:] == ["--relock"]:
        relock()
    else:
        sys.exit("usage: python bench/peers.py --relock")
