"""Bracket divisions through the registration import (SPEC §7) on real PostgreSQL: validation lists
every problem and writes nothing, the division row, entries and bouts (ids, mat, order), idempotent
re-import, a changed draw before results, a conflict after, and the initial ``bracket_bouts``."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from services.core.db.schema import BoutRow, Division, DivisionEntry
from services.registration.loader import DEMO_BRACKETS_FILE, load_registration
from services.registration.model import RegistrationConflict, RegistrationError


def registration(t: str, **division: Any) -> dict[str, Any]:
    athletes = [f"{t}-{c}" for c in "ABCDEFGHIJKL"]
    return {
        "athletes": [{"athlete_id": a, "full_name": f"Athlete {a}", "country": "FRA"} for a in athletes],
        "tournaments": [
            {
                "tournament_id": t,
                "name": "Bracket Cup",
                "tier": "open",
                "start_date": "2026-12-01",
                "end_date": "2026-12-01",
                "divisions": [{"division_id": f"{t}-d", "name": "D", "category": "m-81kg", **division}],
            }
        ],
    }


def new_t() -> str:
    return f"br{uuid.uuid4().hex[:6]}"


def load(engine: Engine, data: dict[str, Any]) -> None:
    with Session(engine) as session, session.begin():
        load_registration(session, json.dumps(data))


def bouts(engine: Engine, t: str) -> list[tuple[str, int, int, str | None, str | None]]:
    with Session(engine) as session:
        rows = session.execute(
            select(BoutRow.bout_id, BoutRow.mat, BoutRow.bout_order, BoutRow.red_athlete_id, BoutRow.blue_athlete_id)
            .where(BoutRow.tournament_id == t)
            .order_by(BoutRow.bout_order)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_seeded_judo_bracket_with_byes_writes_division_entries_and_bouts(engine: Engine) -> None:
    t = new_t()
    d = f"{t}-d"
    seeds = [f"{t}-{c}" for c in "ABCDEF"]  # 6 in an 8-draw: seeds 1 and 2 have byes
    load(engine, registration(t, format="elimination", repechage="judo", seeds=seeds, mat=3))
    with Session(engine) as session:
        div = session.get(Division, (t, d))
        assert div is not None
        assert (div.format, div.formats) == ("elimination", ["elimination"])
        a, b, c, dd, e, f = seeds
        assert div.bracket == {
            "format": "elimination",
            "repechage": "judo",
            "third_place": "bronze_bout",
            "advance": 2,
            "seeds": seeds,
            "draw": [a, None, dd, e, b, None, c, f],
            "pools": None,
        }
        entries = set(session.scalars(select(DivisionEntry.athlete_id).where(DivisionEntry.tournament_id == t)))
        assert entries == set(seeds)
    order = [
        "r1-b1", "r1-b2", "r1-b3", "r1-b4", "r2-b1", "r2-b2",
        "rep-top-1", "rep-bottom-1", "bronze-top", "bronze-bottom", "final",
    ]  # fmt: skip
    assert bouts(engine, t) == [(f"{d}-{b}", 3, n, None, None) for n, b in enumerate(order, start=1)]


def test_initial_bracket_bouts_open_waiting_and_bye(engine: Engine) -> None:
    t = new_t()
    d = f"{t}-d"
    draw = [f"{t}-A", None, f"{t}-D", f"{t}-E", f"{t}-B", f"{t}-C", f"{t}-F", f"{t}-G"]
    load(engine, registration(t, format="elimination", repechage="none", third_place="shared", draw=draw))
    with engine.connect() as conn:
        result = conn.execute(text("SELECT bout_id, status FROM bracket_bouts WHERE tournament_id = :t"), {"t": t})
        rows = {b: s for b, s in result}
    assert rows == {
        f"{d}-r1-b1": "bye",
        f"{d}-r1-b2": "open",
        f"{d}-r1-b3": "open",
        f"{d}-r1-b4": "open",
        f"{d}-r2-b1": "waiting",
        f"{d}-r2-b2": "waiting",
        f"{d}-final": "waiting",
    }


def test_pools_then_elimination_schedules_pool_round_robins_then_the_bracket(engine: Engine) -> None:
    t = new_t()
    d = f"{t}-d"
    pa, pb = [f"{t}-{c}" for c in "ABC"], [f"{t}-{c}" for c in "DEF"]
    pools = [{"pool_id": "A", "athletes": pa}, {"pool_id": "B", "athletes": pb}]
    load(engine, registration(t, format="pools_then_elimination", repechage="none", pools=pools))
    with Session(engine) as session:
        div = session.get(Division, (t, d))
        assert div is not None and div.format == "pools_then_elimination"
        assert div.formats == ["round_robin", "elimination"]
        assert div.bracket is not None and div.bracket["pools"] == pools and div.bracket["draw"] is None
    assert bouts(engine, t) == [
        (f"{t}-{d}-A-001", 1, 1, pa[0], pa[1]),
        (f"{t}-{d}-B-001", 1, 2, pb[0], pb[1]),
        (f"{t}-{d}-A-002", 1, 3, pa[0], pa[2]),
        (f"{t}-{d}-B-002", 1, 4, pb[0], pb[2]),
        (f"{t}-{d}-A-003", 1, 5, pa[1], pa[2]),
        (f"{t}-{d}-B-003", 1, 6, pb[1], pb[2]),
        (f"{d}-r1-b1", 1, 7, None, None),
        (f"{d}-r1-b2", 1, 8, None, None),
        (f"{d}-bronze", 1, 9, None, None),
        (f"{d}-final", 1, 10, None, None),
    ]


def test_every_problem_is_listed_and_nothing_written(engine: Engine) -> None:
    t = new_t()
    data = registration(t, format="elimination", seeds=[f"{t}-A", f"{t}-A", "ghost"], bouts="round_robin")
    pools_division = {
        "division_id": f"{t}-p",
        "name": "P",
        "category": "c",
        "format": "pools_then_elimination",
        "repechage": "judo",
        "advance": 3,
        "pools": [
            {"pool_id": "A", "athletes": [f"{t}-A", f"{t}-B"]},
            {"pool_id": "B", "athletes": [f"{t}-B", f"{t}-C", f"{t}-D"]},
            {"pool_id": "C", "athletes": [f"{t}-E"]},
        ],
    }
    draw_division = {
        "division_id": f"{t}-x",
        "name": "X",
        "category": "c",
        "format": "elimination",
        "repechage": "wrestling",
        "athletes": [f"{t}-F", f"{t}-G", f"{t}-H"],
        "draw": [f"{t}-F", f"{t}-G", f"{t}-K"],
        "bouts": [{"bout_id": f"{t}-b", "red": f"{t}-F", "blue": f"{t}-G"}],
    }
    data["tournaments"][0]["divisions"] += [pools_division, draw_division]
    with Session(engine) as session, pytest.raises(RegistrationError) as err, session.begin():
        load_registration(session, json.dumps(data))
    p = "\n".join(err.value.problems)
    expected = [
        "repechage is required (none, judo or wrestling)",
        f"seeds: athlete '{t}-A' is at seeds 1 and 2",
        "unknown athlete ghost",
        "pool A: 2 athlete(s); a pool needs at least 3",
        "pool C: 1 athlete(s); a pool needs at least 3",
        f"pools: athlete '{t}-B' is in pools 1 and 2",
        "draw: the draw has 3 positions; it must be a power of two >= 2",
        f"athlete {t}-K is in the seeds/draw but not in athletes",
        f"athlete {t}-H is entered but not in the seeds/draw",
        "bouts cannot be given for a bracket division",
    ]
    for fragment in expected:
        assert fragment in p
    with Session(engine) as session:
        assert session.get(Division, (t, f"{t}-d")) is None
        assert bouts(engine, t) == []


def test_round_robin_fields_and_legacy_formats(engine: Engine) -> None:
    t = new_t()
    athletes = [f"{t}-A", f"{t}-B", f"{t}-C"]
    load(engine, registration(t, formats=["round_robin", "elimination"], athletes=athletes))
    with Session(engine) as session:
        div = session.get(Division, (t, f"{t}-d"))
        assert div is not None
        assert (div.format, div.formats, div.bracket) == ("round_robin", ["round_robin", "elimination"], None)
    assert len(bouts(engine, t)) == 3
    with pytest.raises(RegistrationError) as err:
        load(engine, registration(new_t(), athletes=athletes, seeds=athletes, repechage="judo"))
    assert "seeds applies only to formats elimination and pools_then_elimination" in "\n".join(err.value.problems)


RESULT = {"winner": "red", "method": "ko", "score": {"red": 1, "blue": 0}, "duration_s": 60}


def _result(engine: Engine, bout_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO results (bout_id, revision, kind, payload, event_id, occurred_at, source_partition,"
                " source_offset) VALUES (:b, 1, 'result', :p, gen_random_uuid(), now(), 0, 0)"
            ),
            {"b": bout_id, "p": json.dumps(RESULT)},
        )


def test_reimport_is_idempotent_a_changed_draw_is_fine_until_results(engine: Engine) -> None:
    t = new_t()
    d = f"{t}-d"
    first = registration(t, format="elimination", repechage="none", seeds=[f"{t}-{c}" for c in "ABCDEFGHIJ"])
    load(engine, first)
    before = bouts(engine, t)
    assert len(before) == 16  # 16-draw, none + bronze: 8 + 4 + 2 + bronze + final
    load(engine, first)
    assert bouts(engine, t) == before
    smaller = registration(t, format="elimination", repechage="none", seeds=[f"{t}-{c}" for c in "ABCDE"])
    load(engine, smaller)  # no result yet: the 8-draw replaces the 16-draw
    after = bouts(engine, t)
    assert [b[0] for b in after] == [
        f"{d}-{b}" for b in ("r1-b1", "r1-b2", "r1-b3", "r1-b4", "r2-b1", "r2-b2", "bronze", "final")
    ]
    with Session(engine) as session:
        entries = set(session.scalars(select(DivisionEntry.athlete_id).where(DivisionEntry.tournament_id == t)))
    assert entries == {f"{t}-{c}" for c in "ABCDE"}
    _result(engine, f"{d}-r1-b2")
    load(engine, smaller)  # the same file again is still fine
    with pytest.raises(RegistrationConflict) as err:
        load(engine, registration(t, format="elimination", repechage="none", seeds=[f"{t}-{c}" for c in "EDCBA"]))
    assert "has results; its format, draw, seeds or pools cannot change" in err.value.problems[0]
    assert bouts(engine, t) == after


def test_the_demo_brackets_import_idempotently_with_open_first_rounds(engine: Engine) -> None:
    t = "tbilisi-grand-prix-2026"
    load(engine, json.loads(DEMO_BRACKETS_FILE.read_text()))
    first = bouts(engine, t)
    load(engine, json.loads(DEMO_BRACKETS_FILE.read_text()))
    assert bouts(engine, t) == first
    # 14 judoka in a 16-draw (seeds 1 and 2 have byes): 8 + 4 + 2 + 2 repechage + 2 bronze + final;
    # three pools of four: 3 × 6 pool bouts, then the 8-draw of 6 qualifiers with one bronze bout.
    assert len([b for b in first if b[0].startswith("gp-m-81kg-")]) == 19
    assert len([b for b in first if b[3] is not None]) == 18
    assert len([b for b in first if b[0].startswith("gp-w-63kg-")]) == 8
    with engine.connect() as conn:
        result = conn.execute(
            text("SELECT status, count(*) FROM bracket_bouts WHERE division_id = 'gp-m-81kg' GROUP BY status")
        )
        statuses = {s: n for s, n in result}
    assert statuses == {"bye": 2, "open": 6, "waiting": 11}


def test_division_rows_that_carry_different_columns_are_refused_not_cut(engine: Engine) -> None:
    """One multi-row insert takes its columns from its first row: a bracket division behind a
    round-robin one would silently lose its format and bracket."""
    from services.core.db.registration import upsert_divisions

    t = new_t()
    rows: list[dict[str, object]] = [
        {"tournament_id": t, "division_id": "rr", "name": "RR", "category": "c", "formats": ["round_robin"]},
        {
            "tournament_id": t,
            "division_id": "el",
            "name": "EL",
            "category": "c",
            "formats": ["elimination"],
            "format": "elimination",
        },
    ]
    with Session(engine) as session, pytest.raises(ValueError, match="Division rows must all carry the same columns"):
        upsert_divisions(session, rows)
