"""``bench/projector.py --members 1,2,3``: the same workload through 1, 2 and 3 projector processes.

For each member count: a fresh database and a 6-partition topic; the members are started and
wait until the group has settled (every partition assigned, every member holding some); then the
events are produced at once and the clock runs until every stored position reaches the produced
offsets. Meanwhile a sampler reads ``pg_stat_activity`` every 20 ms and counts the projector's
backends waiting on a lock, by wait event (``advisory`` would be a lock all members queue for;
``transactionid``/``tuple`` are row locks: two batches on one division). 2 cores cannot show
linear scaling; they can show the absence of a queue: events/s with 2 and 3 members not below 1.
"""

from __future__ import annotations

import collections
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.orm import Session

from bench.workload import workload
from services.embedded.stack import EmbeddedStack
from tests.projector_support import (
    oracle_standings,
    produce,
    stored_standings,
)

SAMPLE_EVERY_S = 0.02


class LockSampler:
    """Counts backends of one database waiting on locks, per wait event, until stopped."""

    def __init__(self, conninfo: str, database: str) -> None:
        self._conninfo = conninfo
        self._database = database
        self.samples = 0
        self.waits: collections.Counter[str] = collections.Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LockSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            while not self._stop.is_set():
                rows = conn.execute(
                    "SELECT wait_event, count(*) FROM pg_stat_activity "
                    "WHERE datname = %s AND wait_event_type = 'Lock' GROUP BY wait_event",
                    (self._database,),
                ).fetchall()
                self.samples += 1
                for event, n in rows:
                    self.waits[str(event)] += int(n)
                self._stop.wait(SAMPLE_EVERY_S)

    def report(self) -> dict[str, Any]:
        """Mean number of waiting backends per sample, by wait event (0: nobody ever waited)."""
        return {
            "samples": self.samples,
            "advisory_waiting_mean": round(self.waits.get("advisory", 0) / max(self.samples, 1), 4),
            "row_lock_waiting_mean": round(
                (self.waits.get("transactionid", 0) + self.waits.get("tuple", 0)) / max(self.samples, 1), 4
            ),
            "by_event": dict(self.waits),
        }


def _settled(engine: sa.Engine, group: str, members: int, partitions: int) -> bool:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT assigned FROM consumer_members WHERE consumer_group = :g"), {"g": group}
        ).all()
    sets = [set(r[0] or []) for r in rows]
    return len(sets) == members and all(sets) and set().union(*sets) == set(range(partitions))


def members_run(
    stack: EmbeddedStack,
    admin_url: str,
    n_events: int,
    members: int,
    tmp: Path,
    *,
    service_env: Any,
    process: Any,
    caught_up: Any,
) -> dict[str, Any]:
    """One member count: events/s once the group settled, lock waits, oracle equality."""
    w = workload(stack, admin_url, "bench-members", "bm", n_events, batch_size=2000, conflict_rate=0.0)
    settings, engine, reg, messages = w.settings, w.engine, w.reg, w.messages
    env = service_env(settings, STANDINGS_PROJECTOR__MEMBER_HEARTBEAT_S="0.5")
    group, topic = settings.projector.group_id, settings.kafka.topic
    conninfo = settings.database.sqlalchemy_url().replace("postgresql+psycopg://", "postgresql://")
    database = engine.url.database or ""
    with ExitStack() as procs:
        for i in range(members):
            procs.enter_context(
                process([sys.executable, "-m", "services.projector.main"], env, tmp / f"members{members}-{i}.log")
            )
        deadline = time.monotonic() + 120
        while not _settled(engine, group, members, 6):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{members} members did not settle on 6 partitions within 120 s")
            time.sleep(0.1)
        with LockSampler(conninfo, database) as sampler:
            started = time.perf_counter()
            tracker = produce(settings.kafka, messages)
            caught_up(engine, group, topic, tracker.next_offsets)
            elapsed = time.perf_counter() - started
    with Session(engine) as session:
        matches = stored_standings(session) == oracle_standings(reg, messages)
    engine.dispose()
    return {
        "members": members,
        "events": len(messages),
        "seconds": round(elapsed, 2),
        "events_per_s": round(len(messages) / elapsed),
        "locks": sampler.report(),
        "matches_from_scratch": matches,
    }
