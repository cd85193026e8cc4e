"""Write a validated registration file into PostgreSQL in one transaction (idempotent upserts).

:func:`load_registration` is the one import path, used by ``standings import``, ``standings up``'s
demo and the admin API alike: validate everything, lock the touched divisions, write, then refresh
them (standings rows, version, NOTIFY) so readers see the change at once. Re-importing the same file
changes nothing but the refreshed versions; a status the file may not set is kept and reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.core.db import registration as repo
from services.core.db.schema import Athlete, Tournament
from services.core.domain.lifecycle import KeptStatus, registration_status
from services.rankings.rerank import touch_athletes
from services.registration import bracket_writes, refresh
from services.registration.brackets import BracketPlan, stored_formats
from services.registration.model import DivisionIn, RegistrationFile, bracket_plans, parse_registration, scheduled_bouts

DEMO_FILE = Path(__file__).with_name("demo_registration.json")
# The demo's bracket tournament (an elimination division with judo repechage and byes, a
# pools_then_elimination division): a file of its own, so the round-robin demo stays as it is.
DEMO_BRACKETS_FILE = Path(__file__).with_name("demo_brackets.json")
DivisionKey = tuple[str, str]


@dataclass(frozen=True)
class ImportSummary:
    tournaments: int
    divisions: int
    athletes: int
    bouts: int
    # Statuses the file asked for and the tournaments kept (lifecycle never moves backwards).
    kept: list[KeptStatus] = field(default_factory=list)
    # Divisions refreshed (standings recomputed, version bumped, NOTIFY sent) and their new versions.
    refreshed: dict[DivisionKey, int] = field(default_factory=dict)


def load_registration(session: Session, raw: bytes | str) -> ImportSummary:
    """Validate against the file and the database, then upsert and refresh every touched division.

    Raises RegistrationError (RegistrationConflict for a clash with results), writing nothing."""
    known = set(session.scalars(select(Athlete.athlete_id)))
    reg = parse_registration(raw, known_athletes=known)
    return apply_registration(session, reg)


def load_demo(session: Session) -> list[ImportSummary]:
    """Import both demo files (round robin, then brackets)."""
    return [load_registration(session, f.read_bytes()) for f in (DEMO_FILE, DEMO_BRACKETS_FILE)]


def apply_registration(
    session: Session, reg: RegistrationFile, touched: set[DivisionKey] | None = None
) -> ImportSummary:
    """Write a parsed file; ``touched`` (default: all the file can change) are refreshed."""
    plans = bracket_plans(reg)
    refresh.check_bouts(session, refresh.planned_bouts(reg, plans))
    keys = refresh.touched_by(session, reg) if touched is None else touched
    refresh.lock_divisions(session, keys)
    derived = bracket_writes.derived_divisions(session, reg, plans)
    summary = write_registration(session, reg, plans, derived)
    versions = refresh.refresh_divisions(session, keys)
    return ImportSummary(
        summary.tournaments, summary.divisions, summary.athletes, summary.bouts, summary.kept, versions
    )


def _stored_statuses(session: Session, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = session.execute(
        select(Tournament.tournament_id, Tournament.status).where(Tournament.tournament_id.in_(ids)).with_for_update()
    )
    return {t: s for t, s in rows}


def write_registration(
    session: Session,
    reg: RegistrationFile,
    plans: dict[DivisionKey, BracketPlan] | None = None,
    derived: set[DivisionKey] | None = None,
) -> ImportSummary:
    """The upserts alone (callers lock and refresh: use :func:`apply_registration`). ``plans``:
    the bracket divisions' plans; ``derived``: divisions whose bouts and entries are replaced."""
    plans = bracket_plans(reg) if plans is None else plans
    # Lock order (divisions, tournaments, then the ranking outbox) is the projector's: no deadlock.
    stored = _stored_statuses(session, [t.tournament_id for t in reg.tournaments])
    repo.upsert_athletes(session, [a.model_dump() for a in reg.athletes])
    # A renamed athlete or a changed country must reach the search index like any other change.
    touch_athletes(session, [a.athlete_id for a in reg.athletes])
    kept: list[KeptStatus] = []
    n_div = n_bouts = 0
    for t in reg.tournaments:
        status, note = registration_status(t.tournament_id, stored.get(t.tournament_id), t.status)
        if note is not None:
            kept.append(note)
        row = t.model_dump(include={"tournament_id", "name", "tier", "start_date", "end_date", "ruleset"})
        repo.upsert_tournaments(session, [{**row, "status": status}])
        for d in t.divisions:
            n_div += 1
            key = (t.tournament_id, d.division_id)
            n_bouts += _write_division(session, key, d, plans.get(key), key in (derived or ()))
    return ImportSummary(len(reg.tournaments), n_div, len(reg.athletes), n_bouts, kept)


def _write_division(session: Session, key: DivisionKey, d: DivisionIn, plan: BracketPlan | None, derived: bool) -> int:
    """The division row, its entries and its bouts; returns how many bouts it schedules."""
    t_id, d_id = key
    row: dict[str, object] = {"tournament_id": t_id, "division_id": d_id, "name": d.name, "category": d.category}
    row |= {"formats": stored_formats(d), "format": d.kind, "bracket": plan.document if plan else None}
    repo.upsert_divisions(session, [row])
    entrants = plan.entrants if plan else d.entrants()
    bouts = scheduled_bouts(t_id, d, plan)
    if derived:
        bracket_writes.replace_derived(session, key, [b.bout_id for b in bouts], entrants)
    repo.upsert_entries(session, [{"tournament_id": t_id, "division_id": d_id, "athlete_id": a} for a in entrants])
    repo.upsert_bouts(
        session,
        [
            {
                "bout_id": b.bout_id,
                "tournament_id": t_id,
                "division_id": d_id,
                "mat": b.mat,
                "bout_order": b.order,
                "red_athlete_id": b.red,
                "blue_athlete_id": b.blue,
            }
            for b in bouts
        ],
    )
    return len(bouts)
