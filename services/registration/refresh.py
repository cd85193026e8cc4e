"""What a registration write does to the divisions it touches, whatever path it came by.

Every write (``standings import``, the admin API) locks the divisions it touches ``FOR UPDATE`` in
a fixed order first, so a concurrent projector batch for the same division serialises behind it
(the projector locks the same rows, in the same order). After writing, each touched division's
standings rows are recomputed with the projector's own function, its ``version`` bumped and
``standings_changed`` NOTIFYd in the same transaction, so every read API process drops its cached
body, ETag and SSE state within the notification's delivery.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from sqlalchemy import select, text, tuple_
from sqlalchemy.orm import Session

from services.core.db.projection import recompute_standings
from services.core.db.schema import BoutRow, Division, DivisionEntry, ResultRow, Tournament
from services.core.domain.ruleset import UnknownRuleset, get_ruleset
from services.registration.brackets import BracketPlan, ScheduledBout
from services.registration.model import RegistrationConflict, RegistrationFile, scheduled_bouts

DivisionKey = tuple[str, str]

_BUMP_AND_NOTIFY = text(
    """
    WITH u AS (
        UPDATE divisions dv SET version = dv.version + 1, updated_at = now()
        FROM unnest(CAST(:t AS text[]), CAST(:d AS text[])) AS k(t, d)
        WHERE dv.tournament_id = k.t AND dv.division_id = k.d
        RETURNING dv.tournament_id, dv.division_id, dv.version
    )
    SELECT u.tournament_id, u.division_id, u.version,
           pg_notify('standings_changed', json_build_object('t', u.tournament_id, 'd', u.division_id, 'v', u.version)::text)
    FROM u
    """
)


def planned_bouts(
    reg: RegistrationFile, plans: Mapping[DivisionKey, BracketPlan]
) -> list[tuple[str, str, ScheduledBout]]:
    """Every bout the file schedules, with its tournament and division."""
    out: list[tuple[str, str, ScheduledBout]] = []
    for t in reg.tournaments:
        for d in t.divisions:
            bouts = scheduled_bouts(t.tournament_id, d, plans.get((t.tournament_id, d.division_id)))
            out.extend((t.tournament_id, d.division_id, b) for b in bouts)
    return out


def check_bouts(session: Session, planned: Iterable[tuple[str, str, ScheduledBout]]) -> None:
    """Refuse to move a bout to another division, or to change the athletes of a bout with results."""
    wanted = {b.bout_id: (t, d, b) for t, d, b in planned}
    if not wanted:
        return
    problems: list[str] = []
    existing = session.scalars(select(BoutRow).where(BoutRow.bout_id.in_(list(wanted))))
    scored = set(session.scalars(select(ResultRow.bout_id).where(ResultRow.bout_id.in_(list(wanted))).distinct()))
    for row in existing:
        t, d, b = wanted[row.bout_id]
        if (row.tournament_id, row.division_id) != (t, d):
            problems.append(f"bout {row.bout_id}: already belongs to {row.tournament_id}/{row.division_id}")
        elif (row.red_athlete_id, row.blue_athlete_id) != (b.red, b.blue) and row.bout_id in scored:
            problems.append(f"bout {row.bout_id}: has results; its athletes cannot change")
    if problems:
        raise RegistrationConflict(problems)


def lock_divisions(session: Session, keys: Collection[DivisionKey]) -> None:
    """``FOR UPDATE`` on the division rows, in key order (the projector's order: no deadlock)."""
    if keys:
        session.execute(
            select(Division.version)
            .where(tuple_(Division.tournament_id, Division.division_id).in_(sorted(keys)))
            .order_by(Division.tournament_id, Division.division_id)
            .with_for_update()
        )


def refresh_divisions(session: Session, keys: Collection[DivisionKey]) -> dict[DivisionKey, int]:
    """Recompute standings rows, bump versions and NOTIFY (delivered at commit)."""
    if not keys:
        return {}
    ordered = sorted(keys)
    rulesets_by_t = {
        t: r
        for t, r in session.execute(
            select(Tournament.tournament_id, Tournament.ruleset).where(
                Tournament.tournament_id.in_({k[0] for k in ordered})
            )
        )
    }
    rulesets = {}
    for key in ordered:
        try:
            rulesets[key] = get_ruleset(rulesets_by_t.get(key[0], "combat-default"))
        except UnknownRuleset:
            rulesets[key] = get_ruleset("combat-default")
    recompute_standings(session, ordered, rulesets)
    rows = session.execute(_BUMP_AND_NOTIFY, {"t": [k[0] for k in ordered], "d": [k[1] for k in ordered]})
    return {(t, d): int(v) for t, d, v, _ in rows}


def divisions_of_athletes(session: Session, athlete_ids: Collection[str]) -> set[DivisionKey]:
    """Divisions whose standings show one of the athletes (entered, or scheduled in a bout)."""
    if not athlete_ids:
        return set()
    ids = list(athlete_ids)
    keys: set[DivisionKey] = {
        (t, d)
        for t, d in session.execute(
            select(DivisionEntry.tournament_id, DivisionEntry.division_id).where(DivisionEntry.athlete_id.in_(ids))
        )
    }
    keys.update(
        (t, d)
        for t, d in session.execute(
            select(BoutRow.tournament_id, BoutRow.division_id).where(
                BoutRow.red_athlete_id.in_(ids) | BoutRow.blue_athlete_id.in_(ids)
            )
        )
    )
    return keys


def divisions_of_tournament(session: Session, tournament_id: str) -> set[DivisionKey]:
    return {
        (tournament_id, d)
        for d in session.scalars(select(Division.division_id).where(Division.tournament_id == tournament_id))
    }


def touched_by(session: Session, reg: RegistrationFile) -> set[DivisionKey]:
    """Every division whose standings a registration file can change: its own, those of the
    athletes it (re)names and those of the tournaments it (re)writes."""
    keys = {(t.tournament_id, d.division_id) for t in reg.tournaments for d in t.divisions}
    keys |= divisions_of_athletes(session, [a.athlete_id for a in reg.athletes])
    for t in reg.tournaments:
        keys |= divisions_of_tournament(session, t.tournament_id)
    return keys
