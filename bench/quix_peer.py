"""The same-work peer: a Quix Streams application whose sink runs this project's unit of work.

Run by ``bench/peers.py`` in a virtualenv of its own (``.state/venv-quix``, from
``locks/bench-quix.txt``: quixstreams pins older confluent-kafka and pydantic than the project), with
the repository on ``PYTHONPATH`` and the database URL in ``BENCH_DATABASE_URL``. The application uses Quix's recommended at-least-once settings
(``processing_guarantee="at-least-once"``, manual checkpoints, no state), values as raw bytes (the
unit of work decodes them, as the projector does), and a checkpoint every ``--batch`` messages or
``--commit-interval`` seconds, whichever first (the tuning Quix's docs give for throughput:
larger checkpoints, fewer commits).

The sink collects every partition's records of a checkpoint and, at the checkpoint's flush, applies
them in ONE call of ``BatchApplier.apply`` (one PostgreSQL transaction, positions included), which
is what the projector does per consumed batch. Quix commits the Kafka offsets after the flush.

Prints ``first-record <CLOCK_MONOTONIC>`` at its first record, for the caller's clock.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from quixstreams import Application
from quixstreams.sinks import BaseSink
from sqlalchemy.orm import sessionmaker

from services.core.db.engine import make_engine
from services.core.kafka.dlq import DeadLetterPublisher
from services.core.planning.batch import Incoming, decode_batch
from services.core.settings import DatabaseSettings, KafkaSettings
from services.projector.service import BatchApplier


class ProjectionSink(BaseSink):
    """Every record of a checkpoint, applied by the project's unit of work at the flush."""

    def __init__(self, applier: BatchApplier) -> None:
        super().__init__()
        self._applier = applier
        self._pending: list[Incoming] = []
        self._first = True

    def add(self, value: Any, key: Any, timestamp: int, headers: Any, topic: str, partition: int, offset: int) -> None:
        if self._first:
            print(f"first-record {time.monotonic()}", flush=True)
            self._first = False
        self._pending.append(Incoming(topic, partition, offset, key, value, headers))

    def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        self._applier.apply(decode_batch(batch))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--commit-interval", type=float, default=1.0)
    parser.add_argument("--state-dir", required=True)
    args = parser.parse_args()

    kafka = KafkaSettings(bootstrap_servers=args.bootstrap, topic=args.topic, dlq_topic=f"{args.topic}.dlq")
    engine = make_engine(DatabaseSettings(url=os.environ["BENCH_DATABASE_URL"]))
    applier = BatchApplier(sessionmaker(engine), DeadLetterPublisher(kafka, args.group), args.group)
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        processing_guarantee="at-least-once",
        commit_every=args.batch,
        commit_interval=args.commit_interval,
        consumer_extra_config={"fetch.wait.max.ms": 50, "queued.max.messages.kbytes": 65536},
        state_dir=args.state_dir,
        use_changelog_topics=False,
        auto_create_topics=False,
        loglevel="WARNING",
    )
    topic = app.topic(args.topic, value_deserializer="bytes", key_deserializer="bytes")
    app.dataframe(topic).sink(ProjectionSink(applier))
    app.run()


if __name__ == "__main__":
    main()
