"""Registration writes behind the admin API: one transaction each, validated like the import file.

Every write goes through the registration file model (``parse_registration``) so the admin API
and ``standings import`` accept and refuse exactly the same data. A write that changes what a
division's standings show (names, roster, bouts, tournament name/status) recomputes that
division's rows with the projector's own function, bumps ``divisions.version`` and NOTIFYs
``standings_changed`` in the same transaction — so every API process drops its cached body.
The divisions are locked ``FOR UPDATE`` first so a concurrent projector batch for the same
division serialises behind the write (its version bump waits for our commit).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

import orjson
from sqlalchemy import delete, select, text, tuple_
from sqlalchemy.orm import Session

from services.core.db import registration as repo
from services.core.db.projection import recompute_standings
from services.core.db.schema import Athlete, BoutRow, Division, DivisionEntry, ResultRow, Tournament
from services.core.domain.ruleset import UnknownRuleset, get_ruleset
from services.core.errors import Conflict, NotFound, Unprocessable
from services.core.registration.loader import ImportSummary, write_registration
from services.core.registration.model import (
    BoutIn,
    RegistrationError,
    RegistrationFile,
    parse_registration,
    round_robin_bouts,
)

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


def invalid(problems: list[str]) -> Unprocessable:
    return Unprocessable(f"{len(problems)} problem(s) in the registration data", problems=problems)


def validate(session: Session, raw: bytes | str) -> RegistrationFile:
    """Parse against the file format and the athletes already in the database; 422 lists every problem."""
    known = set(session.scalars(select(Athlete.athlete_id)))
    try:
        return parse_registration(raw, known_athletes=known)
    except RegistrationError as exc:
        raise invalid(exc.problems) from None


def _planned_bouts(reg: RegistrationFile) -> list[tuple[str, str, BoutIn]]:
    out: list[tuple[str, str, BoutIn]] = []
    for t in reg.tournaments:
        for d in t.divisions:
            bouts = (
                d.bouts if isinstance(d.bouts, list) else round_robin_bouts(t.tournament_id, d.division_id, d.athletes)
            )
            out.extend((t.tournament_id, d.division_id, b) for b in bouts)
    return out


def check_bouts(session: Session, planned: Iterable[tuple[str, str, BoutIn]]) -> None:
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
        raise Conflict("; ".join(problems), problems=problems)


def lock_divisions(session: Session, keys: Collection[DivisionKey]) -> None:
    if keys:
        session.execute(
            select(Division.version)
            .where(tuple_(Division.tournament_id, Division.division_id).in_(sorted(keys)))
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


def import_file(session: Session, raw: bytes | str) -> tuple[ImportSummary, dict[DivisionKey, int]]:
    """The registration import, all or nothing, then refresh every division it touched."""
    reg = validate(session, raw)
    check_bouts(session, _planned_bouts(reg))
    keys = {(t.tournament_id, d.division_id) for t in reg.tournaments for d in t.divisions}
    keys |= divisions_of_athletes(session, [a.athlete_id for a in reg.athletes])
    for t in reg.tournaments:
        keys |= divisions_of_tournament(session, t.tournament_id)
    lock_divisions(session, keys)
    summary = write_registration(session, reg)
    return summary, refresh_divisions(session, keys)


def write_document(session: Session, document: dict[str, Any], keys: set[DivisionKey]) -> dict[DivisionKey, int]:
    """Validate and write a registration document built by a route, then refresh ``keys``."""
    reg = validate(session, orjson.dumps(document))
    check_bouts(session, _planned_bouts(reg))
    lock_divisions(session, keys)
    write_registration(session, reg)
    return refresh_divisions(session, keys)


def tournament_document(session: Session, tournament_id: str) -> dict[str, Any]:
    t = session.get(Tournament, tournament_id)
    if t is None:
        raise NotFound(f"tournament {tournament_id!r} does not exist")
    return {
        "tournament_id": t.tournament_id,
        "name": t.name,
        "tier": t.tier,
        "start_date": t.start_date,
        "end_date": t.end_date,
        "status": t.status,
        "ruleset": t.ruleset,
        "divisions": [],
    }


def remove_entries(session: Session, tournament_id: str, division_id: str, keep: Collection[str]) -> None:
    """Drop entries not in ``keep``; an athlete still scheduled in a bout of the division cannot leave."""
    current = set(
        session.scalars(
            select(DivisionEntry.athlete_id).where(
                DivisionEntry.tournament_id == tournament_id, DivisionEntry.division_id == division_id
            )
        )
    )
    leaving = current - set(keep)
    if not leaving:
        return
    scheduled = {
        a for b in repo.division_bouts(session, tournament_id, division_id) for a in (b.red, b.blue) if a in leaving
    }
    if scheduled:
        raise Conflict(
            f"athletes {sorted(scheduled)} have bouts in {tournament_id}/{division_id}; they cannot be removed"
        )
    session.execute(
        delete(DivisionEntry).where(
            DivisionEntry.tournament_id == tournament_id,
            DivisionEntry.division_id == division_id,
            DivisionEntry.athlete_id.in_(list(leaving)),
        )
    )
