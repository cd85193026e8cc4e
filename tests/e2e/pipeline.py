"""The whole pipeline for end-to-end tests: intake + read API (uvicorn), projector (real process).

Each `Pipeline` gets its own database, topics and consumer group on the session's embedded
services, so modules do not see each other's events. The projector runs as a child process
(``python -m services.projector.main``) so fault tests can SIGKILL it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.core.db.engine import make_engine
from services.core.db.tokens import create_token
from services.core.domain.results import Bout, BoutResult, BoutVoid, Method, Revision, Score, Winner, effective_results
from services.core.domain.ruleset import COMBAT_DEFAULT
from services.core.domain.standings import StandingRow, compute_standings
from services.core.kafka.admin import ensure_topics
from services.core.settings import (
    DatabaseSettings,
    IntakeSettings,
    KafkaSettings,
    ProjectorSettings,
    SearchSettings,
    Settings,
    settings_to_env,
)
from services.embedded.waiting import free_port, log_tail, wait_until
from tests.conftest import TEST_CONSUMER
from tests.databases import create_database
from tests.projector_support import Registration, build_registration, unique
from tests.read_api_helpers import UvicornThread


@dataclass
class ProjectorProcess:
    settings: Settings
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        env = {**os.environ, **settings_to_env(self.settings)}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "services.projector.main"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def check_alive(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            raise AssertionError(f"projector exited; log tail:\n{log_tail(self.log_path, 40)}")


@dataclass
class Pipeline:
    settings: Settings
    engine: sa.Engine
    registration: Registration
    intake: UvicornThread
    api: UvicornThread
    projector: ProjectorProcess
    tokens: dict[str, str] = field(default_factory=dict)
    accepted: list[dict[str, Any]] = field(default_factory=list)

    @property
    def tournament(self) -> str:
        return str(self.registration.tournaments[0]["tournament_id"])

    def divisions(self, tournament: str | None = None) -> list[str]:
        t = tournament or self.tournament
        return [str(d["division_id"]) for d in self.registration.divisions if d["tournament_id"] == t]

    def bouts(self, division: str, tournament: str | None = None) -> list[dict[str, Any]]:
        t = tournament or self.tournament
        return [b for b in self.registration.bouts if b["tournament_id"] == t and b["division_id"] == division]

    def post_result(self, bout_id: str, body: dict[str, Any], *, token: str | None = None) -> httpx.Response:
        t = self._tournament_of(bout_id)
        resp = httpx.post(
            f"{self.intake.url}/v1/tournaments/{t}/bouts/{bout_id}/results",
            json=body,
            headers={"Authorization": f"Bearer {token or self.tokens['referee']}"},
            timeout=10,
        )
        if resp.status_code == 202:
            self.accepted.append({**resp.json(), "kind": "result", "body": body})
        return resp

    def post_void(self, bout_id: str, revision: int) -> httpx.Response:
        t = self._tournament_of(bout_id)
        resp = httpx.post(
            f"{self.intake.url}/v1/tournaments/{t}/bouts/{bout_id}/void",
            json={"revision": revision},
            headers={"Authorization": f"Bearer {self.tokens['referee']}"},
            timeout=10,
        )
        if resp.status_code == 202:
            self.accepted.append({**resp.json(), "kind": "void", "body": {"revision": revision}})
        return resp

    def standings(self, division: str, tournament: str | None = None, **params: Any) -> dict[str, Any]:
        t = tournament or self.tournament
        resp = httpx.get(f"{self.api.url}/v1/tournaments/{t}/divisions/{division}/standings", params=params, timeout=10)
        resp.raise_for_status()
        body: dict[str, Any] = resp.json()
        return body

    def positions(self) -> dict[int, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "select partition, next_offset from consumer_positions where consumer_group = :g and topic = :t"
                ),
                {"g": self.settings.projector.group_id, "t": self.settings.kafka.topic},
            )
            return {int(p): int(o) for p, o in rows}

    def wait_applied(self, timeout: float = 60.0) -> None:
        """Wait until the projector's committed positions cover every accepted (202) event."""
        wanted: dict[int, int] = {}
        for a in self.accepted:
            wanted[a["partition"]] = max(wanted.get(a["partition"], 0), a["offset"] + 1)

        def done() -> bool:
            self.projector.check_alive()
            have = self.positions()
            return all(have.get(p, 0) >= o for p, o in wanted.items())

        wait_until(done, timeout, "projector positions covering every accepted event", interval=0.05)

    def oracle(self, division: str, tournament: str | None = None) -> list[StandingRow]:
        """From-scratch standings of every accepted event: log order per partition, first applied wins."""
        t = tournament or self.tournament
        bouts = {b["bout_id"]: b for b in self.bouts(division, t)}
        seen: dict[tuple[str, int], Revision] = {}
        for a in sorted(self.accepted, key=lambda a: (a["partition"], a["offset"])):
            if a["bout_id"] not in bouts or (a["bout_id"], a["revision"]) in seen:
                continue
            seen[(a["bout_id"], a["revision"])] = _to_revision(a)
        roster = sorted(
            {
                str(e["athlete_id"])
                for e in self.registration.entries
                if e["tournament_id"] == t and e["division_id"] == division
            }
        )
        domain_bouts = [Bout(b, v["red_athlete_id"], v["blue_athlete_id"]) for b, v in bouts.items()]
        return compute_standings(roster, domain_bouts, effective_results(seen.values()), COMBAT_DEFAULT)

    def _tournament_of(self, bout_id: str) -> str:
        for b in self.registration.bouts:
            if b["bout_id"] == bout_id:
                return str(b["tournament_id"])
        raise KeyError(bout_id)


def _to_revision(accepted: dict[str, Any]) -> Revision:
    body = accepted["body"]
    if accepted["kind"] == "void":
        return BoutVoid(accepted["bout_id"], accepted["revision"])
    return BoutResult(
        accepted["bout_id"],
        accepted["revision"],
        Winner(body["winner"]),
        Method(body["method"]),
        Score(body["score"]["red"], body["score"]["blue"]),
        body.get("duration_s"),
        body.get("referee_id"),
    )


def pipeline_settings(db_url: str, bootstrap: str, search_url: str | None, *, partitions: int = 3) -> Settings:
    topic = unique("match-events")
    return Settings(
        environment="test",
        log_json=True,
        database=DatabaseSettings(url=db_url),
        kafka=KafkaSettings(bootstrap_servers=bootstrap, topic=topic, dlq_topic=f"{topic}.dlq", partitions=partitions),
        search=SearchSettings(url=search_url or "http://127.0.0.1:9", plain_json_media_type=True),
        projector=ProjectorSettings(
            group_id=unique("standings-projector"), consumer=TEST_CONSUMER, http_port=free_port()
        ),
        intake=IntakeSettings(rate_limit_per_s=10_000, rate_limit_burst=10_000),
    )


@contextmanager
def running_pipeline(
    pg: Any, bootstrap: str, *, mock_broker: bool, log_dir: Path, search_url: str | None = None
) -> Iterator[Pipeline]:
    from services.api.app import create_app as create_api
    from services.intake.app import create_app as create_intake

    db_url = create_database(pg, unique("e2e"))
    settings = pipeline_settings(db_url, bootstrap, search_url)
    if mock_broker:
        # The mock cluster cannot create topics through the admin API; a metadata request auto-creates them.
        from confluent_kafka import Producer

        probe = Producer({"bootstrap.servers": bootstrap})
        for topic in (settings.kafka.topic, settings.kafka.dlq_topic):
            probe.list_topics(topic, timeout=10)
    else:
        ensure_topics(settings.kafka, timeout=30)
    engine = make_engine(settings.database, pool_size=2)
    reg = build_registration(unique("e2e").replace("_", "-"), tournaments=1, divisions=2, athletes=5)
    pepper = settings.token_pepper.get_secret_value()
    with Session(engine) as session, session.begin():
        reg.insert(session)
        t = [str(x["tournament_id"]) for x in reg.tournaments]
        tokens = {
            "referee": create_token(session, "referee", "referee", t, pepper=pepper)[1],
            "ops": create_token(session, "ops", "ops", pepper=pepper)[1],
            "admin": create_token(session, "admin", "admin", pepper=pepper)[1],
        }
    intake = UvicornThread(create_intake(settings))
    api = UvicornThread(create_api(settings))
    projector = ProjectorProcess(settings, log_dir / "projector.log")
    pipeline = Pipeline(settings, engine, reg, intake, api, projector, tokens)
    intake.start()
    api.start()
    projector.start()
    try:
        yield pipeline
    finally:
        projector.stop()
        api.stop()
        intake.stop()
        engine.dispose()
