"""The order the domain decides is the order every reader sees, on any database locale.

Rows tied on every criterion share a rank and are listed by ``athlete_id`` ascending (SPEC §3 step 7):
the domain compares ids by code point. A database created with a locale collation (en_US.utf8, the
production image's default) sorts "ab.1" before "ab-9" and "abe" before "Zed"; the id columns are in
the "C" collation so SQL ``ORDER BY`` agrees with the domain whatever the database default is.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.core.db import standings_read
from services.core.db.migrate import upgrade
from services.core.db.schema import metadata
from services.embedded.postgres import EmbeddedPostgres
from services.registration.loader import load_registration

LOCALE = "en_US.UTF-8"
# Ordered differently by code point and by en_US: case folding, and punctuation ignored at first level.
ATHLETES = ["Zed", "abe", "ab-9", "ab.1", "ab_5", "A0", "Ab"]
DIVISIONS = ["m-73kg", "m_73kg", "m73kg", "m-73kga"]


def _locale_available() -> bool:
    names = subprocess.run(["locale", "-a"], capture_output=True, text=True, check=True).stdout.split()
    return any(n.lower().replace("-", "") == "en_us.utf8" for n in names)


@pytest.fixture(scope="module")
def locale_db(pg: EmbeddedPostgres) -> Iterator[sa.Engine]:
    """A migrated database whose default collation is en_US (scripts/test generates the locale)."""
    assert _locale_available(), f"locale {LOCALE} is missing: run `localedef -i en_US -f UTF-8 {LOCALE}`"
    name = f"collate_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(pg.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            sa.text(f"CREATE DATABASE \"{name}\" TEMPLATE template0 LC_COLLATE '{LOCALE}' LC_CTYPE '{LOCALE}'")
        )
    url = pg.url.replace(f"/{pg.database}?", f"/{name}?", 1)
    upgrade(url)
    engine = sa.create_engine(url)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_the_locale_would_reorder_the_ids(locale_db: sa.Engine) -> None:
    """The premise: this database's default collation does not order ids like the domain."""
    with locale_db.connect() as conn:
        by_locale = [
            r[0]
            for r in conn.execute(
                sa.text("SELECT id FROM unnest(CAST(:ids AS text[])) AS id ORDER BY id"), {"ids": ATHLETES}
            )
        ]
    assert by_locale != sorted(ATHLETES)


def test_tied_rows_and_division_lists_come_out_in_domain_order(locale_db: sa.Engine) -> None:
    doc = {
        "athletes": [{"athlete_id": a, "full_name": f"Athlete {a}", "country": "FRA"} for a in ATHLETES],
        "tournaments": [
            {
                "tournament_id": "collation-cup",
                "name": "Collation Cup",
                "tier": "open",
                "start_date": "2026-11-20",
                "end_date": "2026-11-21",
                "divisions": [
                    {"division_id": d, "name": d, "category": d, "athletes": ATHLETES, "bouts": []} for d in DIVISIONS
                ],
            }
        ],
    }
    with Session(locale_db) as session, session.begin():
        load_registration(session, orjson.dumps(doc))
    with Session(locale_db) as session:
        table = standings_read.load_division_standings(session, "collation-cup", "m-73kg")
        divisions = standings_read.tournament_divisions(session, "collation-cup")
    assert table is not None
    with locale_db.connect() as conn:  # the rows come from SQL (ORDER BY rank, athlete_id), not a roster
        stored = conn.execute(sa.text("SELECT count(*) FROM standings_rows WHERE division_id = 'm-73kg'")).scalar()
    assert stored == len(ATHLETES)
    # Nobody has fought: every row is tied through step 6, so step 7 (athlete_id ascending) orders them.
    assert [r.athlete_id for r in table.rows] == sorted(ATHLETES)
    assert {r.rank for r in table.rows} == {1}
    assert [d.division_id for d in divisions] == sorted(DIVISIONS)


def test_every_id_column_is_in_the_c_collation(locale_db: sa.Engine) -> None:
    """Models and the migrated database agree: each id column that orders rows sorts by code point."""
    ids = {
        (table.name, column.name)
        for table in metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, sa.String)
        and (column.name.endswith("_id") or column.name == "category")
        and table.name not in {"consumer_positions", "consumer_members", "api_tokens", "reindex_jobs"}
        and column.name != "token_id"  # an opaque credential id, never an order
    }
    assert len(ids) > 25
    with locale_db.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT table_name, column_name, collation_name FROM information_schema.columns "
                "WHERE table_schema = 'public'"
            )
        )
        collations = {(t, c): coll for t, c, coll in rows}
    assert {key: collations.get(key) for key in ids} == dict.fromkeys(ids, "C")
