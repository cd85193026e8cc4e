"""Re-importing a registration file on the whole pipeline (HTTP intake → Kafka → projector → PostgreSQL
→ indexer → search index), on both brokers: a finalized tournament stays finalized and its points stay
counted; only an explicit, audited re-open turns them provisional again.

The expectations come from the pure domain applied to the oracle standings (every accepted event,
first applied wins), never from the code under test.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, NamedTuple

import httpx
import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.core.domain.ranking import Tier, awards_for_division, ranking_list
from services.rankings.model import utc_today
from services.registration.loader import load_registration
from tests.e2e.pipeline import Pipeline
from tests.e2e.ranked_stack import (
    Stack,
    admin_headers,
    awards,
    drain,
    finalize,
    import_file,
    index_agrees,
    rankings,
)
from tests.projector_support import unique
from tests.read_api_helpers import api_rows

ATHLETES = ["ri-a", "ri-b", "ri-c", "ri-d"]
# Red wins every bout of the round robin by points, so the table is a, b, c, d.
WINNERS = {("ri-a", "ri-b"): "red", ("ri-a", "ri-c"): "red", ("ri-a", "ri-d"): "red",
           ("ri-b", "ri-c"): "red", ("ri-b", "ri-d"): "red", ("ri-c", "ri-d"): "red"}  # fmt: skip


def registration_file(tournament_id: str) -> dict[str, Any]:
    end = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=3)
    return {
        "athletes": [
            {"athlete_id": a, "full_name": f"Athlete {a[-1].upper()}", "country": "FRA", "club": None} for a in ATHLETES
        ],
        "tournaments": [
            {
                "tournament_id": tournament_id,
                "name": "Re-import Open",
                "tier": "world",
                "start_date": (end - dt.timedelta(days=1)).isoformat(),
                "end_date": end.isoformat(),
                "divisions": [
                    {
                        "division_id": "m-81kg",
                        "name": "Men −81 kg",
                        "category": unique("m-81kg"),
                        "athletes": ATHLETES,
                    }
                ],
            }
        ],
    }


def _bouts(p: Pipeline, tournament_id: str) -> dict[tuple[str, str], str]:
    """The tournament's bouts by (red, blue), registered with the oracle."""
    with p.engine.connect() as conn:
        rows = list(
            conn.execute(
                sa.text("SELECT bout_id, red_athlete_id, blue_athlete_id FROM bouts WHERE tournament_id = :t"),
                {"t": tournament_id},
            )
        )
    p.registration.bouts.extend(
        {
            "bout_id": b,
            "tournament_id": tournament_id,
            "division_id": "m-81kg",
            "red_athlete_id": r,
            "blue_athlete_id": bl,
        }
        for b, r, bl in rows
    )
    p.registration.entries.extend(
        {"tournament_id": tournament_id, "division_id": "m-81kg", "athlete_id": a} for a in ATHLETES
    )
    return {(r, bl): b for b, r, bl in rows}


class _NewTournament(NamedTuple):
    """A fresh tournament: its id, its registration file's bytes, its one division's category and its end."""

    tournament_id: str
    raw: bytes
    category: str
    end: dt.date


def _new_tournament(prefix: str) -> _NewTournament:
    tournament_id = unique(prefix).replace("_", "-")
    doc = registration_file(tournament_id)
    [tournament] = doc["tournaments"]
    category = tournament["divisions"][0]["category"]
    end = dt.date.fromisoformat(tournament["end_date"])
    return _NewTournament(tournament_id, json.dumps(doc).encode(), category, end)


def _play_every_bout(p: Pipeline, tournament_id: str) -> dict[tuple[str, str], str]:
    """Revision 1 of every bout (WINNERS), applied; returns the bouts by (red, blue)."""
    bouts = _bouts(p, tournament_id)
    for pair, winner in WINNERS.items():
        _post(p, tournament_id, bouts[pair], 1, winner)
    p.wait_applied()
    return bouts


def _post(p: Pipeline, tournament_id: str, bout_id: str, revision: int, winner: str) -> None:
    body = {
        "revision": revision,
        "winner": winner,
        "method": "points",
        "score": {"red": 3, "blue": 1} if winner == "red" else {"red": 1, "blue": 3},
        "duration_s": 240,
    }
    r = p.post_result(bout_id, body, token=p.tokens["admin"])
    assert r.status_code == 202, r.text


def _expected_awards(p: Pipeline, tournament_id: str, category: str, end: dt.date) -> dict[str, tuple[int, float]]:
    """Final awards from the oracle's standings (the pure domain), not from the pipeline."""
    rows = p.oracle("m-81kg", tournament_id)
    return {
        a.athlete_id: (a.rank, a.points)
        for a in awards_for_division(tournament_id, "m-81kg", category, Tier.WORLD, end, rows)
    }


def test_reimport_keeps_a_finalized_tournament_final_and_a_correction_counts_once(
    stack: Stack,
) -> None:
    p = stack.p
    tournament_id, raw, category, end = _new_tournament("reimport")

    r = import_file(p, raw)
    assert r.status_code == 200, r.text
    bouts = _play_every_bout(p, tournament_id)
    finalize(p, tournament_id)
    p.wait_applied()

    expected = _expected_awards(p, tournament_id, category, end)
    assert {a: (pl, pt) for a, (pl, pt, _) in awards(p, tournament_id).items()} == expected
    assert not any(prov for *_, prov in awards(p, tournament_id).values())
    assert expected["ri-c"] == (3, 100.0)  # 3rd: 50 × world 2.0
    index_agrees(stack, category)

    # The organiser re-imports the same file (CLI path) and again through the admin API.
    with Session(p.engine) as session, session.begin():
        summary = load_registration(session, raw)
    r = import_file(p, raw)
    assert r.status_code == 200, r.text
    standings = httpx.get(f"{p.api.url}/v1/tournaments/{tournament_id}/divisions/m-81kg/standings", timeout=10).json()
    assert standings["tournament"]["status"] == "finalized"

    # A late correction: c beats b (revision 2). Points stay counted; only that correction's effect shows.
    _post(p, tournament_id, bouts[("ri-b", "ri-c")], 2, "blue")
    p.wait_applied()
    assert api_rows(p.standings("m-81kg", tournament_id)) == p.oracle("m-81kg", tournament_id)
    stored = awards(p, tournament_id)
    assert not any(prov for *_, prov in stored.values()), stored
    after = _expected_awards(p, tournament_id, category, end)
    assert after != expected  # the correction moved b and c
    assert {a: (pl, pt) for a, (pl, pt, _) in stored.items()} == after
    today = utc_today()
    want = {
        e.athlete_id: (e.rank, e.points, 0.0)
        for e in ranking_list(
            awards_for_division(tournament_id, "m-81kg", category, Tier.WORLD, end, p.oracle("m-81kg", tournament_id)),
            today,
        )[category]
    }
    drain(stack.indexer)  # the category re-rank runs in the rankings stage (the indexer process)
    assert rankings(p, category) == want
    index_agrees(stack, category)
    # ...and both imports said what they kept.
    assert [(k.tournament_id, k.status, k.requested) for k in summary.kept] == [
        (tournament_id, "finalized", "scheduled")
    ]
    assert [(k["tournament_id"], k["status"], k["requested"]) for k in r.json()["kept_statuses"]] == [
        (tournament_id, "finalized", "scheduled")
    ]


def test_reopen_is_explicit_audited_and_turns_points_provisional(
    stack: Stack,
) -> None:
    p = stack.p
    tournament_id, raw, category, _ = _new_tournament("reopen")
    assert import_file(p, raw).is_success
    _play_every_bout(p, tournament_id)

    reopen_url = f"{p.api.url}/v1/tournaments/{tournament_id}/reopen"
    r = httpx.post(reopen_url, json={"reason": "scoring error on mat 2"}, headers=admin_headers(p), timeout=10)
    assert r.status_code == 409, r.text  # live, not finalized
    assert r.headers["content-type"].startswith("application/problem+json")

    finalize(p, tournament_id)
    p.wait_applied()
    drain(stack.indexer)
    final = rankings(p, category)
    assert final["ri-a"] == (1, 200.0, 0.0)
    index_agrees(stack, category)

    ref = {"Authorization": f"Bearer {p.tokens['referee']}"}
    assert httpx.post(reopen_url, json={"reason": "nope"}, headers=ref, timeout=10).status_code == 403
    r = httpx.post(reopen_url, json={"reason": "scoring error on mat 2"}, headers=admin_headers(p), timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "live"

    reopened_awards = awards(p, tournament_id)
    assert reopened_awards and all(prov for *_, prov in reopened_awards.values())
    reopened = rankings(p, category)
    # Nothing counted any more: every athlete's points are 0, the former points provisional.
    assert {a: (points, prov) for a, (_, points, prov) in reopened.items()} == {
        a: (0.0, points) for a, (_, points, _) in final.items()
    }
    index_agrees(stack, category)
    standings = httpx.get(f"{p.api.url}/v1/tournaments/{tournament_id}/divisions/m-81kg/standings", timeout=10).json()
    assert standings["tournament"]["status"] == "live"

    trail = httpx.get(f"{p.api.url}/v1/tournaments/{tournament_id}/admin-actions", headers=admin_headers(p), timeout=10)
    assert trail.status_code == 200, trail.text
    [action] = trail.json()
    assert (action["action"], action["reason"]) == ("reopen", "scoring error on mat 2")

    # Finalizing again applies (the re-open cleared the divisions' finalized_at) and counts once.
    finalize(p, tournament_id)
    p.wait_applied()
    drain(stack.indexer)
    assert rankings(p, category) == final
    index_agrees(stack, category)
