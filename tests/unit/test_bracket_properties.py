"""Properties of bracket state, placings and rows over random brackets and random result logs
(corrections, voids, draws, no-contests, replays), SPEC §7."""

from __future__ import annotations

from functools import reduce

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.core.domain.brackets import (
    Bracket,
    BracketFormat,
    BracketRevision,
    BracketState,
    FoughtResult,
    Repechage,
    Status,
    ThirdPlace,
    apply_revision,
    bracket_rows,
    bracket_size,
    bracket_state,
    build_bracket,
    counted_bouts,
    draw_from_pools,
    draw_from_seeds,
    effective_fought_results,
    final_placings,
    is_complete,
    participants,
    placings,
    seeding_order,
)
from services.core.domain.results import BoutResult, BoutVoid, Method, Score, Winner, effective_results
from services.core.domain.ruleset import COMBAT_DEFAULT

FORMATS = [
    BracketFormat(repechage=Repechage.NONE, third_place=ThirdPlace.BRONZE_BOUT),
    BracketFormat(repechage=Repechage.NONE, third_place=ThirdPlace.SHARED),
    BracketFormat(repechage=Repechage.JUDO),
    BracketFormat(repechage=Repechage.WRESTLING),
]
DECIDING = [Method.KO, Method.FALL, Method.POINTS, Method.DECISION, Method.TECHNICAL_SUPERIORITY, Method.WALKOVER]


@st.composite
def brackets(draw: st.DrawFn) -> Bracket:
    fmt = draw(st.sampled_from(FORMATS))
    entrants = draw(st.integers(2, 18))
    return build_bracket("d", fmt, draw_from_seeds([f"a{i:02d}" for i in range(1, entrants + 1)]))


def _top(log: list[BracketRevision], bout_id: str) -> int:
    return max((r.revision for r in log if r.bout_id == bout_id), default=0)


@st.composite
def result_between(draw: st.DrawFn, bout_id: str, revision: int, red: str, blue: str, deciding: bool) -> FoughtResult:
    kind = "win" if deciding else draw(st.sampled_from(["win", "win", "win", "draw", "no_contest"]))
    if kind == "draw":
        return FoughtResult(BoutResult(bout_id, revision, Winner.DRAW, Method.DRAW, Score(1, 1)), red, blue)
    if kind == "no_contest":
        return FoughtResult(BoutResult(bout_id, revision, Winner.NONE, Method.NO_CONTEST, Score(0, 0)), red, blue)
    winner = draw(st.sampled_from([Winner.RED, Winner.BLUE]))
    score = Score(draw(st.integers(0, 4)), draw(st.integers(0, 4)))
    return FoughtResult(BoutResult(bout_id, revision, winner, draw(st.sampled_from(DECIDING)), score), red, blue)


def simulate(data: st.DataObject, bracket: Bracket, steps: int, complete: bool = False) -> list[BracketRevision]:
    """Post results the way a mat table would: only for bouts whose athletes are known, fought
    between them; sometimes a correction, a void or a draw. ``complete``: then finish the bracket."""
    log: list[BracketRevision] = []
    for _ in range(steps):
        state = bracket_state(bracket, log)
        ready = [b.bout_id for b in state.bouts.values() if participants(state, b.bout_id).known]
        if not ready:
            break
        bout_id = data.draw(st.sampled_from(ready))
        who = participants(state, bout_id)
        assert who.red is not None and who.blue is not None
        revision = _top(log, bout_id) + 1
        if data.draw(st.integers(0, 9)) == 0:
            log.append(BoutVoid(bout_id, revision))
        else:
            log.append(data.draw(result_between(bout_id, revision, who.red, who.blue, False)))
    while complete:
        state = bracket_state(bracket, log)
        pending = [b for b in state.bouts.values() if b.status in (Status.OPEN, Status.INVALIDATED)]
        if not pending:
            break
        b = pending[0]
        assert isinstance(b.red, str) and isinstance(b.blue, str)
        log.append(data.draw(result_between(b.bout_id, _top(log, b.bout_id) + 1, b.red, b.blue, True)))
    return log


def view(state: BracketState) -> tuple[object, ...]:
    """What the bracket shows: every position's slots, status and winner, and the placings."""
    bouts = tuple((b.bout_id, b.red, b.blue, b.status, b.winner, b.loser) for b in state.bouts.values())
    return bouts, placings(state)


@settings(max_examples=150, deadline=None)
@given(brackets(), st.data(), st.randoms(use_true_random=False))
def test_arrival_order_duplicates_and_replays_do_not_matter(bracket: Bracket, data, rnd) -> None:
    log = simulate(data, bracket, data.draw(st.integers(0, 40)))
    arrivals = log + data.draw(st.lists(st.sampled_from(log), max_size=len(log))) if log else []
    rnd.shuffle(arrivals)
    assert bracket_state(bracket, arrivals) == bracket_state(bracket, log)


@settings(max_examples=150, deadline=None)
@given(brackets(), st.data())
def test_incremental_equals_from_scratch(bracket: Bracket, data) -> None:
    log = simulate(data, bracket, data.draw(st.integers(0, 40)))
    replayed = log + data.draw(st.lists(st.sampled_from(log), max_size=5)) if log else []
    assert reduce(apply_revision, replayed, bracket_state(bracket, [])) == bracket_state(bracket, log)


@settings(max_examples=150, deadline=None)
@given(brackets(), st.data())
def test_a_correction_then_its_reversal_restores_the_bracket(bracket: Bracket, data) -> None:
    log = simulate(data, bracket, data.draw(st.integers(1, 40)))
    before = bracket_state(bracket, log)
    decided = before.with_status(Status.DECIDED)
    if not decided:
        return
    bout = data.draw(st.sampled_from(decided))
    assert bout.result is not None
    first, top = bout.result, _top(log, bout.bout_id)
    flipped = Winner.BLUE if first.result.winner is Winner.RED else Winner.RED
    correction = FoughtResult(BoutResult(bout.bout_id, top + 1, flipped, Method.KO, Score(0, 0)), first.red, first.blue)
    restored = FoughtResult(
        BoutResult(bout.bout_id, top + 2, first.result.winner, first.result.method, first.result.score),
        first.red,
        first.blue,
    )
    corrected = bracket_state(bracket, [*log, correction])
    assert corrected[bout.bout_id].winner != bout.winner
    after = bracket_state(bracket, [*log, correction, restored])
    assert view(after) == view(before)
    assert bracket_rows(after, placings(after), COMBAT_DEFAULT) == bracket_rows(
        before, placings(before), COMBAT_DEFAULT
    )


@settings(max_examples=150, deadline=None)
@given(brackets(), st.data())
def test_invalidated_results_count_in_no_row_and_no_placing(bracket: Bracket, data) -> None:
    log = simulate(data, bracket, data.draw(st.integers(0, 50)))
    state = bracket_state(bracket, log)
    stale = {b.bout_id for b in state.invalidated()}
    assert {b.bout_id for b in state.with_status(Status.INVALIDATED)} <= stale
    without = bracket_state(bracket, [r for r in log if r.bout_id not in stale])
    assert placings(state) == placings(without)
    assert bracket_rows(state, placings(state), COMBAT_DEFAULT) == bracket_rows(
        without, placings(without), COMBAT_DEFAULT
    )
    counted = {bout.bout_id for bout, _ in counted_bouts(state)}
    assert counted == {b.bout_id for b in state.with_status(Status.DECIDED)}
    assert not counted & stale
    rows = bracket_rows(state, placings(state), COMBAT_DEFAULT)
    assert sum(r.bouts for r in rows) == 2 * len(counted)
    assert sum(r.wins for r in rows) == sum(r.losses for r in rows) == len(counted)
    assert all(r.draws == 0 for r in rows)


@settings(max_examples=150, deadline=None)
@given(brackets(), st.data())
def test_a_complete_bracket_places_every_entrant_once(bracket: Bracket, data) -> None:
    log = simulate(data, bracket, data.draw(st.integers(0, 30)), complete=True)
    state = bracket_state(bracket, log)
    assert is_complete(state)
    final = final_placings(state)
    assert final is not None and all(p.decided for p in final)
    assert sorted(p.athlete_id for p in final) == sorted(bracket.entrants)
    places = [p.place for p in final]
    assert places.count(1) == 1 and places.count(2) == 1
    assert 1 <= places.count(3) <= 2 if len(bracket.entrants) > 2 else places == [1, 2]


@settings(max_examples=100, deadline=None)
@given(brackets(), st.data())
def test_placings_follow_the_athletes_under_renaming(bracket: Bracket, data) -> None:
    log = simulate(data, bracket, data.draw(st.integers(0, 30)), complete=data.draw(st.booleans()))
    names = {a: f"z{i:02d}" for i, a in enumerate(reversed(bracket.entrants))}
    renamed = build_bracket("d", bracket.format, [None if a is None else names[a] for a in bracket.draw])
    renamed_log = [r if isinstance(r, BoutVoid) else FoughtResult(r.result, names[r.red], names[r.blue]) for r in log]
    expected = sorted((p.place, names[p.athlete_id], p.decided) for p in placings(bracket_state(bracket, log)))
    got = sorted((p.place, p.athlete_id, p.decided) for p in placings(bracket_state(renamed, renamed_log)))
    assert got == expected


@settings(max_examples=100, deadline=None)
@given(brackets(), st.data())
def test_effective_results_semantics_are_the_round_robin_ones(bracket: Bracket, data) -> None:
    log = simulate(data, bracket, data.draw(st.integers(0, 30)))
    inner = [r if isinstance(r, BoutVoid) else r.result for r in log]
    assert {b: f.result for b, f in effective_fought_results(log).items()} == effective_results(inner)


@settings(max_examples=100, deadline=None)
@given(brackets(), st.data())
def test_placings_never_worsen_as_results_arrive(bracket: Bracket, data) -> None:
    """A placing is a secured floor: later results (without corrections) only improve it."""
    log = simulate(data, bracket, 0, complete=True)
    previous = {p.athlete_id: p for p in placings(bracket_state(bracket, []))}
    for n in range(1, len(log) + 1):
        now = {p.athlete_id: p for p in placings(bracket_state(bracket, log[:n]))}
        for athlete, p in now.items():
            assert p.place <= previous[athlete].place
            if previous[athlete].decided:
                assert p == previous[athlete]
        previous = now


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=8), st.integers(1, 3))
def test_pool_draws_seed_by_rank_with_byes_to_the_top(sizes: list[int], advance: int) -> None:
    pools = [[f"p{p}-{k}" for k in range(1, n + 1)] for p, n in enumerate(sizes, start=1)]
    qualifiers = [a for pool in pools for a in pool[:advance]]
    assume(len(qualifiers) >= 2)
    drawn = draw_from_pools(pools, advance)
    assert len(drawn) == bracket_size(len(qualifiers))
    assert sorted(a for a in drawn if a) == sorted(qualifiers)
    seed_at = seeding_order(len(drawn))
    # every pool rank takes the seeds after the rank above it; seeds past the qualifiers are byes
    rank = {a: k for pool in pools for k, a in enumerate(pool)}
    by_seed = sorted((seed_at[i], a) for i, a in enumerate(drawn) if a)
    assert [rank[a] for _, a in by_seed] == sorted(rank[a] for a in qualifiers)
    assert [s for s, _ in by_seed] == list(range(1, len(qualifiers) + 1))
    # the pool winners take seeds 1..P in pool order: the winners of pools 1 and 2 in opposite halves
    winners = [seed_at[drawn.index(pool[0])] for pool in pools]
    assert winners == list(range(1, len(pools) + 1))
    if len(pools) >= 2:
        half = len(drawn) // 2
        assert drawn.index("p1-1") < half <= drawn.index("p2-1")
