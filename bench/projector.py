"""Projector benchmark on the embedded stack (PostgreSQL 18, tansu, osmem started by the launcher).

    python bench/projector.py --quick      # < 2 minutes
    python bench/projector.py              # 100 000 events

Prints, in one run:
  1. raw consume rate: ``consume(500)`` loop over pre-produced 250-byte messages, no processing;
  2. raw batched-upsert rate of this machine: standings-shaped rows, 500 per transaction, every row
     an update, both with one ``unnest`` INSERT … ON CONFLICT and with COPY into a temp table
     (the better of the two is the bound);
  3. projector events/s over N result events (2 tournaments x 50 divisions, revisions, voids,
     duplicates and conflicts mixed, interleaved like a live tournament), from the partitions'
     assignment until every stored position reached the produced offsets (delivery reports);
     with the ranking hook (production path) and without it (the projection alone), and where the
     CPU of the first of these runs went, in µs per event (``bench/cpu_accounting.py``: the
     projector's threads, PostgreSQL, the broker, the kernel's workers); then the same
     number of events with 60 bracket divisions of every format fought among the round-robin ones
     (``mixed``), and 180 bracket divisions alone (each checked against its log-order replay);
     and the same events through two same-work peers (``bench/peers.py``): a plain ``consume(N)``
     loop and a Quix Streams application, both running this project's unit of work per batch; and
     the same-statements floor (``bench/floor.py``): the SQL those batches send, recorded and
     replayed alone on a database registered alike, one transaction per batch;
  4. the same projector with a DB commit and a synchronous offset commit per message (batch size 1:
     the shape of the article's consumer), over a few thousand events, and the ratio;
  5. post -> visible latency at 200 results/s: intake (``python -m services.intake.main``) answers
     HTTP 202, until the result's transaction (results row + standings rows) is visible in
     PostgreSQL, detected with LISTEN standings_changed plus a lookup (the same NOTIFY invalidates
     the read API's cached body); projector and intake run as separate processes like in production.
     Posts are sent open loop (each at its scheduled time, over asyncio keep-alive connections), so a
     slow intake cannot delay the clock of the posts behind it (``--latency-client httpx``: the older
     8-thread client, for comparison).

Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import psycopg  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from confluent_kafka import Consumer, Producer  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.cpu_accounting import CpuAccount, cpu_seconds  # noqa: E402
from bench.floor import same_statements_floor  # noqa: E402
from bench.peers import QUIX_VERSION, plain_loop_rate, quix_rate  # noqa: E402
from bench.workload import PEPPER, fresh, new_database, workload  # noqa: E402
from services.core.db import tokens as token_repo  # noqa: E402
from services.core.db.engine import make_engine  # noqa: E402
from services.core.kafka.admin import ensure_topics  # noqa: E402
from services.core.logging import configure_logging  # noqa: E402
from services.core.settings import (  # noqa: E402
    KafkaSettings,
    Settings,
)
from services.embedded.stack import EmbeddedStack  # noqa: E402
from services.embedded.waiting import free_port  # noqa: E402
from services.ops.replay import replay  # noqa: E402
from services.projector.loop import ProjectorLoop  # noqa: E402
from services.projector.service import BatchApplier  # noqa: E402
from tests.projector_support import (  # noqa: E402
    build_registration,
    produce,
    unique,
)

BRACKET_DIVISIONS = 60  # in the mixed run (about a tenth of its events); three times as many alone


def log(msg: str) -> None:
    print(msg, flush=True)


# -- stack and databases ------------------------------------------------------------------------


# -- 1. raw consume -----------------------------------------------------------------------------


def raw_consume_rate(bootstrap: str, n: int) -> float:
    topic = unique("bench-raw")
    ensure_topics(KafkaSettings(bootstrap_servers=bootstrap, topic=topic, dlq_topic=topic + ".dlq"))
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
    value = b"x" * 250
    for i in range(n):
        while True:
            try:
                producer.produce(topic, value=value, key=str(i % 600).encode())
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(60) == 0
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique("bench-raw"),
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 5,
            **{k.replace("_", "."): v for k, v in {"session_timeout_ms": 6000, "max_poll_interval_ms": 6000}.items()},
        }
    )
    consumer.subscribe([topic])
    got = 0
    started: float | None = None
    deadline = time.monotonic() + 120
    while got < n and time.monotonic() < deadline:
        msgs = consumer.consume(500, timeout=0.5)
        if msgs and started is None:
            started = time.perf_counter()
        got += sum(1 for m in msgs if m.error() is None)
    elapsed = time.perf_counter() - (started or time.perf_counter())
    consumer.close()
    return got / elapsed


# -- 2. raw upsert ------------------------------------------------------------------------------

_UNNEST = """
    INSERT INTO standings_rows AS s (tournament_id, division_id, athlete_id, rank, bouts, wins, losses, draws,
                                     points, finishes, tp_for, tp_against, tie_unresolved, previous_rank)
    SELECT * FROM unnest(%(t)b::text[], %(d)b::text[], %(a)b::text[], %(rank)b::int[], %(n)b::int[],
                         %(n)b::int[], %(n)b::int[], %(n)b::int[], %(n)b::int[], %(n)b::int[], %(n)b::int[],
                         %(n)b::int[], %(tied)b::boolean[], %(prev)b::int[])
    ON CONFLICT (tournament_id, division_id, athlete_id) DO UPDATE SET
        rank = EXCLUDED.rank, bouts = EXCLUDED.bouts, wins = EXCLUDED.wins, losses = EXCLUDED.losses,
        draws = EXCLUDED.draws, points = EXCLUDED.points, finishes = EXCLUDED.finishes, tp_for = EXCLUDED.tp_for,
        tp_against = EXCLUDED.tp_against, tie_unresolved = EXCLUDED.tie_unresolved,
        previous_rank = EXCLUDED.previous_rank
"""


def raw_upsert_rates(conninfo: str, rows: int) -> dict[str, float]:
    """rows/s of standings-shaped upserts (every row an update), 500 rows per transaction."""
    per_txn = 500
    keys = [("raw-t", f"d{i // 25}", f"a{i}") for i in range(per_txn * 20)]
    rates: dict[str, float] = {}
    with psycopg.connect(conninfo) as conn:
        conn.execute("DELETE FROM standings_rows WHERE tournament_id = 'raw-t'")
        conn.commit()

        def chunk(i: int) -> list[tuple[str, str, str]]:
            start = (i * per_txn) % len(keys)
            return keys[start : start + per_txn]

        def unnest(i: int) -> None:
            part = chunk(i)
            with conn.cursor() as cur:
                cur.execute(
                    _UNNEST,
                    {
                        "t": [k[0] for k in part],
                        "d": [k[1] for k in part],
                        "a": [k[2] for k in part],
                        "rank": [i % 7 + 1] * len(part),
                        "n": [i % 11] * len(part),
                        "tied": [False] * len(part),
                        "prev": [None] * len(part),
                    },
                )
            conn.commit()

        def copy(i: int) -> None:
            part = chunk(i)
            with conn.cursor() as cur:
                cur.execute("CREATE TEMP TABLE IF NOT EXISTS stage (LIKE standings_rows) ON COMMIT DELETE ROWS")
                with cur.copy("COPY stage FROM STDIN (FORMAT BINARY)") as cp:
                    # standings_rows column order: t, d, athlete, rank, previous_rank, 8 counters, tie_unresolved
                    cp.set_types(["text", "text", "text", "int4", "int4", *["int4"] * 8, "bool"])
                    n = i % 11
                    for t, d, a in part:
                        cp.write_row((t, d, a, i % 7 + 1, None, n, n, n, n, n, n, n, n, False))
                cur.execute(
                    """
                    INSERT INTO standings_rows SELECT * FROM stage
                    ON CONFLICT (tournament_id, division_id, athlete_id) DO UPDATE SET
                        rank = EXCLUDED.rank, bouts = EXCLUDED.bouts, wins = EXCLUDED.wins,
                        losses = EXCLUDED.losses, draws = EXCLUDED.draws, points = EXCLUDED.points,
                        finishes = EXCLUDED.finishes, tp_for = EXCLUDED.tp_for, tp_against = EXCLUDED.tp_against,
                        tie_unresolved = EXCLUDED.tie_unresolved, previous_rank = EXCLUDED.previous_rank
                    """
                )
            conn.commit()

        for i in range(len(keys) // per_txn):  # every later row is an update
            unnest(i)
        for name, fn in (("unnest", unnest), ("copy", copy)):
            started = time.perf_counter()
            for i in range(rows // per_txn):
                fn(i)
            rates[name] = rows / (time.perf_counter() - started)
        conn.execute("DELETE FROM standings_rows WHERE tournament_id = 'raw-t'")
        conn.commit()
    return rates


# -- 3./4. projector ----------------------------------------------------------------------------


def wait_assigned(loop: ProjectorLoop, timeout_s: float = 60) -> None:
    """Until the loop has its partitions (the group join), or the timeout."""
    deadline = time.monotonic() + timeout_s
    while not loop.assigned and time.monotonic() < deadline:
        time.sleep(0.005)


_POSITIONS = "SELECT partition, next_offset FROM consumer_positions WHERE consumer_group = %s AND topic = %s"


def seconds_until_caught_up(
    engine: sa.Engine, group: str, topic: str, next_offsets: dict[int, int], timeout_s: float = 900
) -> float:
    """Seconds until every stored consumer position reaches the produced offsets (or the timeout).

    Polled every 20 ms on one raw DB-API connection: the projector under test and the plain-loop
    peer run in this process, so the harness holds their GIL as briefly as it can. (An ORM session
    per poll took 6 µs of this thread's CPU per event, about a tenth of the projector's.)"""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout_s
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        while time.monotonic() < deadline:
            cursor.execute(_POSITIONS, (group, topic))
            now = {int(p): int(o) for p, o in cursor.fetchall()}
            raw.rollback()  # no snapshot held between polls
            if all(now.get(p, 0) >= o for p, o in next_offsets.items()):
                break
            time.sleep(0.02)
    finally:
        raw.close()
    return time.perf_counter() - started


def projector_rate(
    stack: EmbeddedStack,
    admin_url: str,
    n_events: int,
    *,
    batch_size: int,
    ranking_hook: bool,
    check: bool,
    bracket_divisions: int = 0,
    round_robin: bool = True,
    measure_replay: bool = False,
) -> tuple[float, dict[str, Any]]:
    w = workload(
        stack,
        admin_url,
        "bench",
        "bn",
        n_events,
        batch_size=batch_size,
        bracket_divisions=bracket_divisions,
        round_robin=round_robin,
    )
    settings, engine, messages = w.settings, w.engine, w.messages
    tracker = produce(settings.kafka, messages)
    applier = None
    if not ranking_hook:
        from sqlalchemy.orm import sessionmaker

        from services.core.kafka.dlq import DeadLetterPublisher

        dlq = DeadLetterPublisher(settings.kafka, settings.projector.group_id)
        applier = BatchApplier(sessionmaker(engine), dlq, settings.projector.group_id, ranking_hook=lambda *_: None)
    loop = ProjectorLoop(settings, engine, applier=applier, dlq=applier._dlq if applier else None)
    thread = threading.Thread(target=loop.run, daemon=True, name="projector-loop")
    thread.start()
    group, topic = settings.projector.group_id, settings.kafka.topic
    cpu = CpuAccount(
        {"postgres": stack.postgres.pid, "broker": stack.kafka.pid},
        threads=("projector-db", "projector-loop", "MainThread"),
    )
    try:
        wait_assigned(loop)
        cpu.start()
        elapsed = seconds_until_caught_up(engine, group, topic, tracker.next_offsets)
        cpu_per_event = cpu.per_event(len(messages))
    finally:
        loop.stop()
        thread.join(60)
    info: dict[str, Any] = {"events": len(messages), "seconds": round(elapsed, 2), "batch_size": batch_size}
    info["cpu_us_per_event"] = cpu_per_event
    if bracket_divisions:
        info.update(bracket_divisions=bracket_divisions, bracket_events=w.bracket_events)
    if check:
        info["matches_from_scratch"] = w.matches_from_scratch()
    if measure_replay:  # `standings replay --from-beginning --dry-run` over the same log
        report = replay(settings, engine, dry_run=True, idle_timeout_s=5)
        info.update(replay_events_per_s=round(report.events_per_s), replay_equal=report.equal)
    engine.dispose()
    return len(messages) / elapsed, info


def peer_rate(
    stack: EmbeddedStack, admin_url: str, n_events: int, batch_size: int, peer: str, check: bool
) -> tuple[float, dict[str, Any]]:
    """The standard workload (same seed: the same events) through a same-work peer."""
    w = workload(stack, admin_url, f"bench-{peer}", "bn", n_events, batch_size=batch_size)
    rate, info = (plain_loop_rate if peer == "plain" else quix_rate)(w, batch_size)
    if check:
        info["matches_from_scratch"] = w.matches_from_scratch()
    w.engine.dispose()
    return rate, info


def per_message_rate(stack: EmbeddedStack, admin_url: str, n_events: int) -> tuple[float, dict[str, Any]]:
    """The article's consumer shape with this projector's repository: for every message one DB
    transaction (same unit of work, ranking hook included), then a synchronous offset commit."""
    from sqlalchemy.orm import sessionmaker

    from services.core.kafka.consumer import consumer_conf
    from services.core.kafka.dlq import DeadLetterPublisher
    from services.core.planning.batch import Incoming, decode_one

    w = workload(stack, admin_url, "bench-pm", "pm", n_events, batch_size=1)
    settings, engine, messages = w.settings, w.engine, w.messages
    produce(settings.kafka, messages)
    group = settings.projector.group_id
    dlq = DeadLetterPublisher(settings.kafka, group)
    dlq.warm_up()
    applier = BatchApplier(sessionmaker(engine), dlq, group)
    consumer = Consumer(consumer_conf(settings.kafka, group, settings.projector.consumer))
    consumer.subscribe([settings.kafka.topic])
    done = 0
    started: float | None = None
    deadline = time.monotonic() + 300
    while done < len(messages) and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None or msg.error() is not None:
            continue
        started = started or time.perf_counter()
        applier.apply([decode_one(Incoming.from_message(msg))])
        consumer.commit(message=msg, asynchronous=False)
        done += 1
    elapsed = time.perf_counter() - (started or time.perf_counter())
    consumer.close()
    dlq.close()
    engine.dispose()
    return done / elapsed, {"events": done, "seconds": round(elapsed, 2)}


def serve_projector_without_ranking_hook() -> None:
    """``--serve-projector-without-ranking-hook``: the projector process (settings from STANDINGS_*)
    with a no-op ranking hook, to show how much of the latency the hook costs."""
    import signal

    from sqlalchemy.orm import sessionmaker

    from services.core.kafka.dlq import DeadLetterPublisher

    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    engine = make_engine(settings.database, pool_size=3)
    group = settings.projector.group_id
    dlq = DeadLetterPublisher(settings.kafka, group)
    applier = BatchApplier(sessionmaker(engine), dlq, group, ranking_hook=lambda *_: None)
    loop = ProjectorLoop(settings, engine, dlq=dlq, applier=applier)
    signal.signal(signal.SIGTERM, lambda *_: loop.stop())
    loop.run()


# -- 5. post -> visible latency ---------------------------------------------------------------


@contextlib.contextmanager
def process(args: list[str], env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log_path.open("wb") as out:
        proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=out, stderr=out)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def service_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STANDINGS_")}
    cs = settings.projector.consumer
    env.update(
        {
            "STANDINGS_ENVIRONMENT": "test",
            "STANDINGS_LOG_LEVEL": "WARNING",
            "STANDINGS_LOG_JSON": "true",
            "STANDINGS_TOKEN_PEPPER": PEPPER,
            "STANDINGS_DATABASE__URL": settings.database.url.get_secret_value(),
            "STANDINGS_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
            "STANDINGS_KAFKA__TOPIC": settings.kafka.topic,
            "STANDINGS_KAFKA__DLQ_TOPIC": settings.kafka.dlq_topic,
            "STANDINGS_KAFKA__PARTITIONS": str(settings.kafka.partitions),
            "STANDINGS_PROJECTOR__GROUP_ID": settings.projector.group_id,
            "STANDINGS_PROJECTOR__HTTP_PORT": "0",
            "STANDINGS_PROJECTOR__CONSUMER__MAX_POLL_INTERVAL_MS": str(cs.max_poll_interval_ms),
            "STANDINGS_PROJECTOR__CONSUMER__SESSION_TIMEOUT_MS": str(cs.session_timeout_ms),
            "STANDINGS_PROJECTOR__CONSUMER__BATCH_SIZE": str(cs.batch_size),
            # The bench posts 200/s with one token; the per-token limit is for referees.
            "STANDINGS_INTAKE__RATE_LIMIT_PER_S": "10000",
            "STANDINGS_INTAKE__RATE_LIMIT_BURST": "10000",
        }
    )
    env.update(extra)
    return env


async def open_loop_posts(
    port: int,
    token: str,
    bouts: list[tuple[str, str, str]],
    rate: float,
    t0: float,
    body: dict[str, Any],
    started_at: Any,
    acks: list[float],
    failures: list[str],
    connections: int = 16,
) -> None:
    """Post each result at its scheduled time (open loop) over keep-alive HTTP/1.1 connections.

    A raw asyncio client costs tens of microseconds per request, so the measured 202 latency is the
    intake's, not the client's (a thread-pool httpx client under the GIL added its own queueing).
    """
    payload = json.dumps(body).encode()
    # Used round-robin (FIFO) so no connection idles past the server's keep-alive timeout.
    idle = collections.deque([await asyncio.open_connection("127.0.0.1", port) for _ in range(connections)])

    async def one(i: int, t: str, d: str, b: str) -> None:
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        reader, writer = idle.popleft() if idle else await asyncio.open_connection("127.0.0.1", port)
        request = (
            f"POST /v1/tournaments/{t}/bouts/{b}/results HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        ).encode() + payload
        started = time.perf_counter()
        started_at(t, d, b, started)
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"(?i)content-length: (\d+)", head)
        answer = await reader.readexactly(int(length.group(1))) if length else b""
        acks.append(time.perf_counter() - started)
        status = int(head.split(b" ", 2)[1])
        if status != 202:
            failures.append(f"{status}: {answer[:300]!r}")
        idle.append((reader, writer))

    await asyncio.gather(*(one(i, *x) for i, x in enumerate(bouts)))
    for _, writer in idle:
        writer.close()


def latency(
    stack: EmbeddedStack,
    admin_url: str,
    posts: int,
    rate: float,
    tmp: Path,
    *,
    ranking_hook: bool = True,
    rankings_stage: bool = False,
    client_kind: str = "asyncio",
) -> dict[str, float]:
    settings, engine = fresh(stack, admin_url, "bench-lat", batch_size=2000)
    reg = build_registration("lt", tournaments=1, divisions=20, athletes=21)  # 4 200 bouts without results
    with Session(engine) as session, session.begin():
        reg.insert(session)
        _, token = token_repo.create_token(session, "bench", "referee", ["lt-t0"], pepper=PEPPER)
    bouts = [(b["tournament_id"], b["division_id"], b["bout_id"]) for b in reg.bouts][:posts]
    port = free_port()
    env = service_env(settings, STANDINGS_INTAKE__PORT=str(port), STANDINGS_API__HOST="127.0.0.1")
    pending: dict[tuple[str, str], dict[str, float]] = {}  # (t, d) -> bout -> post start
    posted: dict[str, float] = {}  # bout -> post start (perf_counter)
    wall_offset = time.time() - time.perf_counter()
    visible: dict[str, float] = {}
    lock = threading.Lock()
    stop = threading.Event()
    conninfo = settings.database.sqlalchemy_url().replace("postgresql+psycopg://", "postgresql://")

    def listen() -> None:
        with (
            psycopg.connect(conninfo, autocommit=True) as conn,
            psycopg.connect(conninfo, autocommit=True) as lookup,
        ):
            conn.execute("LISTEN standings_changed")
            ready.set()
            while not stop.is_set():  # one connection for the whole run: no notification is missed
                for note in conn.notifies(timeout=0.2):
                    at = time.perf_counter()
                    payload = json.loads(note.payload)
                    key = (payload["t"], payload["d"])
                    with lock:
                        waiting = list(pending.get(key, {}))
                    if not waiting:
                        continue
                    rows = lookup.execute(
                        "SELECT bout_id FROM results WHERE bout_id = ANY(%s) AND revision = 1", (waiting,)
                    ).fetchall()
                    with lock:
                        for (bout,) in rows:
                            started = pending[key].pop(bout, None)
                            if started is not None:
                                visible[bout] = at - started

    ready = threading.Event()
    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    ready.wait(10)
    acks: list[float] = []
    projector_cmd = (
        [sys.executable, "-m", "services.projector.main"]
        if ranking_hook
        else [sys.executable, __file__, "--serve-projector-without-ranking-hook"]
    )
    indexer_env = {
        **env,
        "STANDINGS_SEARCH__URL": stack.search.url,
        "STANDINGS_SEARCH__PLAIN_JSON_MEDIA_TYPE": "true",
        "STANDINGS_SEARCH__ALIAS": unique("rankings"),
        "STANDINGS_INDEXER__HTTP_PORT": "0",
    }
    # The rankings stage (and osmem indexing at ~1.3 cores) shares these 2 cores with the pipeline: it
    # runs only in the phase that measures post -> ranking visible; in production it runs elsewhere.
    indexer_cmd = [sys.executable, "-m", "services.indexer.main"] if rankings_stage else [sys.executable, "-c", "pass"]
    with (
        process(projector_cmd, env, tmp / f"projector-{ranking_hook}.log"),
        process([sys.executable, "-m", "services.intake.main"], env, tmp / f"intake-{ranking_hook}.log") as intake,
        process(indexer_cmd, indexer_env, tmp / f"indexer-{ranking_hook}.log"),
    ):
        base = f"http://127.0.0.1:{port}"
        client = httpx.Client(
            base_url=base,
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # intake up and the projector's partitions assigned
            with contextlib.suppress(httpx.HTTPError):
                if client.get("/docs").status_code == 200:
                    break
            time.sleep(0.1)
        time.sleep(5)  # the projector's group join (~3 s on tansu)
        body = {"revision": 1, "winner": "red", "method": "points", "score": {"red": 3, "blue": 1}}
        # Warm-up (producer id, connections, prepared statements): not measured.
        for t, _d, b in bouts[:20]:
            client.post(f"/v1/tournaments/{t}/bouts/{b}/results", json=body)
        time.sleep(1)
        failures: list[str] = []
        intake_cpu = cpu_seconds(intake.pid)

        def started_at(t: str, d: str, b: str, at: float) -> None:
            with lock:
                pending.setdefault((t, d), {})[b] = at
                posted[b] = at

        if client_kind == "httpx":
            interval = 1.0 / rate
            t0 = time.perf_counter() + 0.05

            def post(i: int, t: str, d: str, b: str) -> None:
                delay = t0 + i * interval - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                started = time.perf_counter()
                started_at(t, d, b, started)
                resp = client.post(f"/v1/tournaments/{t}/bouts/{b}/results", json=body)
                acks.append(time.perf_counter() - started)
                if resp.status_code != 202:
                    failures.append(f"{resp.status_code}: {resp.text}")

            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda args: post(*args), [(i, *x) for i, x in enumerate(bouts[20:])]))
        else:
            t0 = time.perf_counter() + 0.3
            asyncio.run(open_loop_posts(port, token, bouts[20:], rate, t0, body, started_at, acks, failures))
        intake_cpu = cpu_seconds(intake.pid) - intake_cpu
        if failures:
            raise RuntimeError(f"intake refused {len(failures)} posts, e.g. {failures[0]}")
        achieved = (len(bouts) - 20) / (time.perf_counter() - t0)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with lock:
                if len(visible) >= len(bouts) - 20:
                    break
            time.sleep(0.05)
        ranking = _ranking_visible(conninfo, reg, posted, visible, wall_offset) if rankings_stage else {}
        client.close()
    stop.set()
    listener.join(5)
    engine.dispose()
    lat = sorted(v * 1000 for v in visible.values())
    if len(lat) < len(bouts) - 20:
        with psycopg.connect(conninfo) as conn:
            missing = [b for _, _, b in bouts[20:] if b not in visible]
            applied = conn.execute("SELECT count(*) FROM results WHERE bout_id = ANY(%s)", (missing,)).fetchone()
        raise RuntimeError(
            f"only {len(lat)} of {len(bouts) - 20} posts seen becoming visible; of the others"
            f" {applied[0] if applied else '?'} are in PostgreSQL"
        )
    ack = sorted(a * 1000 for a in acks)
    return {
        **ranking,
        "posts": len(lat),
        "achieved_rate": round(achieved, 1),
        "p50": statistics.median(lat),
        "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))],
        "ack_p50": statistics.median(ack),
        "ack_p99": ack[min(len(ack) - 1, int(len(ack) * 0.99))],
        "intake_cpu_us_per_post": round(intake_cpu / (len(bouts) - 20) * 1e6, 1),
    }


def _ranking_visible(
    conninfo: str, reg: Any, posted: dict[str, float], visible: dict[str, float], wall_offset: float
) -> dict[str, float]:
    """Post -> ranking visible in PostgreSQL: for each post, the first feed row of the winner's
    ranking document written after the post's standings became visible (the rankings stage's
    re-rank of the category that includes it). Posts whose winner's document did not change are
    not counted. Waits (bounded) for the rankings stage to drain its requests first."""
    deadline = time.monotonic() + 60
    with psycopg.connect(conninfo, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT count(*) FROM ranking_requests").fetchone()
            if row is not None and row[0] == 0:
                break
            time.sleep(0.1)
        category = {(d["tournament_id"], d["division_id"]): d["category"] for d in reg.divisions}
        red = {b["bout_id"]: (category[(b["tournament_id"], b["division_id"])], b["red_athlete_id"]) for b in reg.bouts}
        bouts = [b for b in posted if b in visible]
        rows = conn.execute(
            "SELECT k.b, extract(epoch FROM min(c.created_at))::float8 - k.t "
            "FROM unnest(%s::text[], %s::text[], %s::text[], %s::float8[], %s::float8[]) AS k(b, cat, a, t, v) "
            "JOIN ranking_changes c ON c.category = k.cat AND c.athlete_id = k.a AND c.created_at >= to_timestamp(k.v) "
            "GROUP BY k.b, k.t",
            (
                bouts,
                [red[b][0] for b in bouts],
                [red[b][1] for b in bouts],
                [posted[b] + wall_offset for b in bouts],
                [posted[b] + wall_offset + visible[b] for b in bouts],
            ),
        ).fetchall()
    lat = sorted(max(0.0, float(v)) * 1000 for _, v in rows)
    if not lat:
        return {"ranking_posts": 0}
    return {
        "ranking_posts": len(lat),
        "ranking_p50": statistics.median(lat),
        "ranking_p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))],
    }


# -- main -------------------------------------------------------------------------------------


def members_only(counts: list[int], n_events: int) -> None:
    """``--members 1,2,3``: events/s and lock waits per member count (bench/projector_members.py)."""
    from bench.projector_members import members_run

    configure_logging("ERROR", json=True)
    out: dict[str, Any] = {"mode": "members", "load_avg_1m_before": os.getloadavg()[0], "runs": []}
    with tempfile.TemporaryDirectory(prefix="bench-members-") as tmpdir:
        tmp = Path(tmpdir)
        stack = EmbeddedStack.start(tmp / "stack", timeout=60)
        try:
            for n in counts:
                run = members_run(
                    stack,
                    stack.postgres.admin_url,
                    n_events,
                    n,
                    tmp,
                    service_env=service_env,
                    process=process,
                    caught_up=seconds_until_caught_up,
                )
                log(
                    f"{n} member(s): {run['events_per_s']:>8,} events/s  advisory waiting"
                    f" {run['locks']['advisory_waiting_mean']}  row locks {run['locks']['row_lock_waiting_mean']}"
                    f"  oracle {run['matches_from_scratch']}"
                )
                out["runs"].append(run)
        finally:
            stack.stop()
    base = out["runs"][0]["events_per_s"]
    out["ratio_to_one_member"] = {str(r["members"]): round(r["events_per_s"] / base, 3) for r in out["runs"]}
    out["load_avg_1m_after"] = os.getloadavg()[0]
    print(json.dumps(out), flush=True)


def latency_only(client_kind: str) -> None:
    """Step 5 alone (about 70 s): with the ranking hook, with the rankings stage running too, then without
    the hook; one JSON line."""
    configure_logging("ERROR", json=True)
    out: dict[str, Any] = {"mode": "latency-only", "client": client_kind, "load_avg_1m_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="bench-projector-") as tmpdir:
        tmp = Path(tmpdir)
        stack = EmbeddedStack.start(tmp / "stack", timeout=60)
        try:
            lat = latency(stack, stack.postgres.admin_url, 1020, 200.0, tmp, client_kind=client_kind)
            lat_rank = latency(
                stack, stack.postgres.admin_url, 620, 200.0, tmp, rankings_stage=True, client_kind=client_kind
            )
            lat2 = latency(
                stack, stack.postgres.admin_url, 620, 200.0, tmp, ranking_hook=False, client_kind=client_kind
            )
        finally:
            stack.stop()
    out.update({f"{k}_ms" if k.startswith(("p", "ack")) and k != "posts" else k: v for k, v in lat.items()})
    out.update({f"no_hook_{k}": v for k, v in lat2.items()})
    out.update({f"rankings_stage_{k}": v for k, v in lat_rank.items()})
    out["load_avg_1m_after"] = os.getloadavg()[0]
    print(json.dumps(out), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20 000 events, smaller raw runs (< 2 minutes)")
    parser.add_argument("--events", type=int, help="result events for the projector run")
    parser.add_argument("--batch-size", type=int, default=5000, help="projector consume batch size")
    parser.add_argument("--no-check", action="store_true", help="skip the from-scratch comparison")
    parser.add_argument(
        "--latency-only", action="store_true", help="only step 5 (post -> visible), with and without the ranking hook"
    )
    parser.add_argument(
        "--latency-client",
        choices=["asyncio", "httpx"],
        default="asyncio",
        help="step 5's client: raw asyncio keep-alive connections (default) or 8 threads sharing an httpx.Client",
    )
    parser.add_argument(
        "--members",
        help="only the scale-out run: the same workload through these projector process counts, e.g. 1,2,3",
    )
    parser.add_argument("--serve-projector-without-ranking-hook", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_projector_without_ranking_hook:
        serve_projector_without_ranking_hook()
        return
    if args.members:
        members_only([int(n) for n in args.members.split(",")], args.events or (20_000 if args.quick else 60_000))
        return
    if args.latency_only:
        latency_only(args.latency_client)
        return
    quick = args.quick
    n_events = args.events or (20_000 if quick else 100_000)
    configure_logging("ERROR", json=True)
    # Other processes on the machine skew every number here: the load average is reported with them.
    results: dict[str, Any] = {"mode": "quick" if quick else "full", "load_avg_1m_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="bench-projector-") as tmpdir:
        tmp = Path(tmpdir)
        started = time.monotonic()
        stack = EmbeddedStack.start(tmp / "stack", timeout=60)
        try:
            admin_url = stack.postgres.admin_url
            log(f"stack up in {time.monotonic() - started:.1f}s")

            consume = raw_consume_rate(stack.kafka.bootstrap, 100_000 if quick else 200_000)
            log(f"1. raw consume, consume(500), no processing:      {consume:>9,.0f} msg/s")

            conninfo = stack.postgres.conninfo()
            url = new_database(admin_url, stack.postgres.url, unique("bench-raw"))
            upserts = raw_upsert_rates(
                url.replace("postgresql+psycopg://", "postgresql://"), 50_000 if quick else 100_000
            )
            del conninfo
            upsert = max(upserts.values())
            log(
                f"2. raw upsert, 500 rows/txn (unnest {upserts['unnest']:,.0f}, COPY {upserts['copy']:,.0f}):"
                f" {upsert:>9,.0f} rows/s"
            )
            bound = min(consume, upsert)
            log(f"   raw bound (the smaller):                         {bound:>9,.0f} /s")

            rate, info = projector_rate(
                stack,
                admin_url,
                n_events,
                batch_size=args.batch_size,
                ranking_hook=True,
                check=not args.no_check,
                measure_replay=True,
            )
            log(f"3. projector, {info['events']:,} events, batch {args.batch_size}:  {rate:>9,.0f} events/s  {info}")
            rate_nohook, info2 = projector_rate(
                stack, admin_url, n_events, batch_size=args.batch_size, ranking_hook=False, check=False
            )
            log(f"   the same without the ranking hook:               {rate_nohook:>9,.0f} events/s  {info2}")
            log(f"   ratio to the raw bound: {rate / bound:.2f} (without the ranking hook {rate_nohook / bound:.2f})")
            check = not args.no_check
            floor = same_statements_floor(
                stack, admin_url, workload(stack, admin_url, "bench-src", "bn", n_events, batch_size=args.batch_size),
                args.batch_size,
            ).summary()  # fmt: skip
            log(
                f"   the same statements replayed, no Python planning: {floor['floor_events_per_s']:>9,.0f} events/s"
                f" ({floor['statements']} statements in {floor['batches']} transactions; BatchApplier.apply in"
                f" process {floor['apply_events_per_s']:,} events/s); projector / floor {rate / floor['floor_events_per_s']:.2f}"
            )
            log(f"   the floor's time by statement: {floor['floor_shares']}")
            plain, info_plain = peer_rate(stack, admin_url, n_events, args.batch_size, "plain", check)
            log(f"   same work, plain consume({args.batch_size}) loop:          {plain:>9,.0f} events/s  {info_plain}")
            quix, info_quix = peer_rate(stack, admin_url, n_events, args.batch_size, "quix", check)
            log(f"   same work, Quix Streams {QUIX_VERSION} sink:             {quix:>9,.0f} events/s  {info_quix}")
            log(f"   ratio to the same-work peers: Quix {rate / quix:.2f}, plain loop {rate / plain:.2f}")
            mixed, info_mixed = projector_rate(
                stack, admin_url, n_events, batch_size=args.batch_size, ranking_hook=True, check=check,
                bracket_divisions=BRACKET_DIVISIONS,
            )  # fmt: skip
            log(f"   mixed, round robin + {BRACKET_DIVISIONS} bracket divisions: {mixed:>9,.0f} events/s  {info_mixed}")
            brackets_only, info_brackets = projector_rate(
                stack, admin_url, 0, batch_size=args.batch_size, ranking_hook=True, check=check,
                bracket_divisions=BRACKET_DIVISIONS * 3, round_robin=False,
            )  # fmt: skip
            log(f"   bracket divisions only:                          {brackets_only:>9,.0f} events/s  {info_brackets}")

            per_msg, info3 = per_message_rate(stack, admin_url, 1000 if quick else 5000)
            log(f"4. per-message commit (DB + sync offset commit):   {per_msg:>9,.0f} events/s  {info3}")
            log(f"   ratio batched / per-message: {rate / per_msg:.1f}x")

            lat = latency(stack, admin_url, 1020 if quick else 4020, 200.0, tmp, client_kind=args.latency_client)
            log(
                f"5. post -> visible at {lat['achieved_rate']}/s over {lat['posts']} posts:"
                f" p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms (HTTP 202 p50 {lat['ack_p50']:.1f},"
                f" p99 {lat['ack_p99']:.1f} ms); intake CPU {lat['intake_cpu_us_per_post']:.0f} µs per post"
            )
            lat_rank = latency(
                stack,
                admin_url,
                620 if quick else 2020,
                200.0,
                tmp,
                rankings_stage=True,
                client_kind=args.latency_client,
            )
            log(
                f"   ranking visible (rankings stage + osmem on the same cores): p50 {lat_rank.get('ranking_p50', 0):.1f}"
                f" ms, p99 {lat_rank.get('ranking_p99', 0):.1f} ms over {lat_rank.get('ranking_posts', 0)} posts;"
                f" standings visible meanwhile p99 {lat_rank['p99']:.1f} ms"
            )
            lat2 = latency(
                stack,
                admin_url,
                620 if quick else 2020,
                200.0,
                tmp,
                ranking_hook=False,
                client_kind=args.latency_client,
            )
            log(
                f"   the same without the ranking hook: p50 {lat2['p50']:.1f} ms, p99 {lat2['p99']:.1f} ms"
                f" at {lat2['achieved_rate']}/s"
            )
        finally:
            stack.stop()
    results.update(
        {
            "raw_consume_msgs_per_s": round(consume),
            "raw_upsert_rows_per_s": round(upsert),
            "raw_bound_events_per_s": round(bound),
            "projector_events_per_s": round(rate),
            "projector_events_per_s_without_ranking_hook": round(rate_nohook),
            "ratio_to_raw_bound": round(rate / bound, 3),
            "ratio_to_raw_bound_without_ranking_hook": round(rate_nohook / bound, 3),
            "per_message_commit_events_per_s": round(per_msg, 1),
            "ratio_to_per_message_commit": round(rate / per_msg, 1),
            "post_to_visible_p50_ms": round(lat["p50"], 1),
            "post_to_visible_p99_ms": round(lat["p99"], 1),
            "post_to_ranking_visible_p50_ms": round(lat_rank.get("ranking_p50", 0.0), 1),
            "post_to_ranking_visible_p99_ms": round(lat_rank.get("ranking_p99", 0.0), 1),
            "ranking_visible_posts": lat_rank.get("ranking_posts", 0),
            "post_to_visible_p99_ms_with_rankings_stage": round(lat_rank["p99"], 1),
            "post_rate_achieved_per_s": lat["achieved_rate"],
            "post_to_visible_p50_ms_without_ranking_hook": round(lat2["p50"], 1),
            "post_to_visible_p99_ms_without_ranking_hook": round(lat2["p99"], 1),
            "intake_ack_p99_ms": round(lat["ack_p99"], 1),
            "intake_cpu_us_per_post": lat["intake_cpu_us_per_post"],
            "events": info["events"],
            "projector_cpu_us_per_event": info["cpu_us_per_event"],
            "projector_wall_us_per_event": round(1e6 / rate, 1),
            "batch_size": args.batch_size,
            "matches_from_scratch": info.get("matches_from_scratch"),
            "same_statements_floor_events_per_s": floor["floor_events_per_s"],
            "ratio_to_same_statements_floor": round(rate / floor["floor_events_per_s"], 3),
            "apply_in_process_events_per_s": floor["apply_events_per_s"],
            "same_statements_per_run": floor["statements"],
            "same_statements_floor_shares": floor["floor_shares"],
            "replay_events_per_s": info["replay_events_per_s"],
            "ratio_replay_to_projector": round(info["replay_events_per_s"] / rate, 3),
            "replay_equal": info["replay_equal"],
            "quix_same_work_events_per_s": round(quix),
            "plain_loop_same_work_events_per_s": round(plain),
            "ratio_to_quix_same_work": round(rate / quix, 3),
            "ratio_to_plain_loop_same_work": round(rate / plain, 3),
            "matches_from_scratch_quix": info_quix.get("matches_from_scratch"),
            "matches_from_scratch_plain_loop": info_plain.get("matches_from_scratch"),
            "projector_events_per_s_mixed_brackets": round(mixed),
            "mixed_bracket_events": info_mixed.get("bracket_events"),
            "mixed_events": info_mixed["events"],
            "matches_from_scratch_mixed": info_mixed.get("matches_from_scratch"),
            "projector_events_per_s_brackets_only": round(brackets_only),
            "brackets_only_events": info_brackets["events"],
            "matches_from_scratch_brackets_only": info_brackets.get("matches_from_scratch"),
            "load_avg_1m_after": os.getloadavg()[0],
            "cpus": os.cpu_count(),
            "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
    )
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
