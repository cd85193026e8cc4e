"""Bracket bodies encoded from the response schemas the OpenAPI document is built from.

``bracket_out`` turns a ``BracketView`` (the pure domain's state plus registration data) into a
``BracketOut``; the cache encodes it once per division version (services/api/standings_cache.py),
the historical ``?as_of_offset`` bracket per request.
"""

from __future__ import annotations

from typing import cast

from pydantic import TypeAdapter

from services.api.bracket_schemas import (
    AthleteOut,
    BoutStatus,
    BracketBoutOut,
    BracketOut,
    CountedResultOut,
    FormatName,
    FormatOut,
    HalfName,
    PhaseName,
    PlacingOut,
    PoolOut,
    RepechageName,
    ScoreOut,
    SlotOut,
    ThirdPlaceName,
)
from services.api.schemas import AsOf, DivisionRef, StandingsRowOut, TournamentRef
from services.api.standings_cache import RenderedStandings
from services.core.db.bracket_read import AthleteInfo, BracketView
from services.core.domain.bracket_division import NOT_DRAWN
from services.core.domain.brackets import BoutState, FormatKind, Slot, Status, Vacancy
from services.core.domain.brackets.feeds import Feed, describe_feed

_BRACKET = TypeAdapter(BracketOut)
_ROWS = TypeAdapter(list[StandingsRowOut])


def _athlete(info: AthleteInfo) -> AthleteOut:
    return AthleteOut(athlete_id=info.athlete_id, name=info.name, country=info.country, club=info.club)


class _View:
    """One bracket's lookups (athletes, schedule) shared by its bouts' conversions. Before a
    pools_then_elimination division is drawn every slot waits for the draw from the pools."""

    def __init__(self, data: BracketView) -> None:
        self.data = data
        self.drawn = data.projection.drawn

    def slot(self, slot: Slot, feed: Feed) -> SlotOut:
        if not self.drawn:
            return SlotOut(athlete=None, bye=False, waiting_for=NOT_DRAWN)
        if slot is Vacancy.BYE:
            return SlotOut(athlete=None, bye=True, waiting_for=None)
        if isinstance(slot, str):
            return SlotOut(athlete=_athlete(self.data.athletes[slot]), bye=False, waiting_for=None)
        return SlotOut(athlete=None, bye=False, waiting_for=describe_feed(feed))

    def result(self, bout: BoutState) -> CountedResultOut | None:
        counted = bout.result if bout.status is Status.DECIDED else None
        if counted is None:
            return None
        score = counted.result.score
        same = counted.red == bout.red  # the slots' colours, whatever colours it was fought in
        return CountedResultOut(
            revision=counted.revision,
            method=counted.result.method.value,
            score=ScoreOut(red=score.red if same else score.blue, blue=score.blue if same else score.red),
        )

    def bout(self, bout: BoutState) -> BracketBoutOut:
        position = bout.position
        mat, order = self.data.schedule.get(position.bout_id, (None, None))
        result = self.result(bout) if self.drawn else None
        return BracketBoutOut(
            bout_id=position.bout_id,
            phase=cast(PhaseName, position.phase.value),
            round=position.round,
            index=position.index,
            half=cast(HalfName, position.half.value) if position.half else None,
            mat=mat,
            order=order,
            status=cast(BoutStatus, bout.status.value if self.drawn else "waiting"),
            red=self.slot(bout.red, position.red),
            blue=self.slot(bout.blue, position.blue),
            winner_athlete_id=bout.winner if result is not None and isinstance(bout.winner, str) else None,
            result=result,
            invalidated=self.drawn and bout.invalidated,
            invalidated_revision=bout.stored.revision if self.drawn and bout.invalidated and bout.stored else None,
        )


def _current(bouts: list[BracketBoutOut]) -> str | None:
    """The first bout to fight in mat order: open, or invalidated with both athletes known (a re-fight)."""
    ready = [
        b
        for b in bouts
        if b.status == "open" or (b.status == "invalidated" and b.red.athlete is not None and b.blue.athlete)
    ]
    ready.sort(key=lambda b: (b.mat if b.mat is not None else 0, b.order if b.order is not None else 0, b.bout_id))
    return ready[0].bout_id if ready else None


def _placings(data: BracketView) -> list[PlacingOut]:
    """Decided only once drawn: while the pools are fought, every placing can still change."""
    drawn = data.projection.drawn
    in_bracket = set(data.projection.bracket.entrants) if drawn else set()
    return [
        PlacingOut(
            place=p.place,
            athlete=_athlete(data.athletes[p.athlete_id]),
            decided=p.decided and drawn,
            stage="bracket" if p.athlete_id in in_bracket else "pool",
        )
        for p in data.placings
    ]


def _pools(data: BracketView) -> list[PoolOut] | None:
    if data.pools is None:
        return None
    return [
        PoolOut(pool_id=p.pool_id, complete=p.complete, rows=_ROWS.validate_python(p.rows, from_attributes=True))
        for p in data.pools
    ]


def bracket_out(data: BracketView, freshness_s: int = 0) -> BracketOut:
    """The live bracket, or (``data.as_of`` set) a historical one with ``version`` null."""
    meta, fmt, view, state = data.meta, data.projection.spec.format, _View(data), data.projection.state
    bouts = [view.bout(state.bouts[p.bout_id]) for p in state.bracket.positions]
    point = data.as_of
    as_of = (
        AsOf(event_time=meta.last_event_at, partition=meta.last_partition, offset=meta.last_offset)
        if point is None
        else AsOf(event_time=point.event_time, partition=point.partition, offset=point.offset)
    )
    return BracketOut(
        tournament=TournamentRef(id=meta.tournament_id, name=meta.tournament_name, status=meta.tournament_status),
        division=DivisionRef(id=meta.division_id, name=meta.name, category=meta.category),
        version=meta.version if point is None else None,
        as_of=as_of,
        as_of_offset=None if point is None else point.requested_offset,
        format=FormatOut(
            format=cast(FormatName, fmt.kind.value),
            repechage=cast(RepechageName, fmt.repechage.value),
            third_place=cast(ThirdPlaceName, fmt.third_place.value),
            advance=fmt.advance if fmt.kind is FormatKind.POOLS_THEN_ELIMINATION else None,
        ),
        size=state.bracket.size,
        complete=all(b.status in ("decided", "bye") for b in bouts),
        current_bout_id=_current(bouts),
        invalidated_bouts=sum(1 for b in bouts if b.invalidated),
        bouts=bouts,
        placings=_placings(data),
        pools=_pools(data),
        freshness_s=freshness_s,
    )


def encode_bracket(body: BracketOut) -> bytes:
    return _BRACKET.dump_json(body)


def render_bracket(data: BracketView) -> RenderedStandings:
    """A division version's bracket for the cache: ETag ``"t:d:bracket:v"``, SSE event ``bracket``."""
    return RenderedStandings.from_body(data.meta, encode_bracket(bracket_out(data)), event="bracket", kind="bracket")
