"""pools_then_elimination through the projector (SPEC §7), on real tansu and PostgreSQL: the bracket
waits until every pool bout is decided, is drawn from the pools' standings, and a pool correction
after the bracket was fought re-draws it (fought bouts invalidated, then re-fought). Then seeded
live-like streams of every format (corrections, voids, retries, early results) against an
independent log-order replay. Expected placings of the first test are worked out by hand below."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy.orm import Session

from services.core import events
from services.core.db import projection
from services.core.domain import bracket_division as bd
from services.core.domain.results import BoutResult, Method, Score, Winner
from services.core.domain.ruleset import RULESETS
from services.embedded.kafka_broker import TansuBroker
from services.embedded.postgres import EmbeddedPostgres
from services.ops.replay import replay
from tests.bracket_support import (
    BracketOracle,
    StreamRates,
    add_bracket_division,
    bracket_description,
    bracket_stream,
    pool_bouts,
)
from tests.integration.projector_env import ProjectorEnv, metric, projector_environment, read_topic, running
from tests.projector_support import DeliveryTracker, Planned, Registration, planned, produce, wait_for_positions

T = "brk-pools"
D = "p"
AT = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC)
POOL_A, POOL_B = ["A1", "A2", "A3", "A4"], ["B1", "B2", "B3", "B4"]


def registration(divisions: dict[str, dict[str, Any]]) -> Registration:
    reg = Registration()
    reg.tournaments.append(
        {
            "tournament_id": T,
            "name": "Pools Open",
            "tier": "national",
            "start_date": dt.date(2026, 11, 20),
            "end_date": dt.date(2026, 11, 22),
        }
    )
    for bracket in divisions.values():
        pools = bracket.get("pools")
        names = [a for p in pools for a in p["athletes"]] if pools else bracket["seeds"] or bracket["draw"]
        reg.athletes += [
            {"athlete_id": a, "full_name": f"Athlete {a}", "country": "GEO", "club": None}
            for a in names
            if a is not None
        ]
    for d, bracket in divisions.items():
        add_bracket_division(reg, T, d, bracket, category="m-73kg")
    return reg


@pytest.fixture
def env(pg: EmbeddedPostgres, kafka: TansuBroker) -> Iterator[ProjectorEnv]:
    with projector_environment(pg, kafka, prefix="brp") as e:
        yield e


def ko(bout: str, revision: int, winner: str, athletes: tuple[str, str] | None = None, d: str = D) -> Planned:
    result = BoutResult(bout, revision, Winner(winner), Method.KO, Score(0, 0))
    return planned(events.result_recorded(T, d, result, AT, athletes))


def pool(name: str, n: int) -> str:
    return f"{T}-{D}-{name}-{n:03d}"


def project_all(env: ProjectorEnv, messages: Sequence[Planned]) -> None:
    tracker = produce(env.settings.kafka, messages, tracker=DeliveryTracker(remember=True))
    wait_for_positions(env.engine, env.group, env.topic, tracker.next_offsets, timeout=60)


def status(env: ProjectorEnv, d: str = D) -> dict[str, tuple[Any, ...]]:
    """bout -> (status, red, blue, winner, invalidated revision)."""
    rows = env.rows(
        "SELECT bout_id, status, red_athlete_id, blue_athlete_id, winner_athlete_id, invalidated_revision"
        " FROM bracket_bouts WHERE tournament_id = :t AND division_id = :d",
        t=T,
        d=d,
    )
    return {r[0]: tuple(r[1:]) for r in rows}


def ranks(env: ProjectorEnv, d: str = D) -> dict[str, int]:
    rows = env.rows(
        "SELECT athlete_id, rank FROM standings_rows WHERE tournament_id = :t AND division_id = :d", t=T, d=d
    )
    return dict(rows)


def dead_letters() -> float:
    return metric("standings_dlq_messages_total", {"reason": "slot_not_determined"})


def recompute(env: ProjectorEnv, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    with Session(env.engine) as session, session.begin():
        return projection.recompute_standings(session, keys, dict.fromkeys(keys, RULESETS["combat-default"]))


# Red wins every pool bout: pool order A1 A2 A3 A4 (3, 2, 1, 0 wins), the same in pool B.
# Pool bouts pair the athletes in order: 001 A1-A2, 002 A1-A3, 003 A1-A4, 004 A2-A3, 005 A2-A4, 006 A3-A4.
POOL_ROUNDS = [ko(pool(p, n), 1, "red") for p in "AB" for n in range(1, 7)]


def test_the_bracket_is_drawn_from_the_pools_and_a_pool_correction_redraws_it(env: ProjectorEnv) -> None:
    env.register(registration({D: bracket_description("pools_then_elimination", pools=[POOL_A, POOL_B])}))
    dlq_before = dead_letters()
    early_final = ko(f"{D}-final", 1, "red", ("A1", "B1"))
    with running(env.settings, env.engine):
        project_all(env, [*POOL_ROUNDS[:-1], early_final])
        # One pool bout undecided: no draw yet, every bracket bout waits.
        assert {s for s, *_ in status(env).values()} == {"waiting"}
        project_all(env, POOL_ROUNDS[-1:])
        # 4-draw, seeds by pool rank then pool order: A1 1, B1 2, A2 3 (beside B1), B2 4 (beside A1).
        assert status(env) == {
            f"{D}-r1-b1": ("open", "A1", "B2", None, None),
            f"{D}-r1-b2": ("open", "B1", "A2", None, None),
            f"{D}-final": ("waiting", None, None, None, None),
            f"{D}-bronze": ("waiting", None, None, None, None),
        }
        project_all(
            env,
            [
                ko(f"{D}-r1-b1", 1, "blue", ("A1", "B2")),
                ko(f"{D}-r1-b2", 1, "red", ("B1", "A2")),
                ko(f"{D}-bronze", 1, "blue", ("A1", "A2")),
                ko(f"{D}-final", 1, "blue", ("B2", "B1")),
            ],
        )
        # Pool thirds A3 and B3 (1 win, 5 points, 1 finish each) share 5th, the fourths 7th.
        assert ranks(env) == {"B1": 1, "B2": 2, "A2": 3, "A1": 4, "A3": 5, "B3": 5, "A4": 7, "B4": 7}
        # A3, not A2, won their pool bout: A3 is pool A's runner-up and takes A2's place in the draw.
        project_all(env, [ko(pool("A", 4), 2, "blue")])
        assert status(env) == {
            f"{D}-r1-b1": ("decided", "A1", "B2", "B2", None),
            f"{D}-r1-b2": ("invalidated", "B1", "A3", None, 1),
            f"{D}-final": ("invalidated", "B2", None, None, 1),
            f"{D}-bronze": ("invalidated", "A1", None, None, 1),
        }
        assert metric("standings_bracket_invalidated_bouts", {"tournament": T, "division": D}) == 3
        # B2 is in the final; A1, B1 and A3 are sure of 4th; A2 is now a pool third.
        assert ranks(env) == {"B2": 2, "A1": 4, "B1": 4, "A3": 4, "A2": 5, "B3": 5, "A4": 7, "B4": 7}
        project_all(
            env,
            [
                ko(f"{D}-r1-b2", 2, "blue", ("B1", "A3")),
                ko(f"{D}-bronze", 2, "red", ("A1", "B1")),
                ko(f"{D}-final", 2, "red", ("B2", "A3")),
            ],
        )
    assert metric("standings_bracket_invalidated_bouts", {"tournament": T, "division": D}) == 0
    assert ranks(env) == {"B2": 1, "A3": 2, "A1": 3, "B1": 4, "A2": 5, "B3": 5, "A4": 7, "B4": 7}
    # B2: pool 2 wins 1 loss, then the semifinal and the final (KO: 5 classification points a win).
    (b2,) = env.rows("SELECT rank, bouts, wins, losses, points FROM standings_rows WHERE athlete_id = 'B2'")
    assert tuple(b2) == (1, 5, 4, 1, 20)
    assert recompute(env, [(T, D)]) == set()
    report = replay(env.settings, env.engine, dry_run=True, idle_timeout_s=5)
    assert report.equal and report.ignored == {"slot_not_determined": 1}
    assert dead_letters() == dlq_before + 1
    (letter,) = read_topic(env.settings.kafka.bootstrap_servers, env.settings.kafka.dlq_topic, 1)
    assert dict(letter.headers() or [])["error.message"] == (
        f"{D}-final: both slots wait for the draw from the pools (once every pool bout is decided)".encode()
    )


SEEDED = {
    "judo13": bracket_description("elimination", repechage="judo", seeds=[f"J{i:02d}" for i in range(13)]),
    "wres11": bracket_description("elimination", repechage="wrestling", seeds=[f"W{i:02d}" for i in range(11)]),
    "none6": bracket_description("elimination", third_place="shared", seeds=[f"N{i}" for i in range(6)]),
    "pools12": bracket_description(
        "pools_then_elimination", repechage="judo", pools=[[f"P{p}{i}" for i in range(4)] for p in "XYZ"]
    ),
}


def interleave(rng: random.Random, streams: Sequence[Sequence[events.MatchEvent]]) -> list[Planned]:
    """The divisions' streams mixed at random, each in its own order (one key: one partition)."""
    queues = [list(reversed(s)) for s in streams]
    out: list[Planned] = []
    while any(queues):
        out.append(planned(rng.choice([q for q in queues if q]).pop()))
    return out


def test_live_streams_of_every_format_end_as_their_log_order_replay(env: ProjectorEnv) -> None:
    env.register(registration(SEEDED))
    rng = random.Random(20261202)
    streams = {
        d: bracket_stream(rng, T, d, b, rates=StreamRates(corrections=4, voids=2, early=2)) for d, b in SEEDED.items()
    }
    oracles = {d: BracketOracle(bd.division_bracket(d, b), pool_bouts(T, d, b)) for d, b in SEEDED.items()}
    verdicts: Counter[str] = Counter()
    for d, stream in streams.items():
        for event in stream:
            assert isinstance(event, events.ResultRecorded | events.ResultVoided)
            verdicts[oracles[d].offer(event)] += 1
    dlq_before = dead_letters()
    assert verdicts["slot_not_determined"] >= 4 and verdicts["duplicate"] >= 1 and verdicts["applied"] > 100
    assert sum(o.invalidating for o in oracles.values()) > 0  # corrections re-routed fought bouts
    with running(env.settings, env.engine):
        project_all(env, interleave(rng, list(streams.values())))
    for d, oracle in oracles.items():
        assert oracle.bout_rows()[f"{d}-final"][0] == "decided", d  # every division was fought to its final
        stored = env.rows(
            "SELECT athlete_id, rank, bouts, wins, losses, draws, points FROM standings_rows"
            " WHERE tournament_id = :t AND division_id = :d",
            t=T,
            d=d,
        )
        assert sorted(map(tuple, stored)) == sorted(
            (r.athlete_id, r.rank, r.bouts, r.wins, r.losses, r.draws, r.points) for r in oracle.rows()
        ), d
        assert status(env, d) == {
            b: (s, red, blue, w, inv) for b, (s, red, blue, w, _, inv) in oracle.bout_rows().items()
        }, d
    assert dead_letters() == dlq_before + verdicts["slot_not_determined"]
