"""Write a validated registration file into PostgreSQL in one transaction (idempotent upserts)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.core.db import rankings
from services.core.db import registration as repo
from services.core.db.schema import Athlete
from services.core.registration.model import RegistrationFile, parse_registration, round_robin_bouts

DEMO_FILE = Path(__file__).with_name("demo_registration.json")


@dataclass(frozen=True)
class ImportSummary:
    tournaments: int
    divisions: int
    athletes: int
    bouts: int


def load_registration(session: Session, raw: bytes | str) -> ImportSummary:
    """Validate against the file and the database, then upsert. Raises RegistrationError, writing nothing."""
    known = set(session.scalars(select(Athlete.athlete_id)))
    reg = parse_registration(raw, known_athletes=known)
    return write_registration(session, reg)


def write_registration(session: Session, reg: RegistrationFile) -> ImportSummary:
    repo.upsert_athletes(session, [a.model_dump() for a in reg.athletes])
    # A renamed athlete or a changed country must reach the search index like any other change.
    rankings.touch_athletes(session, [a.athlete_id for a in reg.athletes])
    n_div = n_bouts = 0
    for t in reg.tournaments:
        repo.upsert_tournaments(
            session,
            [t.model_dump(include={"tournament_id", "name", "tier", "start_date", "end_date", "status", "ruleset"})],
        )
        for d in t.divisions:
            n_div += 1
            repo.upsert_divisions(
                session,
                [
                    {
                        "tournament_id": t.tournament_id,
                        "division_id": d.division_id,
                        "name": d.name,
                        "category": d.category,
                        "formats": list(d.formats),
                    }
                ],
            )
            repo.upsert_entries(
                session,
                [{"tournament_id": t.tournament_id, "division_id": d.division_id, "athlete_id": a} for a in d.athletes],
            )
            bouts = (
                d.bouts if isinstance(d.bouts, list) else round_robin_bouts(t.tournament_id, d.division_id, d.athletes)
            )
            n_bouts += len(bouts)
            repo.upsert_bouts(
                session,
                [
                    {
                        "bout_id": b.bout_id,
                        "tournament_id": t.tournament_id,
                        "division_id": d.division_id,
                        "mat": b.mat,
                        "bout_order": b.order,
                        "red_athlete_id": b.red,
                        "blue_athlete_id": b.blue,
                    }
                    for b in bouts
                ],
            )
    return ImportSummary(len(reg.tournaments), n_div, len(reg.athletes), n_bouts)
