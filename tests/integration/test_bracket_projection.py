"""Bracket divisions through the projection (SPEC §7), on real PostgreSQL (and tansu for the
projector runs): the initial ``bracket_bouts`` of a freshly registered division, results routed
through the slots, a correction cascade, a void that opens a slot, ``slot_not_determined`` in the
DLQ, redelivery and replay. Expected values are worked out by hand (docs/brackets.md's examples)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.core import events
from services.core.db import projection
from services.core.domain import bracket_division as bd
from services.core.domain.brackets import build_bracket, draw_from_seeds, format_from_dict
from services.core.domain.codec import decode_bracket_revision
from services.core.domain.results import BoutResult, BoutVoid, Method, Score, Winner
from services.core.domain.ruleset import RULESETS
from services.embedded.kafka_broker import TansuBroker
from services.embedded.postgres import EmbeddedPostgres
from services.ops.replay import replay
from tests.integration.projector_env import ProjectorEnv, metric, projector_environment, read_topic, running
from tests.projector_support import DeliveryTracker, Planned, Registration, planned, produce, wait_for_positions

T = "brk-open"
D = "d"
SEEDS = list("ABCDEFGH")  # drawn A H D E B G C F


def bracket_registration(
    t: str = T,
    d: str = D,
    *,
    seeds: Sequence[str] | None = SEEDS,
    draw: Sequence[str | None] | None = None,
    repechage: str = "none",
    third_place: str = "bronze_bout",
) -> Registration:
    """A tournament with one elimination division: athletes, entries, and a bout per position
    (no fixed athletes), as the registration import creates them."""
    bracket: dict[str, Any] = {
        "format": "elimination",
        "repechage": repechage,
        "third_place": third_place,
        "advance": 2,
        "seeds": list(seeds) if seeds else None,
        "draw": list(draw) if draw else None,
        "pools": None,
    }
    fmt = {"format": "elimination", "repechage": repechage}
    if repechage == "none":
        fmt["third_place"] = third_place
    positions = draw if draw else draw_from_seeds(seeds or ())
    layout = build_bracket(d, format_from_dict(fmt), positions)
    athletes = [a for a in positions if a is not None]
    reg = Registration()
    reg.tournaments.append(
        {
            "tournament_id": t,
            "name": "Bracket Open",
            "tier": "national",
            "start_date": dt.date(2026, 11, 20),
            "end_date": dt.date(2026, 11, 22),
        }
    )
    reg.divisions.append(
        {
            "tournament_id": t,
            "division_id": d,
            "name": "Bracket",
            "category": "m-73kg",
            "formats": ["elimination"],
            "format": "elimination",
            "bracket": bracket,
        }
    )
    for a in athletes:
        reg.athletes.append({"athlete_id": a, "full_name": f"Athlete {a}", "country": "FRA", "club": None})
        reg.entries.append({"tournament_id": t, "division_id": d, "athlete_id": a})
    for n, position in enumerate(layout.positions):
        reg.bouts.append({"bout_id": position.bout_id, "tournament_id": t, "division_id": d, "bout_order": n})
    return reg


@pytest.fixture
def env(pg: EmbeddedPostgres, kafka: TansuBroker) -> Iterator[ProjectorEnv]:
    with projector_environment(pg, kafka, prefix="brk") as e:
        yield e


def recompute(env: ProjectorEnv, t: str = T, d: str = D) -> set[tuple[str, str]]:
    with Session(env.engine) as session, session.begin():
        return projection.recompute_standings(session, [(t, d)], {(t, d): RULESETS["combat-default"]})


def bracket_bouts(env: ProjectorEnv, t: str = T) -> dict[str, tuple[Any, ...]]:
    """bout -> (status, red, blue, waiting_for, winner, counted, invalidated)."""
    rows = env.rows(
        "SELECT bout_id, status, red_athlete_id, blue_athlete_id, waiting_for, winner_athlete_id,"
        " counted_revision, invalidated_revision FROM bracket_bouts WHERE tournament_id = :t",
        t=t,
    )
    return {r[0]: tuple(r[1:]) for r in rows}


def ranks(env: ProjectorEnv, t: str = T) -> dict[str, int]:
    rows = env.rows("SELECT athlete_id, rank FROM standings_rows WHERE tournament_id = :t", t=t)
    return {a: r for a, r in rows}


def test_a_registered_bracket_gets_its_initial_positions_and_rows(env: ProjectorEnv) -> None:
    env.register(bracket_registration())
    assert recompute(env) == {(T, D)}
    assert bracket_bouts(env) == {
        "d-r1-b1": ("open", "A", "H", None, None, None, None),
        "d-r1-b2": ("open", "D", "E", None, None, None, None),
        "d-r1-b3": ("open", "B", "G", None, None, None, None),
        "d-r1-b4": ("open", "C", "F", None, None, None, None),
        "d-r2-b1": (
            "waiting",
            None,
            None,
            "red slot waits for the winner of d-r1-b1; blue slot waits for the winner of d-r1-b2",
            None,
            None,
            None,
        ),
        "d-r2-b2": (
            "waiting",
            None,
            None,
            "red slot waits for the winner of d-r1-b3; blue slot waits for the winner of d-r1-b4",
            None,
            None,
            None,
        ),
        "d-final": (
            "waiting",
            None,
            None,
            "red slot waits for the winner of d-r2-b1; blue slot waits for the winner of d-r2-b2",
            None,
            None,
            None,
        ),
        "d-bronze": (
            "waiting",
            None,
            None,
            "red slot waits for the loser of d-r2-b1; blue slot waits for the loser of d-r2-b2",
            None,
            None,
            None,
        ),
    }
    # Provisional: everyone has secured the quarterfinal losers' 5th place.
    assert ranks(env) == dict.fromkeys(SEEDS, 5)
    assert recompute(env) == set()  # nothing changed: nothing written


def test_byes_stand_in_the_next_round_before_any_result(env: ProjectorEnv) -> None:
    env.register(bracket_registration(seeds=None, draw=["A", None, "D", "E", "B", None, "C", None], repechage="judo"))
    recompute(env)
    rows = bracket_bouts(env)
    assert rows["d-r1-b1"] == ("bye", "A", None, None, None, None, None)
    assert rows["d-r1-b2"] == ("open", "D", "E", None, None, None, None)
    assert rows["d-r1-b3"] == ("bye", "B", None, None, None, None, None)
    assert rows["d-r2-b1"] == ("waiting", "A", None, "blue slot waits for the winner of d-r1-b2", None, None, None)
    assert rows["d-r2-b2"] == ("open", "B", "C", None, None, None, None)
    assert rows["d-bronze-bottom"][0] == "bye"


# -- through the projector ------------------------------------------------------------------------

AT = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC)


def won(bout: str, revision: int, red: str, blue: str, winner: str = "red", t: str = T) -> Planned:
    """A ko win of ``winner`` in a bout fought between ``red`` and ``blue``."""
    result = BoutResult(bout, revision, Winner(winner), Method.KO, Score(0, 0))
    return planned(events.result_recorded(t, D, result, AT, (red, blue)))


def voided(bout: str, revision: int, t: str = T) -> Planned:
    return planned(events.result_voided(t, D, BoutVoid(bout, revision), AT))


def project_all(env: ProjectorEnv, messages: Sequence[Planned], tracker: DeliveryTracker | None = None) -> None:
    """Produce ``messages`` (in order, one partition: one key) and wait until the projector passed them."""
    tracker = produce(env.settings.kafka, messages, tracker=tracker or DeliveryTracker(remember=True))
    wait_for_positions(env.engine, env.group, env.topic, tracker.next_offsets, timeout=60)


def rows_of(env: ProjectorEnv, t: str = T) -> dict[str, tuple[int, int, int, int, int]]:
    """athlete -> (rank, bouts, wins, losses, points)."""
    rows = env.rows(
        "SELECT athlete_id, rank, bouts, wins, losses, points FROM standings_rows WHERE tournament_id = :t", t=t
    )
    return {r[0]: tuple(r[1:]) for r in rows}


def from_scratch(env: ProjectorEnv, t: str = T) -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[Any, ...]]]:
    """The standings and bracket rows recomputed with the pure domain from every stored revision."""
    (raw,) = env.rows("SELECT bracket FROM divisions WHERE tournament_id = :t", t=t)[0]
    stored = env.rows(
        "SELECT r.bout_id, r.revision, r.kind, r.payload FROM results r JOIN bouts b USING (bout_id)"
        " WHERE b.tournament_id = :t",
        t=t,
    )
    log = [decode_bracket_revision(b, r, k, p) for b, r, k, p in stored]
    done = bd.project(bd.division_bracket(D, raw), [], log, RULESETS["combat-default"])
    rows = {
        r.athlete_id: (r.rank, r.bouts, r.wins, r.losses, r.points)
        for r in bd.division_rows(done, RULESETS["combat-default"])
    }
    bouts = {
        r.bout_id: (r.status, r.red_athlete_id, r.blue_athlete_id, r.waiting_for, r.winner_athlete_id,
                    r.counted_revision, r.invalidated_revision)
        for r in bd.bout_rows(done)
    }  # fmt: skip
    return rows, bouts


OUT_IN_ROUND_ONE = (5, 1, 0, 1, 0)  # (rank, bouts, wins, losses, points) of a quarterfinal loser

FIRST_ROUND = [
    won("d-r1-b1", 1, "A", "H"),
    won("d-r1-b2", 1, "D", "E", "blue"),
    won("d-r1-b3", 1, "B", "G", "blue"),
    won("d-r1-b4", 1, "C", "F"),
]


def test_a_quarterfinal_correction_after_the_final_invalidates_downstream_and_moves_the_placings(
    env: ProjectorEnv,
) -> None:
    env.register(bracket_registration())
    recompute(env)  # as the registration import leaves it
    early_final = won("d-final", 1, "A", "C")
    dlq_before = metric("standings_dlq_messages_total", {"reason": "slot_not_determined"})
    with running(env.settings, env.engine):
        project_all(env, [early_final, *FIRST_ROUND, won("d-r2-b1", 1, "A", "E"), won("d-r2-b2", 1, "G", "C", "blue")])
        project_all(env, [won("d-final", 1, "A", "C"), won("d-bronze", 1, "E", "G", "blue")])
        assert rows_of(env) == {
            "A": (1, 3, 3, 0, 15),
            "C": (2, 3, 2, 1, 10),
            "G": (3, 3, 2, 1, 10),
            "E": (4, 3, 1, 2, 5),
            **dict.fromkeys("BDFH", OUT_IN_ROUND_ONE),
        }
        # D, not E, won the quarterfinal: the semifinal A v E, the final and the bronze bout no longer count.
        project_all(env, [won("d-r1-b2", 2, "D", "E")])
        bouts = bracket_bouts(env)
        assert bouts["d-r1-b2"] == ("decided", "D", "E", None, "D", 2, None)
        assert bouts["d-r2-b1"] == ("invalidated", "A", "D", None, None, None, 1)
        assert bouts["d-r2-b2"] == ("decided", "G", "C", None, "C", 1, None)
        assert bouts["d-final"] == (
            "invalidated", None, "C", "red slot waits for the winner of d-r2-b1", None, None, 1
        )  # fmt: skip
        assert bouts["d-bronze"] == (
            "invalidated", None, "G", "red slot waits for the loser of d-r2-b1", None, None, 1
        )  # fmt: skip
        assert metric("standings_bracket_invalidated_bouts", {"tournament": T, "division": D}) == 3
        assert rows_of(env) == {
            "C": (2, 2, 2, 0, 10),
            **dict.fromkeys("AD", (4, 1, 1, 0, 5)),
            "G": (4, 2, 1, 1, 5),
            **dict.fromkeys("BEFH", OUT_IN_ROUND_ONE),
        }
        assert (rows_of(env), bracket_bouts(env)) == from_scratch(env)
        # The re-fights.
        project_all(env, [won("d-r2-b1", 2, "A", "D", "blue")])
        project_all(env, [won("d-final", 2, "D", "C"), won("d-bronze", 2, "A", "G", "blue")])
    assert metric("standings_bracket_invalidated_bouts", {"tournament": T, "division": D}) == 0
    assert {a: r[0] for a, r in rows_of(env).items()} == {
        "D": 1, "C": 2, "G": 3, "A": 4, "B": 5, "E": 5, "F": 5, "H": 5
    }  # fmt: skip
    assert (rows_of(env), bracket_bouts(env)) == from_scratch(env)
    assert recompute(env) == set()  # the projector's rows are the recomputation's
    # A replay of the whole log (the early final dead-lettered at its place again) finds them equal.
    report = replay(env.settings, env.engine, dry_run=True, idle_timeout_s=5)
    assert report.equal and report.divisions == 1
    assert report.ignored == {"slot_not_determined": 1}
    # Damaged rows are repaired from the log: the standings rows and the bracket_bouts rows.
    expected = (rows_of(env), bracket_bouts(env))
    with env.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE standings_rows SET rank = 9 WHERE tournament_id = :t AND athlete_id = 'D'"), {"t": T}
        )
        conn.execute(
            sa.text("UPDATE bracket_bouts SET status = 'open', winner_athlete_id = NULL WHERE bout_id = 'd-final'")
        )
    assert not replay(env.settings, env.engine, idle_timeout_s=5).equal
    assert (rows_of(env), bracket_bouts(env)) == expected
    assert metric("standings_dlq_messages_total", {"reason": "slot_not_determined"}) == dlq_before + 1
    (letter,) = read_topic(env.settings.kafka.bootstrap_servers, env.settings.kafka.dlq_topic, 1)
    headers = dict(letter.headers())
    assert headers["error.class"] == b"slot_not_determined"
    assert headers["error.message"].decode() == (
        "d-final: red slot waits for the winner of d-r2-b1; blue slot waits for the winner of d-r2-b2"
    )
    assert letter.value() == early_final.value


def test_finalizing_awards_the_bracket_placings(env: ProjectorEnv) -> None:
    env.register(bracket_registration())
    results = [
        *FIRST_ROUND,
        won("d-r2-b1", 1, "A", "E"),
        won("d-r2-b2", 1, "G", "C", "blue"),
        won("d-final", 1, "A", "C"),
        won("d-bronze", 1, "E", "G", "blue"),
    ]
    with running(env.settings, env.engine):
        project_all(env, [*results, planned(events.tournament_finalized(T, D, AT))])
    awards = env.rows(
        'SELECT athlete_id, "placing", points, provisional FROM ranking_awards WHERE tournament_id = :t', t=T
    )
    assert {a: (p, pts, prov) for a, p, pts, prov in awards} == {
        "A": (1, 100.0, False),
        "C": (2, 70.0, False),
        "G": (3, 50.0, False),
        "E": (4, 40.0, False),
        **dict.fromkeys("BDFH", (5, 30.0, False)),
    }


def test_a_void_opens_a_slot_and_a_result_posted_into_it_is_dead_lettered(env: ProjectorEnv) -> None:
    env.register(bracket_registration())
    semifinal = won("d-r2-b1", 1, "A", "E")
    with running(env.settings, env.engine):
        project_all(env, [*FIRST_ROUND, semifinal])
        assert bracket_bouts(env)["d-r2-b1"] == ("decided", "A", "E", None, "A", 1, None)
        project_all(env, [voided("d-r1-b1", 2)])
        bouts = bracket_bouts(env)
        assert bouts["d-r1-b1"] == ("open", "A", "H", None, None, None, None)
        assert bouts["d-r2-b1"] == (
            "invalidated", None, "E", "red slot waits for the winner of d-r1-b1", None, None, 1
        )  # fmt: skip
        assert metric("standings_bracket_invalidated_bouts", {"tournament": T, "division": D}) == 1
        # A producer retry of the stored semifinal is a duplicate, not a dead letter; a new
        # revision into the open slot is dead-lettered.
        project_all(env, [semifinal, won("d-r2-b1", 2, "A", "E")])
        # Neither the voided bout nor the semifinal counts; A stands in the open first-round bout again.
        assert rows_of(env)["A"] == (5, 0, 0, 0, 0)
        assert rows_of(env)["E"] == (4, 1, 1, 0, 5)
        # The bout fought again with the same winner: the stored semifinal counts again.
        project_all(env, [won("d-r1-b1", 3, "A", "H")])
    assert bracket_bouts(env)["d-r2-b1"] == ("decided", "A", "E", None, "A", 1, None)
    assert rows_of(env)["A"] == (2, 2, 2, 0, 10)  # in the final: 2nd secured
    assert metric("standings_bracket_invalidated_bouts", {"tournament": T, "division": D}) == 0
    (letter,) = read_topic(env.settings.kafka.bootstrap_servers, env.settings.kafka.dlq_topic, 1)
    assert dict(letter.headers())["error.class"] == b"slot_not_determined"
    assert (rows_of(env), bracket_bouts(env)) == from_scratch(env)


def test_a_result_for_a_bye_is_dead_lettered_as_no_bout(env: ProjectorEnv) -> None:
    env.register(bracket_registration(seeds=None, draw=["A", None, "D", "E", "B", None, "C", None], repechage="judo"))
    with running(env.settings, env.engine):
        project_all(env, [won("d-r1-b1", 1, "A", "H"), won("d-r1-b2", 1, "D", "E")])
    (letter,) = read_topic(env.settings.kafka.bootstrap_servers, env.settings.kafka.dlq_topic, 1)
    assert dict(letter.headers())["error.class"] == b"no_bout"
    assert dict(letter.headers())["error.message"] == b"d-r1-b1 is a bye: there is no bout to record"
    assert bracket_bouts(env)["d-r2-b1"] == ("open", "A", "D", None, None, None, None)
