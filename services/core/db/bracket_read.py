"""Read-side repository for brackets (SPEC §7): a division's bracket as its stored results make it.

The bracket is recomputed from the division's registered description (``divisions.bracket``) and
its stored revisions by ``services.core.domain.bracket_division.project``, the one pure function the
projector writes ``bracket_bouts`` and the placing rows with; so the read API agrees with the
projector, and the live bracket and a historical one (``as_of_offset``) come from one code path. Every read of one body runs in one REPEATABLE READ
snapshot, so a body never mixes two projector transactions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.core.db.schema import Athlete, BoutRow, Division
from services.core.db.standings_read import (
    AsOfPoint,
    DivisionMeta,
    RowView,
    division_meta,
    row_views,
    ruleset_for,
    stored_revisions,
)
from services.core.domain.bracket_division import (
    AnyRevision,
    BracketProjection,
    division_bracket,
    division_placings,
    project,
)
from services.core.domain.brackets import InvalidBracket, Placing
from services.core.domain.codec import UndecodablePayload, decode_bracket_revision, decode_revision
from services.core.domain.results import Bout

ROUND_ROBIN = "round_robin"


class NotABracket(Exception):
    """The division exists but has no bracket to show (round robin, or no usable bracket registered)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class AthleteInfo:
    athlete_id: str
    name: str
    country: str
    club: str | None


@dataclass(frozen=True, slots=True)
class PoolStandings:
    """One pool of a pools_then_elimination division: its table (§3) and whether every bout has a result."""

    pool_id: str
    rows: tuple[RowView, ...]
    complete: bool


@dataclass(frozen=True, slots=True)
class BracketView:
    """Everything a bracket body shows: the division's projection (the pure domain's, as the
    projector computes it), its placings, its pools' tables and the registration data around them."""

    meta: DivisionMeta
    projection: BracketProjection
    placings: tuple[Placing, ...]
    pools: tuple[PoolStandings, ...] | None
    athletes: Mapping[str, AthleteInfo]
    schedule: Mapping[str, tuple[int, int]]  # bout id -> (mat, order)
    as_of: AsOfPoint | None = None


def load_division_bracket(session: Session, tournament_id: str, division_id: str) -> BracketView | None:
    """The live bracket; None for an unknown division; raises NotABracket for a round-robin one."""
    return _load(session, tournament_id, division_id, None)


def bracket_as_of_offset(session: Session, tournament_id: str, division_id: str, offset: int) -> BracketView | None:
    """The bracket recomputed from the stored revisions with ``source_offset <= offset`` (a
    division's events live on one partition, so its offsets are totally ordered)."""
    return _load(session, tournament_id, division_id, offset)


def _load(session: Session, t: str, d: str, offset: int | None) -> BracketView | None:
    if not session.in_transaction():  # else the caller's transaction is the snapshot
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    meta = division_meta(session, t, d)
    if meta is None:
        return None
    doc = session.scalar(select(Division.bracket).where(Division.tournament_id == t, Division.division_id == d))
    if meta.format == ROUND_ROBIN:
        raise NotABracket(f"division {d!r} of tournament {t!r} is round robin: it has no bracket (see its standings)")
    if not isinstance(doc, Mapping):
        raise NotABracket(f"division {d!r} of tournament {t!r} has no bracket registered yet")
    stored = stored_revisions(session, t, d, offset)
    data = _compute(session, meta, doc, stored, _schedule(session, t, d))
    if offset is None:
        return data
    return replace(data, as_of=AsOfPoint.after(offset, stored))


def _schedule(session: Session, t: str, d: str) -> dict[str, tuple[str | None, str | None, int, int]]:
    rows = session.execute(
        select(BoutRow.bout_id, BoutRow.red_athlete_id, BoutRow.blue_athlete_id, BoutRow.mat, BoutRow.bout_order).where(
            BoutRow.tournament_id == t, BoutRow.division_id == d
        )
    )
    return {b: (red, blue, int(mat or 0), int(order or 0)) for b, red, blue, mat, order in rows}


def _revision(row: Any, bracket_bout: bool) -> AnyRevision | None:
    decode = decode_bracket_revision if bracket_bout else decode_revision
    try:
        return decode(row.bout_id, row.revision, row.kind, row.payload)
    except UndecodablePayload:
        return None  # the projector dead-letters what it cannot read; a stored one is skipped, not a 500


def _compute(
    session: Session,
    meta: DivisionMeta,
    doc: Mapping[str, Any],
    stored: Sequence[Any],
    schedule: Mapping[str, tuple[str | None, str | None, int, int]],
) -> BracketView:
    pool_bouts = [Bout(b, red, blue) for b, (red, blue, _, _) in schedule.items() if red is not None and blue]
    pool_ids = {b.bout_id for b in pool_bouts}
    revisions = [rev for row in stored if (rev := _revision(row, row.bout_id not in pool_ids)) is not None]
    try:
        spec = division_bracket(meta.division_id, doc)
        projection = project(spec, pool_bouts, revisions, ruleset_for(meta.ruleset))
    except (InvalidBracket, KeyError, TypeError, ValueError) as exc:
        problems = "; ".join(exc.problems) if isinstance(exc, InvalidBracket) else str(exc)
        raise NotABracket(f"the bracket of division {meta.division_id!r} cannot be drawn: {problems}") from None
    placed = division_placings(projection)
    athlete_ids = {p.athlete_id for p in placed} | {a for b in pool_bouts for a in (b.red, b.blue)}
    if projection.drawn:
        athlete_ids |= set(projection.bracket.entrants)
    return BracketView(
        meta=meta,
        projection=projection,
        placings=placed,
        pools=_pools(session, projection) if spec.pooled else None,
        athletes=_athletes(session, athlete_ids),
        schedule={b: (mat, order) for b, (_, _, mat, order) in schedule.items()},
    )


def _pools(session: Session, projection: BracketProjection) -> tuple[PoolStandings, ...]:
    counted = {b.bout_id for b, result in projection.pool_bouts if result is not None}
    out = []
    for pool, rows in zip(projection.spec.pools, projection.pool_rows, strict=True):
        members = set(pool.athletes)
        own = [b.bout_id for b, _ in projection.pool_bouts if b.red in members]
        out.append(PoolStandings(pool.pool_id, row_views(session, rows), all(b in counted for b in own)))
    return tuple(out)


def _athletes(session: Session, ids: set[str]) -> dict[str, AthleteInfo]:
    if not ids:
        return {}
    rows = session.scalars(select(Athlete).where(Athlete.athlete_id.in_(sorted(ids))))
    found = {a.athlete_id: AthleteInfo(a.athlete_id, a.full_name, a.country, a.club) for a in rows}
    return {a: found.get(a, AthleteInfo(a, a, "", None)) for a in ids}
