"""Ranking awards, the 365-day window, provisional points and the outbox on a real migrated PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy.orm import Session

from services.projector.rankings_hook import apply_ranking_effects as projector_hook
from services.rankings import rerank as repo
from tests.rankings_support import TODAY, World, db_url, world

__all__ = ["db_url", "world"]


def _ranking(w: World) -> dict[tuple[str, str], tuple[int, float, float, int, float, int]]:
    rows = w.rows(
        "SELECT category, athlete_id, rank, points, best_award, awards, provisional_points, version FROM rankings"
    )
    return {(r[0], r[1]): (r[2], float(r[3]), float(r[4]), r[5], float(r[6]), r[7]) for r in rows}


def _changes(w: World) -> list[tuple[int, str, str]]:
    return [tuple(r) for r in w.rows("SELECT change_id, category, athlete_id FROM ranking_changes ORDER BY change_id")]


def _apply(w: World, touched: set[tuple[str, str]], finalized: set[tuple[str, str]], today: dt.date = TODAY) -> int:
    with Session(w.engine) as session, session.begin():
        return repo.apply_ranking_effects(session, touched, finalized, today=today)


def _setup_four(w: World, tournament: str = "worlds", tier: str = "world", end: dt.date = dt.date(2026, 6, 1)) -> None:
    w.athletes([("a", "Zoë Müller-Łukasz", "GER"), ("b", "Ōno Shōhei", "JPN"), ("c", "C", "FRA"), ("d", "D", "FRA")])
    w.tournament(tournament, tier, end)
    w.division(tournament, "m-73kg", "m-73kg", ["a", "b", "c", "d"])
    with Session(w.engine) as session, session.begin():
        w.standings(session, tournament, "m-73kg", {"a": 1, "b": 2, "c": 3, "d": 3})


def test_finalized_division_awards_placing_points_times_tier(world: World) -> None:
    _setup_four(world)
    assert _apply(world, set(), {("worlds", "m-73kg")}) == 4

    awards = {
        r[0]: (r[1], float(r[2]), r[3])
        for r in world.rows('SELECT athlete_id, "placing", points, provisional FROM ranking_awards')
    }
    # world tier x2; c and d share 3rd place and both get 3rd place points
    assert awards == {"a": (1, 200.0, False), "b": (2, 140.0, False), "c": (3, 100.0, False), "d": (3, 100.0, False)}
    ranking = _ranking(world)
    assert {k: v[:5] for k, v in ranking.items()} == {
        ("m-73kg", "a"): (1, 200.0, 200.0, 1, 0.0),
        ("m-73kg", "b"): (2, 140.0, 140.0, 1, 0.0),
        ("m-73kg", "c"): (3, 100.0, 100.0, 1, 0.0),
        ("m-73kg", "d"): (3, 100.0, 100.0, 1, 0.0),
    }
    changes = _changes(world)
    assert sorted((c, a) for _, c, a in changes) == sorted(ranking)
    # every document's version is the change id that wrote it
    assert {(c, a): cid for cid, c, a in changes} == {k: v[5] for k, v in ranking.items()}

    # a replayed finalize (at-least-once delivery) changes nothing and appends nothing
    assert _apply(world, {("worlds", "m-73kg")}, {("worlds", "m-73kg")}) == 0
    assert _changes(world) == changes


def test_points_sum_over_the_365_day_window_and_expire_in_the_daily_recompute(world: World) -> None:
    world.athletes([("a", "A", "GER"), ("b", "B", "JPN"), ("c", "C", "FRA")])
    # ended exactly 365 days before TODAY (still counts), and a recent one
    world.tournament("old-open", "open", TODAY - dt.timedelta(days=365))
    world.tournament("nationals", "national", dt.date(2026, 3, 1))
    world.tournament("ancient", "world", TODAY - dt.timedelta(days=366))
    world.division("old-open", "m", "m-73kg", ["a", "b"])
    world.division("nationals", "m", "m-73kg", ["a", "b", "c"])
    world.division("ancient", "m", "m-73kg", ["c"])
    with Session(world.engine) as session, session.begin():
        world.standings(session, "old-open", "m", {"a": 1, "b": 2})
        world.standings(session, "nationals", "m", {"b": 1, "a": 2, "c": 3})
        world.standings(session, "ancient", "m", {"c": 1})
    _apply(world, set(), {("old-open", "m"), ("nationals", "m"), ("ancient", "m")})

    ranking = _ranking(world)
    # a: 50 (open x0.5) + 70 = 120, best 70; b: 35 + 100 = 135, best 100; c: 50 (the world title is 366 days old)
    assert {k[1]: v[:4] for k, v in ranking.items()} == {
        "b": (1, 135.0, 100.0, 2),
        "a": (2, 120.0, 70.0, 2),
        "c": (3, 50.0, 50.0, 1),
    }
    before = _changes(world)
    versions = {k[1]: v[5] for k, v in ranking.items()}

    # the same day again: nothing changes, nothing goes to the outbox
    with Session(world.engine) as session, session.begin():
        assert repo.recompute_all_rankings(session, TODAY) == 0
    assert _changes(world) == before

    # next day the open tournament expires: a and b lose it; c moves up to 2nd (rank shift = change)
    with Session(world.engine) as session, session.begin():
        changed = repo.recompute_all_rankings(session, TODAY + dt.timedelta(days=1))
    ranking = _ranking(world)
    assert {k[1]: v[:4] for k, v in ranking.items()} == {
        "b": (1, 100.0, 100.0, 1),
        "a": (2, 70.0, 70.0, 1),
        "c": (3, 50.0, 50.0, 1),
    }
    new = _changes(world)[len(before) :]
    assert changed == 2 and sorted(a for _, _, a in new) == ["a", "b"]
    assert ranking[("m-73kg", "c")][5] == versions["c"]  # unchanged document keeps its version
    assert all(ranking[("m-73kg", a)][5] > versions[a] for a in ("a", "b"))

    # a year later nothing counts: rows are deleted and the deletions go to the outbox too
    with Session(world.engine) as session, session.begin():
        assert repo.recompute_all_rankings(session, TODAY + dt.timedelta(days=400)) == 3
    assert _ranking(world) == {}
    assert sorted(a for _, _, a in _changes(world)[-3:]) == ["a", "b", "c"]


def test_provisional_points_are_shown_apart_and_replaced_when_finalized(world: World) -> None:
    world.athletes([("a", "A", "GER"), ("b", "B", "JPN"), ("n", "Newcomer", "FRA")])
    world.tournament("nationals", "national", dt.date(2026, 3, 1))
    world.division("nationals", "m", "m-73kg", ["a", "b"])
    with Session(world.engine) as session, session.begin():
        world.standings(session, "nationals", "m", {"a": 1, "b": 2})
    _apply(world, set(), {("nationals", "m")})

    world.tournament("live-cup", "continental", TODAY, status="live")
    world.division("live-cup", "m", "m-73kg", ["b", "n"])
    with Session(world.engine) as session, session.begin():
        world.standings(session, "live-cup", "m", {"n": 1, "b": 2})
        # through the projector's hook, inside "its" transaction
        projector_hook(session, {("live-cup", "m")}, set())
    # the category re-rank runs in the rankings stage (the indexer process), off the projector's path
    assert repo.process_requests(world.engine, TODAY) == 1

    prov = {
        r[0]: (float(r[1]), r[2])
        for r in world.rows(
            "SELECT athlete_id, points, provisional FROM ranking_awards WHERE tournament_id = 'live-cup'"
        )
    }
    assert prov == {"n": (150.0, True), "b": (105.0, True)}
    ranking = _ranking(world)
    # counted points and ranks unchanged; provisional points apart; the newcomer is listed but unranked
    assert {k[1]: v[:5] for k, v in ranking.items()} == {
        "a": (1, 100.0, 100.0, 1, 0.0),
        "b": (2, 70.0, 70.0, 1, 105.0),
        "n": (0, 0.0, 0.0, 0, 150.0),
    }
    assert sorted(a for _, _, a in _changes(world)[-2:]) == ["b", "n"]

    # standings move while live: only provisional points follow
    with Session(world.engine) as session, session.begin():
        world.standings(session, "live-cup", "m", {"b": 1, "n": 2})
        projector_hook(session, {("live-cup", "m")}, set())
    # the category re-rank runs in the rankings stage (the indexer process), off the projector's path
    assert repo.process_requests(world.engine, TODAY) == 1
    assert {k[1]: v[4] for k, v in _ranking(world).items()} == {"a": 0.0, "b": 150.0, "n": 105.0}

    # finalized: awards become final and count; provisional points are gone
    world.set_status("live-cup", "finalized")
    _apply(world, set(), {("live-cup", "m")})
    assert world.scalar("SELECT count(*) FROM ranking_awards WHERE provisional") == 0
    assert {k[1]: v[:5] for k, v in _ranking(world).items()} == {
        "b": (1, 220.0, 150.0, 2, 0.0),
        "n": (2, 105.0, 105.0, 1, 0.0),
        "a": (3, 100.0, 100.0, 1, 0.0),
    }


def test_scheduled_tournaments_and_unknown_divisions_write_nothing(world: World) -> None:
    world.athletes([("a", "A", "GER")])
    world.tournament("later", "open", TODAY + dt.timedelta(days=30), status="scheduled")
    world.division("later", "m", "m-73kg", ["a"])
    with Session(world.engine) as session, session.begin():
        world.standings(session, "later", "m", {"a": 1})
    assert _apply(world, {("later", "m"), ("nope", "x")}, set()) == 0
    assert _changes(world) == []


def test_versions_grow_with_every_change_and_renames_reindex(world: World) -> None:
    _setup_four(world)
    _apply(world, set(), {("worlds", "m-73kg")})
    first = _ranking(world)
    with Session(world.engine) as session, session.begin():
        world.standings(session, "worlds", "m-73kg", {"b": 1, "a": 2, "c": 3, "d": 4})
    _apply(world, {("worlds", "m-73kg")}, set())  # a late correction after finalization re-awards
    second = _ranking(world)
    assert second[("m-73kg", "b")][:2] == (1, 200.0) and second[("m-73kg", "d")][:2] == (4, 80.0)
    for key in ("a", "b", "d"):
        assert second[("m-73kg", key)][5] > first[("m-73kg", key)][5]
    assert second[("m-73kg", "c")][5] == first[("m-73kg", "c")][5]

    with Session(world.engine) as session, session.begin():
        assert repo.touch_athletes(session, ["a"]) == 1
    assert _ranking(world)[("m-73kg", "a")][5] > second[("m-73kg", "a")][5]
    ids = [cid for cid, _, _ in _changes(world)]
    assert ids == sorted(ids)


def test_concurrent_finalizations_in_one_category_rank_consistently(world: World) -> None:
    """Two projector transactions finalizing divisions of the same category at once: the lock is
    taken before reading, so the second sees the first's awards and the ranks are right."""
    athletes = [(f"x{i}", f"X {i}", "GER") for i in range(20)]
    world.athletes(athletes)
    for t in ("t1", "t2"):
        world.tournament(t, "national", dt.date(2026, 5, 1))
        world.division(t, "m", "m-73kg", [a for a, _, _ in athletes])
    barrier = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    def finalize(t: str, order: list[str]) -> None:
        try:
            with Session(world.engine) as session, session.begin():
                world.standings(session, t, "m", {a: i + 1 for i, a in enumerate(order)})
                barrier.wait()
                repo.apply_ranking_effects(session, set(), {(t, "m")}, today=TODAY)
        except BaseException as exc:
            errors.append(exc)

    ids = [a for a, _, _ in athletes]
    threads = [
        threading.Thread(target=finalize, args=("t1", ids)),
        threading.Thread(target=finalize, args=("t2", list(reversed(ids)))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    ranking = _ranking(world)
    # x0 and x19: 100 + 10; everyone's total is the sum of both placings
    expected_total = {
        a: float(world.scalar("SELECT sum(points) FROM ranking_awards WHERE athlete_id = :a", a=a)) for a in ids
    }
    assert {k[1]: v[1] for k, v in ranking.items()} == expected_total
    order = sorted(ranking.items(), key=lambda kv: (-kv[1][1], -kv[1][2], kv[0][1]))
    ranks = [v[0] for _, v in order]
    assert ranks == sorted(ranks) and ranks[0] == 1
