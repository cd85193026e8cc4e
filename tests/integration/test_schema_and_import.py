"""Migrations, the unmigrated-database guard, and the registration import on real PostgreSQL 18."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session

from services.core.db import migrate
from services.core.db.schema import Athlete, BoutRow, Division, Tournament
from services.embedded.postgres import EmbeddedPostgres
from services.registration.loader import DEMO_FILE, load_registration
from services.registration.model import RegistrationError


def test_schema_matches_models_alembic_check(migrated_pg: EmbeddedPostgres) -> None:
    command.check(migrate.alembic_config(migrated_pg.url))


def test_downgrade_and_upgrade_round_trip(pg: EmbeddedPostgres) -> None:
    with create_engine(pg.admin_url, isolation_level="AUTOCOMMIT").connect() as conn:
        name = f"roundtrip_{uuid.uuid4().hex[:8]}"
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg.url.replace("/standings?", f"/{name}?")
    migrate.upgrade(url)
    command.downgrade(migrate.alembic_config(url), "base")
    eng = create_engine(url)
    try:
        with pytest.raises(migrate.DatabaseNotMigrated, match="run `standings migrate`"):
            migrate.require_migrated(eng)
        migrate.upgrade(url)
        migrate.require_migrated(eng)
    finally:
        eng.dispose()


def test_demo_import_is_idempotent(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        first = load_registration(session, DEMO_FILE.read_bytes())
    with Session(engine) as session, session.begin():
        again = load_registration(session, DEMO_FILE.read_bytes())
    counts = ("tournaments", "divisions", "athletes", "bouts")
    assert [getattr(first, c) for c in counts] == [getattr(again, c) for c in counts]
    assert again.kept == []
    # Every division of the file was refreshed again: one more version each.
    assert set(again.refreshed) == set(first.refreshed)
    assert all(again.refreshed[k] == first.refreshed[k] + 1 for k in first.refreshed)
    with Session(engine) as session:
        demo = json.loads(DEMO_FILE.read_text())
        ids = [t["tournament_id"] for t in demo["tournaments"]]
        assert (
            session.scalar(select(func.count()).select_from(Tournament).where(Tournament.tournament_id.in_(ids))) == 2
        )
        n_div = session.scalar(select(func.count()).select_from(Division).where(Division.tournament_id.in_(ids)))
        assert n_div == sum(len(t["divisions"]) for t in demo["tournaments"])
        n_bouts = session.scalar(select(func.count()).select_from(BoutRow).where(BoutRow.tournament_id.in_(ids)))
        expected = sum(
            len(d["athletes"]) * (len(d["athletes"]) - 1) // 2 for t in demo["tournaments"] for d in t["divisions"]
        )
        assert n_bouts == expected
        name = session.scalar(select(Athlete.full_name).where(Athlete.athlete_id == "jpn-w-57kg-2"))
        assert name == "舟久保 遥香"


def test_invalid_file_writes_nothing(engine: Engine) -> None:
    t_id = f"t-{uuid.uuid4().hex[:8]}"
    bad = {
        "athletes": [
            {"athlete_id": f"{t_id}-a", "full_name": "A", "country": "FRA"},
            {"athlete_id": f"{t_id}-b", "full_name": "B", "country": "ZZZ"},
        ],
        "tournaments": [
            {
                "tournament_id": t_id,
                "name": "Bad",
                "tier": "open",
                "start_date": "2026-01-01",
                "end_date": "2026-01-01",
                "divisions": [
                    {
                        "division_id": "d",
                        "name": "D",
                        "category": "c",
                        "athletes": [f"{t_id}-a", f"{t_id}-b"],
                        "bouts": [{"bout_id": f"{t_id}-1", "red": f"{t_id}-a", "blue": f"{t_id}-a"}],
                    }
                ],
            }
        ],
    }
    with Session(engine) as session, pytest.raises(RegistrationError) as err, session.begin():
        load_registration(session, json.dumps(bad))
    assert len(err.value.problems) == 2
    with Session(engine) as session:
        assert session.get(Tournament, t_id) is None
        assert session.get(Athlete, f"{t_id}-a") is None


def test_database_constraints_back_the_validation(engine: Engine) -> None:
    with Session(engine) as session, pytest.raises(Exception, match="country_alpha3"), session.begin():
        session.add(Athlete(athlete_id=f"x-{uuid.uuid4().hex[:6]}", full_name="X", country="fr"))


def test_renaming_a_ranked_athlete_queues_their_search_document(engine: Engine) -> None:
    import datetime as dt

    from services.core.db.schema import Ranking, RankingChange

    a_id = f"ren-{uuid.uuid4().hex[:8]}"
    athlete = {"athlete_id": a_id, "full_name": "Zoe Muller", "country": "DEU"}
    with Session(engine) as session, session.begin():
        load_registration(session, json.dumps({"athletes": [athlete]}))
        session.add(
            Ranking(
                category="w-57kg",
                athlete_id=a_id,
                rank=1,
                points=100.0,
                best_award=100.0,
                awards=1,
                provisional_points=0.0,
                ranking_date=dt.date(2026, 11, 26),
                version=1,
            )
        )
    with Session(engine) as session:
        before = session.scalar(select(func.max(RankingChange.change_id))) or 0
    with Session(engine) as session, session.begin():
        load_registration(session, json.dumps({"athletes": [{**athlete, "full_name": "Zoë Müller"}]}))
    with Session(engine) as session:
        queued = session.execute(
            select(RankingChange.category, RankingChange.athlete_id).where(RankingChange.change_id > before)
        ).all()
    assert ("w-57kg", a_id) in queued


def _lifecycle_file(tournament_id: str, status: str) -> dict[str, object]:
    return {
        "athletes": [{"athlete_id": f"{tournament_id}-{i}", "full_name": f"A {i}", "country": "ITA"} for i in range(3)],
        "tournaments": [
            {
                "tournament_id": tournament_id,
                "name": "Lifecycle Cup",
                "tier": "national",
                "start_date": "2026-11-01",
                "end_date": "2026-11-02",
                "status": status,
                "divisions": [
                    {
                        "division_id": "w-63kg",
                        "name": "W 63",
                        "category": "w-63kg",
                        "athletes": [f"{tournament_id}-{i}" for i in range(3)],
                    }
                ],
            }
        ],
    }


@pytest.mark.parametrize(
    ("stored", "requested", "kept"),
    [
        ("finalized", "scheduled", True),
        ("finalized", "live", True),
        ("live", "scheduled", True),
        ("scheduled", "finalized", True),  # finalizing awards points: the finalize action, not a file
        ("live", "finalized", True),
        ("scheduled", "live", False),
        ("live", "live", False),
    ],
)
def test_a_file_never_moves_a_tournament_backwards_nor_finalizes_it(
    engine: Engine, stored: str, requested: str, kept: bool
) -> None:
    tid = f"life-{uuid.uuid4().hex[:8]}"
    with Session(engine) as session, session.begin():
        load_registration(session, json.dumps(_lifecycle_file(tid, "scheduled")))
        session.execute(text("UPDATE tournaments SET status = :s WHERE tournament_id = :t"), {"s": stored, "t": tid})
    with Session(engine) as session, session.begin():
        summary = load_registration(session, json.dumps(_lifecycle_file(tid, requested)))
    with Session(engine) as session:
        status = session.scalar(select(Tournament.status).where(Tournament.tournament_id == tid))
    assert status == (stored if kept else requested)
    assert [(k.tournament_id, k.status, k.requested) for k in summary.kept] == (
        [(tid, stored, requested)] if kept else []
    )


def test_cli_import_reports_the_statuses_it_kept(migrated_pg: EmbeddedPostgres, engine: Engine, tmp_path: Path) -> None:
    tid = f"life-{uuid.uuid4().hex[:8]}"
    with Session(engine) as session, session.begin():
        load_registration(session, json.dumps(_lifecycle_file(tid, "scheduled")))
        session.execute(text("UPDATE tournaments SET status = 'finalized' WHERE tournament_id = :t"), {"t": tid})
    path = tmp_path / "again.json"
    path.write_text(json.dumps(_lifecycle_file(tid, "scheduled")))
    env = {k: v for k, v in os.environ.items() if not k.startswith("STANDINGS_")}
    env.update({"STANDINGS_DATABASE__URL": migrated_pg.url, "COLUMNS": "200"})
    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "import", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"kept tournament {tid} finalized (the file says scheduled)" in done.stderr
    with Session(engine) as session:
        assert session.scalar(select(Tournament.status).where(Tournament.tournament_id == tid)) == "finalized"
