"""Admin/registration API against a real PostgreSQL: auth, all-or-nothing import, writes that refresh standings."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import orjson
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from services.api.app import create_app
from services.core.db.engine import make_engine
from services.core.db.schema import Athlete, Tournament
from services.core.db.tokens import create_token
from services.core.settings import DatabaseSettings, Settings
from services.embedded.postgres import EmbeddedPostgres
from tests.read_api_helpers import StoredResult, UvicornThread, apply_results, create_database, division_bout_list

T = "admin-cup"


@dataclass
class Admin:
    client: httpx.Client
    engine: Engine
    admin: dict[str, str]
    referee: dict[str, str]


@pytest.fixture(scope="module")
def api(pg: EmbeddedPostgres) -> Iterator[Admin]:
    settings = Settings(environment="test", log_json=False, database=DatabaseSettings(url=create_database(pg, "admin")))
    engine = make_engine(settings.database)
    pepper = settings.token_pepper.get_secret_value()
    with Session(engine) as session, session.begin():
        _, admin = create_token(session, "admin", "admin", pepper=pepper)
        _, referee = create_token(session, "ref", "referee", [T], pepper=pepper)
    with (
        UvicornThread(create_app(settings, engine=engine)).running() as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
    ):
        yield Admin(client, engine, {"authorization": f"Bearer {admin}"}, {"authorization": f"Bearer {referee}"})
    engine.dispose()


def registration(athletes: int = 4) -> dict[str, object]:
    ids = [f"adm-{i}" for i in range(athletes)]
    return {
        "athletes": [{"athlete_id": a, "full_name": f"Athlete {a}", "country": "FRA", "club": None} for a in ids],
        "tournaments": [
            {
                "tournament_id": T,
                "name": "Admin Cup",
                "tier": "national",
                "start_date": "2026-11-26",
                "end_date": "2026-11-26",
                "status": "live",
                "divisions": [{"division_id": "m-81kg", "name": "Men -81", "category": "m-81kg", "athletes": ids}],
            }
        ],
    }


def test_auth_is_required(api: Admin) -> None:
    r = api.client.post("/v1/athletes", json={"athlete_id": "x", "full_name": "X", "country": "FRA"})
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = api.client.post(
        "/v1/athletes", json={"athlete_id": "x", "full_name": "X", "country": "FRA"}, headers=api.referee
    )
    assert r.status_code == 403


def test_import_is_all_or_nothing_and_lists_every_problem(api: Admin) -> None:
    bad = registration()
    bad["athletes"][0]["country"] = "XXX"  # type: ignore[index]
    bad["tournaments"][0]["divisions"][0]["athletes"].append("ghost")  # type: ignore[index]
    bad["tournaments"][0]["end_date"] = "2026-11-01"  # type: ignore[index]
    r = api.client.post(
        "/v1/registration/import", content=orjson.dumps(bad), headers={**api.admin, "Content-Type": "application/json"}
    )
    assert r.status_code == 422
    problems = r.json()["problems"]
    assert len(problems) >= 3
    assert any("XXX" in p for p in problems) and any("ghost" in p for p in problems)
    with Session(api.engine) as session:
        assert session.scalar(select(func.count()).select_from(Athlete)) == 0
        assert session.scalar(select(func.count()).select_from(Tournament)) == 0

    r = api.client.post(
        "/v1/registration/import", content=b"{not json", headers={**api.admin, "Content-Type": "application/json"}
    )
    # A body that cannot be parsed is a 400 (the one body rule, docs/problems.md); nothing is written.
    assert r.status_code == 400 and r.json()["type"].endswith("/malformed-body")

    r = api.client.post(
        "/v1/registration/import",
        content=orjson.dumps(registration()),
        headers={**api.admin, "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "tournaments": 1,
        "divisions": 1,
        "athletes": 4,
        "bouts": 6,
        "divisions_refreshed": 1,
        "kept_statuses": [],
    }
    doc = api.client.get(f"/v1/tournaments/{T}/divisions/m-81kg/standings").json()
    assert doc["version"] == 1 and len(doc["rows"]) == 4


def test_writes_refresh_the_standings_at_once(api: Admin) -> None:
    url = f"/v1/tournaments/{T}/divisions/m-81kg/standings"
    before = api.client.get(url)
    r = api.client.put(
        "/v1/athletes/adm-1", json={"full_name": "Zoë Müller-Łukasz", "country": "DEU"}, headers=api.admin
    )
    assert r.status_code == 200 and r.json()["status"] == "updated"
    assert r.json()["divisions"] == [
        {"tournament_id": T, "division_id": "m-81kg", "version": before.json()["version"] + 1}
    ]
    after = api.client.get(url, headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200  # read-your-writes on this process, no wait
    row = next(x for x in after.json()["rows"] if x["athlete_id"] == "adm-1")
    assert (row["name"], row["country"]) == ("Zoë Müller-Łukasz", "DEU")

    assert (
        api.client.post(
            "/v1/athletes", json={"athlete_id": "adm-9", "full_name": "New One", "country": "JPN"}, headers=api.admin
        ).status_code
        == 201
    )
    assert (
        api.client.post(
            "/v1/athletes", json={"athlete_id": "adm-9", "full_name": "New One", "country": "JPN"}, headers=api.admin
        ).status_code
        == 409
    )

    r = api.client.post(
        f"/v1/tournaments/{T}/divisions",
        json={"division_id": "w-63kg", "name": "Women -63", "category": "w-63kg", "athletes": ["adm-9", "adm-0"]},
        headers=api.admin,
    )
    assert r.status_code == 201, r.text
    doc = api.client.get(f"/v1/tournaments/{T}/divisions/w-63kg/standings").json()
    assert {x["athlete_id"] for x in doc["rows"]} == {"adm-9", "adm-0"}

    r = api.client.put(
        f"/v1/tournaments/{T}",
        json={
            "name": "Admin Cup 2026",
            "tier": "national",
            "start_date": "2026-11-26",
            "end_date": "2026-11-27",
            "status": "live",
        },
        headers=api.admin,
    )
    assert r.status_code == 200 and len(r.json()["divisions"]) == 2
    assert api.client.get(url).json()["tournament"]["name"] == "Admin Cup 2026"


def test_writes_that_would_corrupt_results_are_refused(api: Admin) -> None:
    bouts = division_bout_list(api.engine, T, "m-81kg")
    scored = bouts[0]
    payload = {"winner": "red", "method": "points", "score": {"red": 3, "blue": 1}}
    apply_results(api.engine, T, "m-81kg", [StoredResult(scored.bout_id, 1, "result", payload, 1)])

    r = api.client.put(
        f"/v1/tournaments/{T}/divisions/m-81kg/bouts/{scored.bout_id}",
        json={"red": scored.blue, "blue": scored.red},
        headers=api.admin,
    )
    assert r.status_code == 409 and "has results" in r.json()["detail"]

    r = api.client.put(
        f"/v1/tournaments/{T}/divisions/m-81kg",
        json={"name": "Men -81", "category": "m-81kg", "athletes": ["adm-0", "adm-1", "adm-2"], "bouts": []},
        headers=api.admin,
    )
    assert r.status_code == 409 and "adm-3" in r.json()["detail"]

    r = api.client.post(
        f"/v1/tournaments/{T}/divisions/m-81kg/bouts",
        json={"bout_id": "extra-1", "red": "adm-0", "blue": "adm-9"},
        headers=api.admin,
    )
    assert r.status_code == 422 and any("not entered" in p for p in r.json()["problems"])
    r = api.client.post(
        f"/v1/tournaments/{T}/divisions/m-81kg/bouts",
        json={"bout_id": "extra-1", "red": "adm-0", "blue": "adm-1", "mat": 3},
        headers=api.admin,
    )
    assert r.status_code == 201, r.text
    assert (
        api.client.post(
            f"/v1/tournaments/{T}/divisions/nope/bouts",
            json={"bout_id": "extra-2", "red": "adm-0", "blue": "adm-1"},
            headers=api.admin,
        ).status_code
        == 404
    )
