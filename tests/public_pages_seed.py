"""A tournament and a ranking list for the public pages' tests, written the way registration, the
projector and the rankings stage leave them (no Kafka needed).

- ``pages-cup``: a round-robin division (one athlete's name is hostile HTML), an 8-draw judo
  elimination division and a pools_then_elimination division (two pools of three), some bouts fought;
- a finalized world-tier tournament whose awards make the ranking list: "José Álvarez" (ESP) and
  "José Silva" (BRA) in two categories, "Joseph Baker" (USA) who must not match "jose".
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.rankings import rerank
from tests.bracket_read_helpers import win
from tests.rankings_support import World
from tests.read_api_helpers import StoredResult, apply_results, division_bout_list, seed_registration

T = "pages-cup"
RR, EL, PT = "m-66kg", "m-81kg", "w-63kg"
RANKED_T = "pages-worlds"
HOSTILE = "<script>alert(1)</script>"
TODAY = dt.date(2026, 11, 26)


def numbered(prefix: str, people: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(id, name, country) with ids ``{prefix}-1``, ``{prefix}-2``, …"""
    return [(f"{prefix}-{i}", name, country) for i, (name, country) in enumerate(people, start=1)]


ATHLETES: list[tuple[str, str, str]] = [
    ("rr-1", "Ōno Shōhei", "JPN"),
    ("rr-2", HOSTILE, "FRA"),
    ("rr-3", "ლაშა შავდათუაშვილი", "GEO"),
    ("rr-4", "محمد الشهري", "SAU"),
    ("rr-5", "Zoë Müller-Łukasz", "DEU"),
    *numbered(
        "el",
        [
            ("Nagase Takanori", "JPN"),
            ("Matthias Casse", "BEL"),
            ("이준환", "KOR"),
            ("Frank de Wit", "NLD"),
            ("Αλέξιος Ντανάτσιδης", "GRC"),
            ("סאגי מוקי", "ISR"),
            ("Arthur Margelidon", "CAN"),
            ("Bernd Fasching", "AUT"),
        ],
    ),
    *numbered(
        "pt",
        [
            ("Clarisse Agbégnénou", "FRA"),
            ("Andreja Leški", "SVN"),
            ("Horikawa Megumi", "JPN"),
            ("Katarina Krišto", "HRV"),
            ("Дарина Білодід", "UKR"),
            ("김지수", "KOR"),
        ],
    ),
]
RANKED: list[tuple[str, str, str, str, int]] = [  # athlete, name, country, category, placing
    ("jose-a", "José Álvarez", "ESP", "m-73kg", 1),
    ("zoe-m", "Zoë Müller-Łukasz", "DEU", "m-73kg", 2),
    ("joseph-b", "Joseph Baker", "USA", "m-73kg", 3),
    ("hostile", HOSTILE, "FRA", "m-73kg", 4),
    ("jose-s", "José Silva", "BRA", "m-90kg", 1),
    ("ono-s", "Ōno Shōhei", "JPN", "m-90kg", 2),
    ("andres-p", "Andrés Pérez", "ESP", "m-90kg", 3),
]
_offsets = itertools.count(100)


def registration() -> dict[str, Any]:
    athletes = [{"athlete_id": a, "full_name": n, "country": c, "club": None} for a, n, c in ATHLETES]
    ids = {p: [a for a, _, _ in ATHLETES if a.startswith(p)] for p in ("rr-", "el-", "pt-")}
    return {
        "athletes": athletes,
        "tournaments": [
            {
                "tournament_id": T,
                "name": "Pages Cup 2026",
                "tier": "continental",
                "start_date": "2026-11-26",
                "end_date": "2026-11-27",
                "status": "live",
                "divisions": [
                    {
                        "division_id": RR,
                        "name": "Men −66 kg",
                        "category": RR,
                        "formats": ["round_robin"],
                        "athletes": ids["rr-"],
                        "bouts": "round_robin",
                    },
                    {
                        "division_id": EL,
                        "name": "Men −81 kg",
                        "category": EL,
                        "format": "elimination",
                        "repechage": "judo",
                        "seeds": ids["el-"],
                        "mat": 2,
                    },
                    {
                        "division_id": PT,
                        "name": "Women −63 kg",
                        "category": PT,
                        "format": "pools_then_elimination",
                        "repechage": "none",
                        "third_place": "bronze_bout",
                        "advance": 2,
                        "mat": 3,
                        "pools": [
                            {"pool_id": "A", "athletes": ids["pt-"][:3]},
                            {"pool_id": "B", "athletes": ids["pt-"][3:]},
                        ],
                    },
                ],
            }
        ],
    }


def seed_tournament(engine: sa.Engine) -> list[StoredResult]:
    """The tournament with two round-robin bouts fought (returned), and the bracket through a correction
    that invalidates a semifinal already fought (r1-b1 corrected after r2-b1)."""
    seed_registration(engine, registration())
    bouts = division_bout_list(engine, T, RR)
    fought = [
        StoredResult(
            bouts[0].bout_id,
            1,
            "result",
            {"winner": "red", "method": "ko", "score": {"red": 5, "blue": 0}},
            next(_offsets),
        ),
        StoredResult(
            bouts[1].bout_id,
            1,
            "result",
            {"winner": "blue", "method": "points", "score": {"red": 1, "blue": 3}},
            next(_offsets),
        ),
    ]
    apply_results(engine, T, RR, fought)
    for bout in ("r1-b1", "r1-b2", "r1-b3", "r1-b4", "r2-b1"):
        win(engine, T, EL, f"{EL}-{bout}", "red", next(_offsets))
    win(engine, T, EL, f"{EL}-r1-b1", "blue", next(_offsets), revision=2)
    return fought


def seed_rankings(engine: sa.Engine) -> None:
    """The finalized tournament's awards and the ranking list in PostgreSQL (the indexer ships them)."""
    world = World(engine)
    world.athletes([(a, n, c) for a, n, c, _, _ in RANKED])
    world.tournament(RANKED_T, "world", TODAY - dt.timedelta(days=30))
    divisions: dict[str, dict[str, int]] = {}
    for a, _, _, category, placing in RANKED:
        divisions.setdefault(category, {})[a] = placing
    for category, ranks in divisions.items():
        world.division(RANKED_T, category, category, list(ranks))
    with Session(engine) as session, session.begin():
        for category, ranks in divisions.items():
            world.standings(session, RANKED_T, category, ranks)
        rerank.apply_ranking_effects(session, set(), {(RANKED_T, c) for c in divisions}, today=TODAY)
