"""The registration file: validation lists every problem, the demo file is valid."""

from __future__ import annotations

import json

import pytest

from services.registration.loader import DEMO_FILE
from services.registration.model import RegistrationError, parse_registration, round_robin_bouts


def _file(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "athletes": [
            {"athlete_id": "a1", "full_name": "Ōno Shōhei", "country": "JPN"},
            {"athlete_id": "a2", "full_name": "Zoë Müller-Łukasz", "country": "POL"},
            {"athlete_id": "a3", "full_name": "ლაშა შავდათუაშვილი", "country": "GEO"},
        ],
        "tournaments": [
            {
                "tournament_id": "t1",
                "name": "T1",
                "tier": "world",
                "start_date": "2026-01-01",
                "end_date": "2026-01-02",
                "divisions": [
                    {"division_id": "m-73kg", "name": "M73", "category": "m-73kg", "athletes": ["a1", "a2", "a3"]}
                ],
            }
        ],
    }
    base.update(overrides)
    return base


def test_valid_file_schedules_round_robin() -> None:
    reg = parse_registration(json.dumps(_file()))
    division = reg.tournaments[0].divisions[0]
    assert division.bouts == "round_robin"
    bouts = round_robin_bouts("t1", "m-73kg", division.athletes)
    assert [(b.red, b.blue) for b in bouts] == [("a1", "a2"), ("a1", "a3"), ("a2", "a3")]
    assert len({b.bout_id for b in bouts}) == 3


def test_every_problem_is_listed_at_once() -> None:
    data = _file()
    data["athletes"] = [
        {"athlete_id": "a1", "full_name": "A", "country": "JPN"},
        {"athlete_id": "a1", "full_name": "A again", "country": "JPN"},
        {"athlete_id": "a2", "full_name": "B", "country": "XXX"},
    ]
    tournament = data["tournaments"][0]  # type: ignore[index]
    tournament["divisions"][0]["athletes"] = ["a1", "a2", "ghost"]
    tournament["divisions"][0]["bouts"] = [
        {"bout_id": "b1", "red": "a1", "blue": "a1"},
        {"bout_id": "b1", "red": "a1", "blue": "ghost"},
    ]
    with pytest.raises(RegistrationError) as err:
        parse_registration(json.dumps(data))
    text = "\n".join(err.value.problems)
    assert "a1: duplicate athlete_id" in text
    assert "country 'XXX' is not an ISO 3166-1 alpha-3 code" in text
    assert "unknown athlete ghost" in text
    assert "athlete a1 cannot fight themself" in text
    assert "b1: duplicate bout_id" in text
    assert len(err.value.problems) >= 5


def test_schema_errors_are_listed_with_their_location() -> None:
    data = _file()
    data["tournaments"][0]["tier"] = "galactic"  # type: ignore[index]
    data["athletes"][0]["unexpected"] = 1  # type: ignore[index]
    with pytest.raises(RegistrationError) as err:
        parse_registration(json.dumps(data))
    assert any("tier" in p for p in err.value.problems)
    assert any("unexpected" in p for p in err.value.problems)


def test_known_athletes_from_the_database_may_be_referenced() -> None:
    data = _file(athletes=[])
    with pytest.raises(RegistrationError):
        parse_registration(json.dumps(data))
    reg = parse_registration(json.dumps(data), known_athletes={"a1", "a2", "a3"})
    assert reg.tournaments[0].tournament_id == "t1"


def test_demo_file_is_valid_and_international() -> None:
    reg = parse_registration(DEMO_FILE.read_bytes())
    tiers = {t.tier for t in reg.tournaments}
    assert {"world", "open"} <= tiers
    divisions = [d for t in reg.tournaments for d in t.divisions]
    assert len(divisions) >= 6
    assert all(5 <= len(d.athletes) <= 8 for d in divisions)
    names = "".join(a.full_name for a in reg.athletes)
    # Latin with diacritics, Japanese, Georgian, Cyrillic, Greek, Hebrew, Arabic, Hangul.
    for probe in ("Ō", "ü", "舟", "ლ", "Г", "Θ", "פ", "ي", "허"):
        assert probe in names
