"""Read-side repository for standings: what the read API renders, in as few round trips as possible.

A division's rows and its version are read in ONE statement so a rendered body never mixes two
projector transactions (each statement has its own snapshot under READ COMMITTED).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Self

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from services.core.db.consumers import lag_by_partition, list_members
from services.core.db.registration import division_bouts, division_roster
from services.core.db.schema import (
    Athlete,
    BoutRow,
    Division,
    ResultConflict,
    ResultRow,
    StandingsRow,
    Tournament,
)
from services.core.domain.codec import decode_revision
from services.core.domain.ruleset import Ruleset, UnknownRuleset, get_ruleset
from services.core.domain.standings import (
    StandingRow,
    compute_standings,
    figures,
    rank_movements,
    standings_from_revisions,
)


@dataclass(frozen=True, slots=True)
class TournamentMeta:
    tournament_id: str
    name: str
    tier: str
    start_date: dt.date
    end_date: dt.date
    status: str
    ruleset: str


@dataclass(frozen=True, slots=True)
class DivisionMeta:
    tournament_id: str
    division_id: str
    name: str
    category: str
    formats: tuple[str, ...]
    version: int
    last_event_at: dt.datetime | None
    last_partition: int | None
    last_offset: int | None
    tournament_name: str
    tournament_status: str
    ruleset: str
    format: str = "round_robin"  # or elimination | pools_then_elimination (SPEC §7)


@dataclass(frozen=True, slots=True)
class RowView(StandingRow):
    """A standings row as shown: the projected row plus the athlete's registration data and the
    places moved since the previous table."""

    name: str
    country: str
    club: str | None
    movement: int


@dataclass(frozen=True, slots=True)
class DivisionStandings:
    meta: DivisionMeta
    rows: tuple[RowView, ...]
    conflicts: int


@dataclass(frozen=True, slots=True)
class AsOfPoint:
    """Where a table or bracket recomputed from the stored revisions with ``source_offset <=
    requested_offset`` stands in the log: its last included revision (None: none is included)."""

    requested_offset: int
    event_time: dt.datetime | None
    partition: int | None
    offset: int | None

    @classmethod
    def after(cls, requested_offset: int, stored: Sequence[Any], **rest: Any) -> Self:
        """The point after ``stored`` (rows of :func:`stored_revisions`, in log order); ``rest``
        fills a subclass's own fields."""
        last = stored[-1] if stored else None
        return cls(
            requested_offset=requested_offset,
            event_time=max((r.occurred_at for r in stored), default=None),
            partition=last.source_partition if last else None,
            offset=last.source_offset if last else None,
            **rest,
        )


@dataclass(frozen=True, slots=True)
class AsOfStandings(AsOfPoint):
    """Standings recomputed from the stored revisions with ``source_offset <= requested_offset``."""

    meta: DivisionMeta
    rows: tuple[RowView, ...]
    conflicts: int


@dataclass(frozen=True, slots=True)
class ConflictView:
    conflict_id: int
    bout_id: str
    revision: int
    kind: str
    payload: dict[str, Any]
    applied_payload: dict[str, Any]
    source_partition: int
    source_offset: int
    detected_at: dt.datetime


# A conflict view is the conflict's row: its columns are the view's fields, in order.
_CONFLICT_COLS = tuple(getattr(ResultConflict, f.name) for f in fields(ConflictView))


@dataclass(frozen=True, slots=True)
class MemberLag:
    """One projector member's last report: partitions it owns, its lag per partition, its heartbeat."""

    member_id: str
    assigned: tuple[int, ...]
    lag: Mapping[int, int]
    heartbeat_at: dt.datetime


_DIVISION_COLS = (
    Division.tournament_id,
    Division.division_id,
    Division.name,
    Division.category,
    Division.formats,
    Division.version,
    Division.last_event_at,
    Division.last_partition,
    Division.last_offset,
    Tournament.name.label("tournament_name"),
    Tournament.status.label("tournament_status"),
    Tournament.ruleset,
    Division.format,
)


def _meta(row: Any) -> DivisionMeta:
    return DivisionMeta(
        tournament_id=row.tournament_id,
        division_id=row.division_id,
        name=row.name,
        category=row.category,
        formats=tuple(row.formats or ()),
        version=int(row.version or 0),
        last_event_at=row.last_event_at,
        last_partition=row.last_partition,
        last_offset=row.last_offset,
        tournament_name=row.tournament_name,
        tournament_status=row.tournament_status,
        ruleset=row.ruleset,
        format=row.format or "round_robin",
    )


def _tournament(t: Tournament) -> TournamentMeta:
    return TournamentMeta(t.tournament_id, t.name, t.tier, t.start_date, t.end_date, t.status, t.ruleset)


def list_tournaments(session: Session) -> list[TournamentMeta]:
    rows = session.scalars(select(Tournament).order_by(Tournament.start_date.desc(), Tournament.tournament_id))
    return [_tournament(t) for t in rows]


def get_tournament(session: Session, tournament_id: str) -> TournamentMeta | None:
    t = session.get(Tournament, tournament_id)
    return _tournament(t) if t else None


def tournament_divisions(session: Session, tournament_id: str) -> list[DivisionMeta]:
    stmt = (
        select(*_DIVISION_COLS)
        .join(Tournament, Tournament.tournament_id == Division.tournament_id)
        .where(Division.tournament_id == tournament_id)
        .order_by(Division.division_id)
    )
    return [_meta(r) for r in session.execute(stmt)]


def division_meta(session: Session, tournament_id: str, division_id: str) -> DivisionMeta | None:
    stmt = (
        select(*_DIVISION_COLS)
        .join(Tournament, Tournament.tournament_id == Division.tournament_id)
        .where(Division.tournament_id == tournament_id, Division.division_id == division_id)
    )
    row = session.execute(stmt).first()
    return _meta(row) if row else None


def load_division_standings(session: Session, tournament_id: str, division_id: str) -> DivisionStandings | None:
    """The division's projected rows with athlete data, its meta and conflict count; None if unknown.

    Before the projector has written any row (no result yet), every entered athlete is shown with
    zeros, ranked by the pure domain (all tied), so an overlay has its roster from the start.
    """
    result = session.execute(_division_standings_stmt(tournament_id, division_id)).all()
    if not result:
        return None
    first = result[0]
    meta = _meta(first)
    rows = _roster_rows(session, meta) if first.athlete_id is None else tuple(_projected_view(r) for r in result)
    return DivisionStandings(meta=meta, rows=rows, conflicts=int(first.conflicts or 0))


def _division_standings_stmt(tournament_id: str, division_id: str) -> Select[*tuple[Any, ...]]:
    """One statement: the division's meta, conflict count and rows (so they share one snapshot)."""
    conflicts = (
        select(func.count())
        .select_from(ResultConflict)
        .where(
            ResultConflict.tournament_id == Division.tournament_id, ResultConflict.division_id == Division.division_id
        )
        .scalar_subquery()
        .label("conflicts")
    )
    return (
        select(
            *_DIVISION_COLS,
            conflicts,
            StandingsRow.athlete_id.label("athlete_id"),
            StandingsRow.rank,
            StandingsRow.previous_rank,
            StandingsRow.bouts,
            StandingsRow.wins,
            StandingsRow.losses,
            StandingsRow.draws,
            StandingsRow.points,
            StandingsRow.finishes,
            StandingsRow.tp_for,
            StandingsRow.tp_against,
            StandingsRow.tie_unresolved,
            Athlete.full_name,
            Athlete.country,
            Athlete.club,
        )
        .join(Tournament, Tournament.tournament_id == Division.tournament_id)
        .outerjoin(
            StandingsRow,
            and_(
                StandingsRow.tournament_id == Division.tournament_id,
                StandingsRow.division_id == Division.division_id,
            ),
        )
        .outerjoin(Athlete, Athlete.athlete_id == StandingsRow.athlete_id)
        .where(Division.tournament_id == tournament_id, Division.division_id == division_id)
        .order_by(StandingsRow.rank, StandingsRow.athlete_id)
    )


def _row_view(r: Any, name: str, country: str, club: str | None, movement: int) -> RowView:
    """A standings row (stored or computed: the same fields) with the athlete's details."""
    return RowView(r.athlete_id, r.rank, *figures(r), r.tie_unresolved, name, country, club, movement)


def _projected_view(r: Any) -> RowView:
    movement = (r.previous_rank - r.rank) if r.previous_rank is not None else 0
    return _row_view(r, r.full_name or r.athlete_id, r.country or "", r.club, movement)


def ruleset_for(name: str) -> Ruleset:
    """The division's ruleset; an unknown name (registration drift) reads as the default."""
    try:
        return get_ruleset(name)
    except UnknownRuleset:
        return get_ruleset("combat-default")


def _athletes(session: Session, athlete_ids: list[str]) -> dict[str, Athlete]:
    if not athlete_ids:
        return {}
    return {a.athlete_id: a for a in session.scalars(select(Athlete).where(Athlete.athlete_id.in_(athlete_ids)))}


def row_views(
    session: Session, rows: Sequence[StandingRow], movements: Mapping[str, int] | None = None
) -> tuple[RowView, ...]:
    people = _athletes(session, [r.athlete_id for r in rows])
    moves = movements or {}
    out = []
    for r in rows:
        a = people.get(r.athlete_id)
        name, country, club = (a.full_name, a.country, a.club) if a else (r.athlete_id, "", None)
        out.append(_row_view(r, name, country, club, moves.get(r.athlete_id, 0)))
    return tuple(out)


def _roster_rows(session: Session, meta: DivisionMeta) -> tuple[RowView, ...]:
    roster = division_roster(session, meta.tournament_id, meta.division_id)
    bouts = division_bouts(session, meta.tournament_id, meta.division_id)
    return row_views(session, compute_standings(roster, bouts, {}, ruleset_for(meta.ruleset)))


def stored_revisions(session: Session, tournament_id: str, division_id: str, offset: int | None) -> Sequence[Any]:
    """The division's stored revisions (bout_id, revision, kind, payload, occurred_at, source
    partition and offset) in log order; with ``offset``, only those at or before it."""
    stmt = (
        select(
            ResultRow.bout_id,
            ResultRow.revision,
            ResultRow.kind,
            ResultRow.payload,
            ResultRow.occurred_at,
            ResultRow.source_partition,
            ResultRow.source_offset,
        )
        .join(BoutRow, BoutRow.bout_id == ResultRow.bout_id)
        .where(BoutRow.tournament_id == tournament_id, BoutRow.division_id == division_id)
        .order_by(ResultRow.source_offset)
    )
    if offset is not None:
        stmt = stmt.where(ResultRow.source_offset <= offset)
    return session.execute(stmt).all()


def standings_as_of_offset(session: Session, tournament_id: str, division_id: str, offset: int) -> AsOfStandings | None:
    """Recompute the division's table from its stored revisions with ``source_offset <= offset``.

    A division's events live on one partition (the key is ``t:d``), so its offsets are totally
    ordered. Movement compares with the table just before the last included event.
    """
    meta = division_meta(session, tournament_id, division_id)
    if meta is None:
        return None
    stored = stored_revisions(session, tournament_id, division_id, offset)
    roster = division_roster(session, tournament_id, division_id)
    bouts = division_bouts(session, tournament_id, division_id)
    ruleset = ruleset_for(meta.ruleset)
    revisions = [decode_revision(r.bout_id, r.revision, r.kind, r.payload) for r in stored]
    table = standings_from_revisions(roster, bouts, revisions, ruleset)
    last = stored[-1] if stored else None
    movements: dict[str, int] = {}
    if last is not None:
        before = [rev for rev, r in zip(revisions, stored, strict=True) if r.source_offset < last.source_offset]
        movements = rank_movements(standings_from_revisions(roster, bouts, before, ruleset), table)
    conflicts = session.scalar(
        select(func.count())
        .select_from(ResultConflict)
        .where(
            ResultConflict.tournament_id == tournament_id,
            ResultConflict.division_id == division_id,
            ResultConflict.source_offset <= offset,
        )
    )
    return AsOfStandings.after(
        offset, stored, meta=meta, rows=row_views(session, table, movements), conflicts=int(conflicts or 0)
    )


def division_conflicts(session: Session, tournament_id: str, division_id: str) -> list[ConflictView]:
    stmt = (
        select(*_CONFLICT_COLS)
        .where(ResultConflict.tournament_id == tournament_id, ResultConflict.division_id == division_id)
        .order_by(ResultConflict.conflict_id)
    )
    return [ConflictView(*row) for row in session.execute(stmt)]


def projector_members(session: Session, group: str) -> list[MemberLag]:
    return [
        MemberLag(m.member_id, tuple(m.assigned or ()), lag_by_partition(m.lag), m.heartbeat_at)
        for m in list_members(session, group)
    ]
