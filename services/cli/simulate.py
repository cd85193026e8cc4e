"""A live tournament, simulated through the referee intake API.

Results are posted round by round over the bouts registered in PostgreSQL (round ``r`` is the
``r``-th bout of every division, as if every mat ran in parallel), at ``rate`` posts per
second, with a realistic method mix and scores, occasional corrections (the next revision of an
already posted bout) and a void. Bouts that already have a result are skipped, so a restarted
simulation carries on where it stopped. Bracket bouts (SPEC §7) follow the fixed ones, each posted
once both its slots are known (``simulate_brackets``). Everything goes through HTTP like a referee tablet:
503/429 are retried after their Retry-After, a 409 is counted, never forced.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import typer
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from services.cli.simulate_brackets import post_brackets
from services.core.db.schema import BoutRow, ResultRow, Tournament
from services.core.logging import get_logger

log = get_logger(__name__)

MAX_ATTEMPTS = 5
METHODS = ["points", "decision", "technical_superiority", "ko", "tko", "submission", "fall", "disqualification"]
METHOD_WEIGHTS = [35, 15, 15, 7, 7, 10, 6, 2]


@dataclass(frozen=True, slots=True)
class PlannedBout:
    tournament_id: str
    division_id: str
    bout_id: str
    order: int
    revision: int  # highest revision already applied (0: none)


@dataclass
class SimulationReport:
    results: int = 0
    corrections: int = 0
    voids: int = 0
    conflicts: int = 0
    failures: int = 0
    skipped: int = 0
    accepted: list[dict[str, Any]] = field(default_factory=list)

    @property
    def posted(self) -> int:
        return self.results + self.corrections + self.voids


def random_result(rng: random.Random, revision: int) -> dict[str, Any]:
    """A plausible result: ~4 % draws, ~1 % no contest, finishes and points wins with agreeing scores.

    Agreeing as the intake demands (combat-default's score rules, docs/problems.md): a ``points`` or
    ``technical_superiority`` winner leads on technical points and a draw is level; only a finish
    (or a disqualification) may come from behind. tests/unit/test_simulate_results.py holds this.
    """
    roll = rng.random()
    if roll < 0.04:
        points = rng.randint(0, 5)
        body: dict[str, Any] = {"winner": "draw", "method": "draw", "score": {"red": points, "blue": points}}
    elif roll < 0.05:
        body = {"winner": "none", "method": "no_contest", "score": {"red": 0, "blue": 0}}
    else:
        method = rng.choices(METHODS, weights=METHOD_WEIGHTS)[0]
        winner = rng.choice(["red", "blue"])
        lose = rng.choices([0, 1, 2, 3, 4], weights=[40, 20, 20, 12, 8])[0]
        win = lose + 8 if method == "technical_superiority" else lose + rng.randint(1, 8)
        if method in ("ko", "tko", "submission", "fall", "disqualification") and rng.random() < 0.5:
            win = rng.randint(0, 6)  # a finish can come from behind
        red, blue = (win, lose) if winner == "red" else (lose, win)
        body = {"winner": winner, "method": method, "score": {"red": red, "blue": blue}}
    body["revision"] = revision
    body["duration_s"] = rng.randint(15, 300)
    body["referee_id"] = f"ref-{rng.randint(1, 24):03d}"
    return body


def corrected(rng: random.Random, previous: dict[str, Any], revision: int) -> dict[str, Any]:
    """A correction as a mat table makes it: a score mistyped, or the wrong corner credited.

    The corrected score still agrees with the method (see random_result).
    """
    body = {**previous, "revision": revision, "score": dict(previous["score"])}
    if previous["winner"] in ("red", "blue") and rng.random() < 0.5:
        body["winner"] = "blue" if previous["winner"] == "red" else "red"
        body["score"] = {"red": previous["score"]["blue"], "blue": previous["score"]["red"]}
    elif previous["winner"] in ("red", "blue"):
        loser = "blue" if previous["winner"] == "red" else "red"
        body["score"][loser] = max(0, body["score"][loser] - 1) if body["score"][loser] else 1
        if body["method"] == "technical_superiority":
            body["score"][previous["winner"]] = body["score"][loser] + 8
        elif body["score"][loser] >= body["score"][previous["winner"]]:
            body["score"][previous["winner"]] = body["score"][loser] + 1
    else:
        body = random_result(rng, revision)
    return body


def load_plan(engine: Engine, tournament_id: str | None) -> list[list[PlannedBout]]:
    """Rounds of the bouts with fixed athletes: round r holds the r-th bout (by order) of every division."""
    with Session(engine) as session:
        applied = (
            select(ResultRow.bout_id, func.max(ResultRow.revision).label("revision"))
            .group_by(ResultRow.bout_id)
            .subquery()
        )
        stmt = (
            select(BoutRow.tournament_id, BoutRow.division_id, BoutRow.bout_id, BoutRow.bout_order, applied.c.revision)
            .join(Tournament, Tournament.tournament_id == BoutRow.tournament_id)
            .outerjoin(applied, applied.c.bout_id == BoutRow.bout_id)
            .where(Tournament.status != "finalized", BoutRow.red_athlete_id.is_not(None))  # bracket bouts: later
            .order_by(BoutRow.tournament_id, BoutRow.division_id, BoutRow.bout_order, BoutRow.bout_id)
        )
        if tournament_id is not None:
            stmt = stmt.where(BoutRow.tournament_id == tournament_id)
        rows = session.execute(stmt).all()
    per_division: dict[tuple[str, str], list[PlannedBout]] = {}
    for t, d, b, order, revision in rows:
        per_division.setdefault((t, d), []).append(PlannedBout(t, d, b, order, revision or 0))
    rounds: list[list[PlannedBout]] = []
    for bouts in per_division.values():
        for i, bout in enumerate(bouts):
            if len(rounds) <= i:
                rounds.append([])
            rounds[i].append(bout)
    return rounds


class _Poster:
    def __init__(self, client: httpx.Client, stop_event: threading.Event, report: SimulationReport) -> None:
        self.client = client
        self.stop_event = stop_event
        self.report = report

    def post(self, path: str, body: dict[str, Any]) -> str:
        """'accepted', 'conflict' or 'failed' after bounded retries of 429/503/network errors."""
        for attempt in range(MAX_ATTEMPTS):
            if self.stop_event.is_set():
                return "failed"
            try:
                r = self.client.post(path, json=body)
            except httpx.HTTPError as exc:
                log.warning("simulate_post_error", path=path, error=str(exc), attempt=attempt)
                self.stop_event.wait(min(2.0, 0.2 * 2**attempt))
                continue
            if r.status_code == 202:
                self.report.accepted.append(r.json())
                return "accepted"
            if r.status_code == 409:
                self.report.conflicts += 1
                log.info("simulate_conflict", path=path, detail=r.json().get("detail"))
                return "conflict"
            if r.status_code in (429, 503):
                retry_after = float(r.headers.get("retry-after", "1"))
                self.stop_event.wait(min(retry_after, 5.0))
                continue
            log.warning("simulate_rejected", path=path, status=r.status_code, body=r.text[:300])
            break
        self.report.failures += 1
        return "failed"


def simulate(
    intake_url: str,
    token: str,
    engine: Engine,
    rate: float,
    tournament_id: str | None,
    stop_event: threading.Event,
    *,
    seed: int | None = None,
    correction_rate: float = 0.06,
    void_after: float = 0.3,
    on_post: Callable[[SimulationReport], None] | None = None,
    http_timeout_s: float = 10.0,
) -> SimulationReport:
    """Post every remaining bout's result through the intake API, ``rate`` posts per second.

    Returns when all bouts are done or ``stop_event`` is set. One void is posted once
    ``void_after`` of the bouts are done (and reinstated by a later result revision);
    ``correction_rate`` of the results get a revision-2 correction a few posts later.
    """
    report = SimulationReport()
    rounds = load_plan(engine, tournament_id)
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    with httpx.Client(base_url=intake_url, headers=headers, timeout=http_timeout_s) as client:
        run = _Simulation(
            _Poster(client, stop_event, report),
            stop_event,
            random.Random(seed),
            rate,
            correction_rate,
            void_after,
            sum(len(r) for r in rounds),
        )
        for round_bouts in rounds:
            for bout in round_bouts:
                if not run.bout(bout):
                    return report
                if on_post and bout.revision == 0:
                    on_post(report)
        rng = run.rng
        report.results += post_brackets(
            engine, tournament_id, run.paced_post, lambda rev: random_result(rng, rev), lambda s: not stop_event.wait(s)
        )
    log.info(
        "simulation_done",
        results=report.results,
        corrections=report.corrections,
        voids=report.voids,
        conflicts=report.conflicts,
        failures=report.failures,
    )
    return report


def _result_path(bout: PlannedBout) -> str:
    return f"/v1/tournaments/{bout.tournament_id}/bouts/{bout.bout_id}/results"


class _Simulation:
    """One simulated session: first results at a pace, corrections a few posts later, one void
    (reinstated later). Each method returns False once ``stop_event`` is set."""

    def __init__(
        self,
        poster: _Poster,
        stop_event: threading.Event,
        rng: random.Random,
        rate: float,
        correction_rate: float,
        void_after: float,
        total: int,
    ) -> None:
        self.poster = poster
        self.report = poster.report
        self.stop_event = stop_event
        self.rng = rng
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.correction_rate = correction_rate
        self.void_after = void_after
        self.total = total
        self.next_at = time.monotonic()
        self.done = 0
        self.pending_corrections: deque[tuple[PlannedBout, dict[str, Any], int]] = deque()
        self.last_posted: dict[str, tuple[PlannedBout, dict[str, Any]]] = {}
        self.revisions: dict[str, int] = {}  # highest revision accepted per bout
        self.void_done = False
        self.reinstate: tuple[PlannedBout, int] | None = None

    def pace(self) -> bool:
        self.next_at += self.interval
        delay = self.next_at - time.monotonic()
        if delay > 0:
            return not self.stop_event.wait(delay)  # the pace of posting, not a synchronisation
        self.next_at = time.monotonic()
        return not self.stop_event.is_set()

    def paced_post(self, path: str, body: dict[str, Any]) -> str:
        return self.poster.post(path, body) if self.pace() else "failed"

    def bout(self, bout: PlannedBout) -> bool:
        """The bout's first result (unless it already has one), then whatever falls due after it."""
        if bout.revision > 0:
            self.report.skipped += 1
            self.done += 1
            return True
        if not self.pace():
            return False
        body = random_result(self.rng, 1)
        if self.poster.post(_result_path(bout), body) == "accepted":
            self.report.results += 1
            self.revisions[bout.bout_id] = 1
            self.last_posted[bout.bout_id] = (bout, body)
            if self.rng.random() < self.correction_rate:
                self.pending_corrections.append((bout, body, self.done + self.rng.randint(2, 6)))
        self.done += 1
        return self._corrections() and self._void() and self._reinstate()

    def _corrections(self) -> bool:
        while self.pending_corrections and self.pending_corrections[0][2] <= self.done:
            fix_bout, previous, _ = self.pending_corrections.popleft()
            if not self.pace():
                return False
            revision = self.revisions[fix_bout.bout_id] + 1
            if self.poster.post(_result_path(fix_bout), corrected(self.rng, previous, revision)) == "accepted":
                self.report.corrections += 1
                self.revisions[fix_bout.bout_id] = revision
        return True

    def _void(self) -> bool:
        if self.void_done or not self.total or self.done < self.void_after * self.total or not self.last_posted:
            return True
        void_bout, _ = self.rng.choice(list(self.last_posted.values()))
        if not self.pace():
            return False
        path = f"/v1/tournaments/{void_bout.tournament_id}/bouts/{void_bout.bout_id}/void"
        revision = self.revisions[void_bout.bout_id] + 1
        if self.poster.post(path, {"revision": revision}) == "accepted":
            self.report.voids += 1
            self.revisions[void_bout.bout_id] = revision
            self.reinstate = (void_bout, self.done + self.rng.randint(5, 15))
        self.void_done = True
        return True

    def _reinstate(self) -> bool:
        if self.reinstate is None or self.reinstate[1] > self.done:
            return True
        if not self.pace():
            return False
        bout = self.reinstate[0]
        revision = self.revisions[bout.bout_id] + 1
        if self.poster.post(_result_path(bout), random_result(self.rng, revision)) == "accepted":
            self.report.corrections += 1
            self.revisions[bout.bout_id] = revision
        self.reinstate = None
        return True


def simulate_command(
    rate: float = typer.Option(2.0, "--rate", min=0.0, help="Posts per second (0: as fast as possible)."),
    tournament: str | None = typer.Option(None, "--tournament", help="Tournament id (default: every live one)."),
    intake_url: str | None = typer.Option(
        None, "--intake-url", envvar="STANDINGS_INTAKE_URL", help="Intake base URL (default: this host's intake port)."
    ),
    token: str = typer.Option(..., "--token", envvar="STANDINGS_TOKEN", help="Referee or admin bearer token."),
    seed: int | None = typer.Option(None, "--seed", help="Random seed (repeatable runs)."),
) -> None:
    """Simulate a live tournament: post results round by round through the intake API."""
    from services.cli.context import engine_for, load_settings
    from services.core.logging import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_json)
    engine = engine_for(settings)
    stop = threading.Event()
    url = intake_url or f"http://127.0.0.1:{settings.intake.port}"
    try:
        report = simulate(url, token, engine, rate, tournament, stop, seed=seed)
    except KeyboardInterrupt:
        stop.set()
        raise typer.Exit(130) from None
    finally:
        engine.dispose()
    typer.echo(
        f"posted {report.results} results, {report.corrections} corrections, {report.voids} voids "
        f"({report.conflicts} conflicts, {report.failures} failures, {report.skipped} already done)"
    )
    if report.failures:
        raise typer.Exit(1)


if __name__ == "__main__":
    typer.run(simulate_command)
