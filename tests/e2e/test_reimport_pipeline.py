"""Re-importing a registration file on the whole pipeline (HTTP intake → Kafka → projector → PostgreSQL
→ indexer → search index), on both brokers: a finalized tournament stays finalized and its points stay
counted; only an explicit, audited re-open turns them provisional again.

The expectations come from the pure domain applied to the oracle standings (every accepted event,
first applied wins), never from the code under test.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from elasticsearch import Elasticsearch
from sqlalchemy.orm import Session

from services.core.domain.ranking import Tier, awards_for_division, ranking_list
from services.core.search.client import make_search_client
from services.embedded.postgres import EmbeddedPostgres
from services.embedded.search_engine import OsmemEngine
from services.indexer.loop import RankingsIndexer
from services.rankings.audit import run_audit
from services.rankings.model import utc_today
from services.registration.loader import load_registration
from tests.e2e.pipeline import Pipeline, running_pipeline
from tests.projector_support import unique
from tests.rankings_support import drain_indexer, drop_indices, index_docs, rankings_settings
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


@dataclass
class Stack:
    p: Pipeline
    indexer: RankingsIndexer
    client: Elasticsearch
    alias: str


@pytest.fixture(scope="module", params=["tansu", "mock"])
def stack(
    request: pytest.FixtureRequest,
    pg: EmbeddedPostgres,
    search: OsmemEngine,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    broker = request.getfixturevalue("kafka" if request.param == "tansu" else "mock_kafka")
    log_dir: Path = tmp_path_factory.mktemp(f"reimport-{request.param}")
    with running_pipeline(
        pg, broker.bootstrap, mock_broker=request.param == "mock", log_dir=log_dir, search_url=search.url
    ) as p:
        settings = rankings_settings(p.settings.database.url.get_secret_value(), search.url)
        client = make_search_client(settings.search)
        indexer = RankingsIndexer(settings, p.engine, client)
        indexer.check_alias(force=True)
        try:
            yield Stack(p, indexer, client, settings.search.alias)
        finally:
            drop_indices(client, settings.search.alias)
            client.close()


def _admin(p: Pipeline) -> dict[str, str]:
    return {"Authorization": f"Bearer {p.tokens['admin']}", "Content-Type": "application/json"}


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


def _new_tournament(prefix: str) -> tuple[str, dict[str, Any], bytes]:
    """A fresh tournament id, its registration file and the file's bytes."""
    tournament_id = unique(prefix).replace("_", "-")
    doc = registration_file(tournament_id)
    return tournament_id, doc, json.dumps(doc).encode()


def _import(p: Pipeline, raw: bytes) -> httpx.Response:
    return httpx.post(f"{p.api.url}/v1/registration/import", content=raw, headers=_admin(p), timeout=30)


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


def _finalize(p: Pipeline, tournament_id: str) -> None:
    r = httpx.post(
        f"{p.intake.url}/v1/tournaments/{tournament_id}/finalize",
        headers={"Authorization": f"Bearer {p.tokens['ops']}"},
        timeout=10,
    )
    assert r.status_code == 202, r.text
    for e in r.json()["events"]:
        p.accepted.append({"partition": e["partition"], "offset": e["offset"], "bout_id": "", "kind": "finalize"})


def _drain(indexer: RankingsIndexer) -> None:
    drain_indexer(indexer)


def _awards(p: Pipeline, tournament_id: str) -> dict[str, tuple[int, float, bool]]:
    with p.engine.connect() as conn:
        rows = conn.execute(
            sa.text('SELECT athlete_id, "placing", points, provisional FROM ranking_awards WHERE tournament_id = :t'),
            {"t": tournament_id},
        )
        return {a: (pl, float(pt), prov) for a, pl, pt, prov in rows}


def _expected_awards(p: Pipeline, tournament_id: str, category: str, end: dt.date) -> dict[str, tuple[int, float]]:
    """Final awards from the oracle's standings (the pure domain), not from the pipeline."""
    rows = p.oracle("m-81kg", tournament_id)
    return {
        a.athlete_id: (a.rank, a.points)
        for a in awards_for_division(tournament_id, "m-81kg", category, Tier.WORLD, end, rows)
    }


def _rankings(p: Pipeline, category: str) -> dict[str, tuple[int, float, float]]:
    with p.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT athlete_id, rank, points, provisional_points FROM rankings WHERE category = :c"),
            {"c": category},
        )
        return {a: (rank, float(points), float(prov)) for a, rank, points, prov in rows}


def _index_agrees(s: Stack, category: str) -> None:
    """The index says what PostgreSQL says: the audit is clean and the category's documents match."""
    _drain(s.indexer)
    report = run_audit(s.p.engine, s.client, s.alias)
    assert report.clean, report
    docs = {d["athlete_id"]: d for d in index_docs(s.client, s.alias).values() if d["category"] == category}
    stored = _rankings(s.p, category)
    assert {a: (d["rank"], d["points"], d["provisional_points"]) for a, d in docs.items()} == {
        a: (rank or None, points, prov) for a, (rank, points, prov) in stored.items()
    }


def test_reimport_keeps_a_finalized_tournament_final_and_a_correction_counts_once(
    stack: Stack,
) -> None:
    p = stack.p
    tournament_id, doc, raw = _new_tournament("reimport")
    category = doc["tournaments"][0]["divisions"][0]["category"]
    end = dt.date.fromisoformat(doc["tournaments"][0]["end_date"])

    r = _import(p, raw)
    assert r.status_code == 200, r.text
    bouts = _play_every_bout(p, tournament_id)
    _finalize(p, tournament_id)
    p.wait_applied()

    expected = _expected_awards(p, tournament_id, category, end)
    assert {a: (pl, pt) for a, (pl, pt, _) in _awards(p, tournament_id).items()} == expected
    assert not any(prov for *_, prov in _awards(p, tournament_id).values())
    assert expected["ri-c"] == (3, 100.0)  # 3rd: 50 × world 2.0
    _index_agrees(stack, category)

    # The organiser re-imports the same file (CLI path) and again through the admin API.
    with Session(p.engine) as session, session.begin():
        summary = load_registration(session, raw)
    r = _import(p, raw)
    assert r.status_code == 200, r.text
    standings = httpx.get(f"{p.api.url}/v1/tournaments/{tournament_id}/divisions/m-81kg/standings", timeout=10).json()
    assert standings["tournament"]["status"] == "finalized"

    # A late correction: c beats b (revision 2). Points stay counted; only that correction's effect shows.
    _post(p, tournament_id, bouts[("ri-b", "ri-c")], 2, "blue")
    p.wait_applied()
    assert api_rows(p.standings("m-81kg", tournament_id)) == p.oracle("m-81kg", tournament_id)
    awards = _awards(p, tournament_id)
    assert not any(prov for *_, prov in awards.values()), awards
    after = _expected_awards(p, tournament_id, category, end)
    assert after != expected  # the correction moved b and c
    assert {a: (pl, pt) for a, (pl, pt, _) in awards.items()} == after
    today = utc_today()
    want = {
        e.athlete_id: (e.rank, e.points, 0.0)
        for e in ranking_list(
            awards_for_division(tournament_id, "m-81kg", category, Tier.WORLD, end, p.oracle("m-81kg", tournament_id)),
            today,
        )[category]
    }
    _drain(stack.indexer)  # the category re-rank runs in the rankings stage (the indexer process)
    assert _rankings(p, category) == want
    _index_agrees(stack, category)
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
    tournament_id, doc, raw = _new_tournament("reopen")
    category = doc["tournaments"][0]["divisions"][0]["category"]
    assert _import(p, raw).is_success
    _play_every_bout(p, tournament_id)

    reopen_url = f"{p.api.url}/v1/tournaments/{tournament_id}/reopen"
    r = httpx.post(reopen_url, json={"reason": "scoring error on mat 2"}, headers=_admin(p), timeout=10)
    assert r.status_code == 409, r.text  # live, not finalized
    assert r.headers["content-type"].startswith("application/problem+json")

    _finalize(p, tournament_id)
    p.wait_applied()
    _drain(stack.indexer)
    final = _rankings(p, category)
    assert final["ri-a"] == (1, 200.0, 0.0)
    _index_agrees(stack, category)

    ref = {"Authorization": f"Bearer {p.tokens['referee']}"}
    assert httpx.post(reopen_url, json={"reason": "nope"}, headers=ref, timeout=10).status_code == 403
    r = httpx.post(reopen_url, json={"reason": "scoring error on mat 2"}, headers=_admin(p), timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "live"

    awards = _awards(p, tournament_id)
    assert awards and all(prov for *_, prov in awards.values())
    reopened = _rankings(p, category)
    # Nothing counted any more: every athlete's points are 0, the former points provisional.
    assert {a: (points, prov) for a, (_, points, prov) in reopened.items()} == {
        a: (0.0, points) for a, (_, points, _) in final.items()
    }
    _index_agrees(stack, category)
    standings = httpx.get(f"{p.api.url}/v1/tournaments/{tournament_id}/divisions/m-81kg/standings", timeout=10).json()
    assert standings["tournament"]["status"] == "live"

    trail = httpx.get(f"{p.api.url}/v1/tournaments/{tournament_id}/admin-actions", headers=_admin(p), timeout=10)
    assert trail.status_code == 200, trail.text
    [action] = trail.json()
    assert (action["action"], action["reason"]) == ("reopen", "scoring error on mat 2")

    # Finalizing again applies (the re-open cleared the divisions' finalized_at) and counts once.
    _finalize(p, tournament_id)
    p.wait_applied()
    _drain(stack.indexer)
    assert _rankings(p, category) == final
    _index_agrees(stack, category)
