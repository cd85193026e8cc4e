"""Helpers for the read API's integration/e2e tests and its benchmark.

They seed PostgreSQL the way the projector leaves it — ``results`` rows, ``standings_rows``
computed by the pure domain, ``divisions.version``/``last_*`` bumped and ``NOTIFY
standings_changed`` — in one transaction, so read-side tests need no Kafka and no projector.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from typing import Any

import uvicorn
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from services.core.db.registration import division_bouts, division_roster
from services.core.db.schema import ResultRow, StandingsRow
from services.core.domain.codec import decode_revision as revision_from_row
from services.core.domain.results import Bout, BoutResult, Method, Revision, Score, Winner
from services.core.domain.ruleset import COMBAT_DEFAULT
from services.core.domain.standings import StandingRow, standings_from_revisions
from services.core.settings import ApiSettings, DatabaseSettings, ProjectorSettings, Settings
from services.embedded.postgres import EmbeddedPostgres
from services.embedded.waiting import free_port, wait_until
from services.registration.loader import load_registration
from tests import databases

NAMES = [
    ("Ōno Shōhei", "JPN"),
    ("Zoë Müller-Łukasz", "DEU"),
    ("ლაშა შავდათუაშვილი", "GEO"),
    ("안창림", "KOR"),
    ("Ганбаатарын Одбаяр", "MNG"),
    ("פטר פלצ'יק", "ISR"),
    ("程训钊", "CHN"),
    ("Guillaume Chaîne", "FRA"),
    ("João Pedro Macedo", "BRA"),
    ("Θοδωρής Τσελίδης", "GRC"),
    ("محمد الشهري", "SAU"),
    ("Nikoloz Sherazadishvili Cañas", "ESP"),
]


def create_database(pg: EmbeddedPostgres, prefix: str = "readapi") -> str:
    """A fresh, migrated database on the shared server (tests stay independent of each other)."""
    return databases.create_database(pg, f"{prefix}_{uuid.uuid4().hex[:10]}")


def registration_doc(tournament_id: str, divisions: dict[str, int], *, status: str = "live") -> dict[str, Any]:
    """A tournament with round-robin divisions of ``n`` athletes each (names in many scripts)."""
    athletes: list[dict[str, Any]] = []
    division_docs = []
    for division_id, n in divisions.items():
        ids = []
        for i in range(n):
            name, country = NAMES[i % len(NAMES)]
            athlete_id = f"{tournament_id}-{division_id}-a{i + 1:02d}"
            suffix = "" if i < len(NAMES) else f" {i // len(NAMES) + 1}"
            athletes.append(
                {"athlete_id": athlete_id, "full_name": name + suffix, "country": country, "club": f"Club {i % 7 + 1}"}
            )
            ids.append(athlete_id)
        division_docs.append(
            {"division_id": division_id, "name": f"Division {division_id}", "category": division_id, "athletes": ids}
        )
    return {
        "athletes": athletes,
        "tournaments": [
            {
                "tournament_id": tournament_id,
                "name": f"Cup {tournament_id}",
                "tier": "open",
                "start_date": "2026-11-26",
                "end_date": "2026-11-27",
                "status": status,
                "divisions": division_docs,
            }
        ],
    }


def seed_registration(engine: Engine, doc: dict[str, Any]) -> None:
    import orjson

    with Session(engine) as session, session.begin():
        load_registration(session, orjson.dumps(doc))


@dataclass(frozen=True)
class StoredResult:
    bout_id: str
    revision: int
    kind: str  # result | void
    payload: dict[str, Any]
    offset: int

    def row(self, *, at: dt.datetime, partition: int, **columns: Any) -> ResultRow:
        """The ``results`` row the projector stores for this revision (read from ``partition`` at ``offset``)."""
        return ResultRow(
            bout_id=self.bout_id,
            revision=self.revision,
            kind=self.kind,
            payload=self.payload,
            event_id=uuid.uuid4(),
            occurred_at=at,
            source_partition=partition,
            source_offset=self.offset,
            **columns,
        )


def result_payload(rng: random.Random, *, draw_ok: bool = True) -> dict[str, Any]:
    """A plausible result: method mix weighted like a real day, scores that agree with the method."""
    roll = rng.random()
    if draw_ok and roll < 0.05:
        points = rng.randint(0, 4)
        return {"winner": "draw", "method": "draw", "score": {"red": points, "blue": points}, "duration_s": 300}
    method = rng.choices(
        ["points", "decision", "technical_superiority", "ko", "tko", "submission", "fall", "disqualification"],
        weights=[35, 15, 15, 8, 8, 10, 6, 3],
    )[0]
    winner = rng.choice(["red", "blue"])
    win, lose = rng.randint(3, 12), rng.randint(0, 4)
    if method == "technical_superiority":
        win = lose + 8
    red, blue = (win, lose) if winner == "red" else (lose, win)
    return {
        "winner": winner,
        "method": method,
        "score": {"red": red, "blue": blue},
        "duration_s": rng.randint(20, 300),
        "referee_id": f"ref-{rng.randint(1, 20):03d}",
    }


def _to_domain(r: StoredResult) -> Revision:
    return revision_from_row(r.bout_id, r.revision, r.kind, r.payload)


def expected_table(engine: Engine, t: str, d: str, results: Sequence[StoredResult]) -> list[StandingRow]:
    """What the pure domain says the division's table is for these stored revisions."""
    with Session(engine) as session:
        roster = division_roster(session, t, d)
        bouts = division_bouts(session, t, d)
    return standings_from_revisions(roster, bouts, [_to_domain(r) for r in results], COMBAT_DEFAULT)


def apply_results(
    engine: Engine,
    t: str,
    d: str,
    new: Sequence[StoredResult],
    *,
    partition: int = 0,
    occurred_at: dt.datetime | None = None,
) -> int:
    """Do what one projector transaction does for ``new``; returns the division's new version."""
    at = occurred_at or dt.datetime.now(dt.UTC)
    with Session(engine) as session, session.begin():
        session.add_all(r.row(at=at, partition=partition) for r in new)
        session.flush()
        stored = session.execute(
            text(
                "SELECT r.bout_id, r.revision, r.kind, r.payload FROM results r JOIN bouts b USING (bout_id) "
                "WHERE b.tournament_id = :t AND b.division_id = :d"
            ),
            {"t": t, "d": d},
        ).all()
        revisions = [revision_from_row(b, rev, k, p) for b, rev, k, p in stored]
        table = standings_from_revisions(
            division_roster(session, t, d), division_bouts(session, t, d), revisions, COMBAT_DEFAULT
        )
        before = {
            row.athlete_id: (row.rank, row.previous_rank)
            for row in session.scalars(
                select(StandingsRow).where(StandingsRow.tournament_id == t, StandingsRow.division_id == d)
            )
        }
        for row in table:
            old_rank, old_prev = before.get(row.athlete_id, (None, None))
            previous = old_rank if old_rank is not None and old_rank != row.rank else old_prev
            session.merge(StandingsRow(tournament_id=t, division_id=d, previous_rank=previous, **asdict(row)))
        version = bump_and_notify(
            session, t, d, at=at, partition=partition, offset=max((r.offset for r in new), default=None)
        )
    return version


def bump_and_notify(
    session: Session,
    t: str,
    d: str,
    *,
    at: dt.datetime | None = None,
    partition: int | None = None,
    offset: int | None = None,
) -> int:
    version = session.execute(
        text(
            "UPDATE divisions SET version = version + 1, last_event_at = COALESCE(:at, last_event_at), "
            "last_partition = COALESCE(:p, last_partition), last_offset = COALESCE(:o, last_offset) "
            "WHERE tournament_id = :t AND division_id = :d RETURNING version"
        ),
        {"t": t, "d": d, "at": at, "p": partition, "o": offset},
    ).scalar_one()
    session.execute(
        text("SELECT pg_notify('standings_changed', CAST(:payload AS text))"),
        {"payload": f'{{"t":"{t}","d":"{d}","v":{version}}}'},
    )
    return int(version)


def report_lag(
    engine: Engine, t: str, d: str, *, member_id: str, partition: int, lag: int, event_age_s: int = 42
) -> None:
    """The division's last event ``event_age_s`` ago and a live projector member reporting ``lag``
    messages behind on ``partition``: what makes the read API report the division as stale."""
    with Session(engine) as session, session.begin():
        session.execute(
            text(
                "UPDATE divisions SET last_event_at = now() - make_interval(secs => :age) "
                "WHERE tournament_id = :t AND division_id = :d"
            ),
            {"t": t, "d": d, "age": event_age_s},
        )
        session.execute(
            text(
                "INSERT INTO consumer_members (consumer_group, member_id, host, pid, fingerprint, config, assigned, lag) "
                "VALUES ('standings-projector', :m, 'h', 1, 'f', '{}', ARRAY[:p], CAST(:lag AS jsonb))"
            ),
            {"m": member_id, "p": partition, "lag": f'{{"{partition}": {lag}}}'},
        )


def read_api_settings(db_url: str, *, sse_heartbeat_s: float) -> Settings:
    """The read API's settings for a test database (fast lag polling, the default projector group)."""
    return Settings(
        environment="test",
        log_json=False,
        database=DatabaseSettings(url=db_url),
        api=ApiSettings(sse_heartbeat_s=sse_heartbeat_s, lag_poll_s=0.2, projector_heartbeat_stale_s=30),
        projector=ProjectorSettings(group_id="standings-projector"),
    )


def bump_version(engine: Engine, t: str, d: str) -> int:
    """A version bump + NOTIFY without other changes (what the projector does for a duplicate-free batch)."""
    with Session(engine) as session, session.begin():
        return bump_and_notify(session, t, d)


def division_bout_list(engine: Engine, t: str, d: str) -> list[Bout]:
    with Session(engine) as session:
        return division_bouts(session, t, d)


def as_domain_result(bout_id: str, revision: int, payload: dict[str, Any]) -> BoutResult:
    return BoutResult(
        bout_id,
        revision,
        Winner(payload["winner"]),
        Method(payload["method"]),
        Score(payload["score"]["red"], payload["score"]["blue"]),
    )


def api_rows(standings: dict[str, Any]) -> list[StandingRow]:
    """A standings document's rows in the pure domain's shape, for comparison with an oracle."""
    return [StandingRow(**{f.name: r[f.name] for f in fields(StandingRow)}) for r in standings["rows"]]


class UvicornThread:
    """A real uvicorn server for an ASGI app on a free port, in a background thread."""

    def __init__(
        self,
        app: Any,
        *,
        port: int | None = None,
        loop: str = "asyncio",
        http: str = "h11",
        graceful_shutdown_s: float | None = 2,
    ) -> None:
        self.port = port or free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            loop=loop,
            http=http,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=graceful_shutdown_s,
            backlog=2048,
            limit_concurrency=None,
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, name=f"uvicorn-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> UvicornThread:
        self._thread.start()

        def up() -> bool:
            if not self._thread.is_alive():
                raise RuntimeError("uvicorn exited during startup")
            return self.server.started

        wait_until(up, timeout, f"uvicorn on {self.url}")
        return self

    def stop(self, timeout: float = 15.0) -> None:
        self.server.should_exit = True
        self._thread.join(timeout)

    @contextmanager
    def running(self) -> Iterator[UvicornThread]:
        self.start()
        try:
            yield self
        finally:
            self.stop()
