"""The same-statements floor of the projector's unit of work, for ``bench/projector.py``.

The standard workload is applied in batches by ``BatchApplier.apply`` in this process (Kafka left
out: the messages are handed over as they would be consumed), with every statement it sends to
PostgreSQL recorded at the psycopg cursor (text, parameters, binary or not), per batch. Then a
second database with the same registration replays exactly those statements, batch by batch, one
transaction per batch like the projector, with no Python planning in between. The floor is the
replay's events/s: what the same SQL costs on this machine when nothing else runs.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from sqlalchemy.orm import Session, sessionmaker

from bench.workload import Workload, fresh
from services.core.db.driver import copy_into
from services.core.kafka.dlq import DeadLetterPublisher
from services.core.planning.batch import Incoming, decode_batch
from services.embedded.stack import EmbeddedStack
from services.projector.service import BatchApplier

Statement = tuple[str, Any, bool]  # SQL text as sent, its parameters (or a CopyIn), binary results


@dataclass
class CopyIn:
    """What a ``COPY … FROM STDIN`` sent: its column types and rows."""

    types: list[str] = field(default_factory=list)
    rows: list[Sequence[Any]] = field(default_factory=list)


class _RecordingCopy:
    """Forwards to psycopg's ``Copy`` and keeps what it was given."""

    def __init__(self, copy: Any, into: CopyIn) -> None:
        self._copy, self._into = copy, into

    def set_types(self, types: Sequence[str]) -> None:
        self._into.types = list(types)
        self._copy.set_types(types)

    def write_row(self, row: Sequence[Any]) -> None:
        self._into.rows.append(row)
        self._copy.write_row(row)


@dataclass
class Floor:
    events: int
    batches: int
    statements: int
    apply_seconds: float  # BatchApplier.apply, in process (no Kafka)
    replay_seconds: float  # the recorded statements alone
    by_statement: dict[str, float]  # replay seconds per statement label

    def summary(self) -> dict[str, Any]:
        top = sorted(self.by_statement.items(), key=lambda kv: -kv[1])[:6]
        return {
            "events": self.events,
            "batches": self.batches,
            "statements": self.statements,
            "apply_events_per_s": round(self.events / self.apply_seconds),
            "floor_events_per_s": round(self.events / self.replay_seconds),
            # Where the floor's time goes: the costliest statements' shares of the replay.
            "floor_shares": {label: round(t / self.replay_seconds, 3) for label, t in top},
        }


_WRITE = re.compile(r"^\s*(?:WITH\b.*?\)\s*)?(INSERT INTO|UPDATE|DELETE FROM|COPY)\s+(\w+)", re.S | re.I)
_READ = re.compile(r"\b(?:FROM|JOIN)\s+(\w+)\b(?!\s*\()", re.I)  # a table, not a function such as unnest(...)


def statement_label(sql: str) -> str:
    """``INSERT results``, ``SELECT standings_rows``…: a statement's verb and first table."""
    write = _WRITE.match(sql)
    if write:
        return f"{write.group(1).split()[0].upper()} {write.group(2)}"
    read = _READ.search(sql)
    return f"SELECT {read.group(1)}" if read else " ".join(sql.split())[:40]


@contextmanager
def recording(into: list[Statement]) -> Iterator[None]:
    """Record every ``execute`` and ``copy`` of psycopg cursors (SQLAlchemy's and the raw driver's) meanwhile."""
    original, original_many, original_copy = psycopg.Cursor.execute, psycopg.Cursor.executemany, psycopg.Cursor.copy

    def text(cursor: psycopg.Cursor[Any], query: Any) -> str:
        return query if isinstance(query, str) else query.as_string(cursor)

    def execute(self: psycopg.Cursor[Any], query: Any, params: Any = None, **kwargs: Any) -> Any:
        into.append((text(self, query), params, self.format == 1))
        return original(self, query, params, **kwargs)

    def executemany(self: psycopg.Cursor[Any], query: Any, params_seq: Any, **kwargs: Any) -> Any:
        rows = list(params_seq)
        into.extend((text(self, query), params, self.format == 1) for params in rows)
        return original_many(self, query, rows, **kwargs)

    @contextmanager
    def copy(self: psycopg.Cursor[Any], statement: Any, params: Any = None, **kwargs: Any) -> Iterator[Any]:
        data = CopyIn()
        into.append((text(self, statement), data, self.format == 1))
        with original_copy(self, statement, params, **kwargs) as cp:
            yield _RecordingCopy(cp, data)

    psycopg.Cursor.execute = execute  # type: ignore[method-assign]
    psycopg.Cursor.executemany = executemany  # type: ignore[method-assign]
    psycopg.Cursor.copy = copy  # type: ignore[method-assign]
    try:
        yield
    finally:
        psycopg.Cursor.execute = original  # type: ignore[method-assign]
        psycopg.Cursor.executemany = original_many  # type: ignore[method-assign]
        psycopg.Cursor.copy = original_copy  # type: ignore[method-assign]


def as_consumed(w: Workload, partitions: int = 6) -> list[Incoming]:
    """The workload's messages with the partitions and offsets a keyed producer would give them."""
    offsets: dict[int, int] = {}
    out = []
    for m in w.messages:
        partition = sum(m.key.encode()) % partitions  # any stable key -> partition map will do
        offset = offsets.get(partition, 0)
        offsets[partition] = offset + 1
        out.append(Incoming(w.settings.kafka.topic, partition, offset, m.key.encode(), m.value, list(m.headers)))
    return out


def replay(conninfo: str, batches: list[list[Statement]]) -> tuple[float, dict[str, float]]:
    """Seconds to replay ``batches`` (one transaction each), and their split by statement label."""
    by_statement: dict[str, float] = {}
    with psycopg.connect(conninfo) as conn:
        started = time.perf_counter()
        for statements in batches:
            with conn.transaction():
                for sql, params, binary in statements:
                    at = time.perf_counter()
                    if isinstance(params, CopyIn):
                        copy_into(conn, sql, params.types, params.rows)
                    else:
                        conn.cursor(binary=binary).execute(sql, params)  # type: ignore[arg-type]
                    label = statement_label(sql)
                    by_statement[label] = by_statement.get(label, 0.0) + time.perf_counter() - at
        return time.perf_counter() - started, by_statement


def same_statements_floor(stack: EmbeddedStack, admin_url: str, w: Workload, batch_size: int) -> Floor:
    """``w``'s events applied and recorded, then replayed on a database registered alike."""
    group = w.settings.projector.group_id
    dlq = DeadLetterPublisher(w.settings.kafka, group)
    dlq.warm_up()
    applier = BatchApplier(sessionmaker(w.engine), dlq, group)
    messages = as_consumed(w)
    recorded: list[list[Statement]] = []
    apply_seconds = 0.0
    for i in range(0, len(messages), batch_size):
        decoded = decode_batch(messages[i : i + batch_size])
        statements: list[Statement] = []
        with recording(statements):
            started = time.perf_counter()
            applier.apply(decoded)
            apply_seconds += time.perf_counter() - started
        recorded.append(statements)
    dlq.close()
    settings, engine = fresh(stack, admin_url, "bench-floor", batch_size=batch_size)
    with Session(engine) as session, session.begin():
        w.reg.insert(session)
    engine.dispose()
    conninfo = settings.database.sqlalchemy_url().replace("postgresql+psycopg://", "postgresql://")
    replay_seconds, by_statement = replay(conninfo, recorded)
    return Floor(len(messages), len(recorded), sum(map(len, recorded)), apply_seconds, replay_seconds, by_statement)
