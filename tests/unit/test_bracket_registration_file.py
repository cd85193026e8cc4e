"""The registration file's bracket divisions, without a database: what a division declares, the
stored description, the bouts in mat order, the legacy ``formats`` list. Hand-written values."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.registration.brackets import stored_formats
from services.registration.model import RegistrationError, bracket_plans, parse_registration

ATHLETES = [f"a{i}" for i in range(1, 17)]


def _file(**division: Any) -> str:
    return json.dumps(
        {
            "athletes": [{"athlete_id": a, "full_name": a, "country": "JPN"} for a in ATHLETES],
            "tournaments": [
                {
                    "tournament_id": "t",
                    "name": "T",
                    "tier": "open",
                    "start_date": "2026-01-01",
                    "end_date": "2026-01-01",
                    "divisions": [{"division_id": "d", "name": "D", "category": "c", **division}],
                }
            ],
        }
    )


def test_wrestling_sixteen_bouts_in_mat_order() -> None:
    reg = parse_registration(_file(format="elimination", repechage="wrestling", seeds=ATHLETES))
    plan = bracket_plans(reg)[("t", "d")]
    main = [f"r1-b{i}" for i in range(1, 9)] + [f"r2-b{i}" for i in range(1, 5)] + ["r3-b1", "r3-b2"]
    ladder = ["rep-top-1", "rep-bottom-1", "bronze-top", "bronze-bottom", "final"]
    assert [b.bout_id for b in plan.bouts] == [f"d-{b}" for b in main + ladder]
    assert [b.order for b in plan.bouts] == list(range(1, 20))
    assert {(b.mat, b.red, b.blue) for b in plan.bouts} == {(1, None, None)}
    assert plan.document["draw"][:4] == ["a1", "a16", "a8", "a9"]
    assert plan.entrants == ATHLETES


def test_the_entries_are_the_brackets_athletes() -> None:
    reg = parse_registration(_file(format="elimination", repechage="none", draw=["a1", None, "a2", "a3"]))
    division = reg.tournaments[0].divisions[0]
    assert division.entrants() == ["a1", "a2", "a3"]
    with pytest.raises(RegistrationError) as err:
        parse_registration(_file(format="elimination", repechage="none", seeds=["a1", "a2"], athletes=["a1", "a3"]))
    assert err.value.problems == [
        "tournament t division d: athlete a2 is in the seeds/draw but not in athletes",
        "tournament t division d: athlete a3 is entered but not in the seeds/draw (every entrant needs a place in the bracket)",
    ]


def test_legacy_formats_are_round_robin() -> None:
    for formats in (["round_robin"], ["round_robin", "elimination"]):
        division = parse_registration(_file(formats=formats, athletes=ATHLETES[:3])).tournaments[0].divisions[0]
        assert (division.kind, division.bracket, stored_formats(division)) == ("round_robin", False, formats)
    with pytest.raises(RegistrationError) as err:
        parse_registration(_file(formats=["elimination"], athletes=ATHLETES[:3]))
    assert err.value.problems == ["tournament t division d: format round_robin is required"]


def test_a_bracket_needs_its_draw_and_a_round_robin_its_athletes() -> None:
    with pytest.raises(RegistrationError) as err:
        parse_registration(_file(format="elimination", repechage="judo", mat=2))
    assert err.value.problems == [
        "tournament t division d: give either seeds (athletes in seed order) or draw (bracket positions, null for a bye)"
    ]
    with pytest.raises(RegistrationError) as err:
        parse_registration(_file(format="round_robin", advance=2))
    assert err.value.problems == [
        "tournament t division d: advance applies only to formats elimination and pools_then_elimination",
        "tournament t division d: athletes is required for a round_robin division",
    ]
