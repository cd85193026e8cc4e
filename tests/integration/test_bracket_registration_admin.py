"""Bracket divisions through the admin API: the registration file's validation as problem+json 422
(every problem listed), a created bracket's bouts, a bout write refused on a bracket division, and
no input that is a 500."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.api.app import create_app
from services.core.db.engine import make_engine
from services.core.db.schema import BoutRow
from services.core.db.tokens import create_token
from services.core.settings import DatabaseSettings, Settings
from services.embedded.postgres import EmbeddedPostgres
from tests.read_api_helpers import UvicornThread, create_database

T = "bracket-admin-cup"
ATHLETES = [f"bra-{c}" for c in "ABCDEFGH"]


@pytest.fixture(scope="module")
def api(pg: EmbeddedPostgres) -> Iterator[tuple[httpx.Client, Session]]:
    settings = Settings(environment="test", log_json=False, database=DatabaseSettings(url=create_database(pg, "bradm")))
    engine = make_engine(settings.database)
    with Session(engine) as session, session.begin():
        _, token = create_token(session, "admin", "admin", pepper=settings.token_pepper.get_secret_value())
    headers = {"authorization": f"Bearer {token}"}
    with (
        UvicornThread(create_app(settings, engine=engine)).running() as server,
        httpx.Client(base_url=server.url, timeout=10, headers=headers) as client,
    ):
        athletes = [{"athlete_id": a, "full_name": f"Athlete {a}", "country": "GEO"} for a in ATHLETES]
        tournament = {
            "tournament_id": T,
            "name": "Cup",
            "tier": "open",
            "start_date": "2026-12-01",
            "end_date": "2026-12-01",
        }
        r = client.post(
            "/v1/registration/import", json={"athletes": athletes, "tournaments": [{**tournament, "divisions": []}]}
        )
        assert r.status_code == 200, r.text
        with Session(engine) as session:
            yield client, session
    engine.dispose()


def test_a_division_with_bracket_problems_is_a_422_listing_each(api: tuple[httpx.Client, Session]) -> None:
    client, _ = api
    body = {
        "division_id": "m-60kg",
        "name": "Men -60",
        "category": "m-60kg",
        "format": "elimination",
        "repechage": "olympic",
        "seeds": ["bra-A", "bra-A", "nobody"],
        "pools": [{"pool_id": "A", "athletes": ["bra-B", "bra-C"]}],
    }
    r = client.post(f"/v1/tournaments/{T}/divisions", json=body)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    problems = "\n".join(r.json()["problems"])
    for fragment in (
        "repechage must be one of none, judo, wrestling (got 'olympic')",
        "pools apply only to format pools_then_elimination",
        "seeds: athlete 'bra-A' is at seeds 1 and 2",
        "unknown athlete nobody",
    ):
        assert fragment in problems


def test_put_creates_a_bracket_and_bouts_cannot_be_added_to_it(api: tuple[httpx.Client, Session]) -> None:
    client, session = api
    body = {"name": "Women -52", "category": "w-52kg", "format": "elimination", "repechage": "judo", "seeds": ATHLETES}
    r = client.put(f"/v1/tournaments/{T}/divisions/w-52kg", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "created"
    ids = session.scalars(select(BoutRow.bout_id).where(BoutRow.division_id == "w-52kg").order_by(BoutRow.bout_order))
    assert list(ids) == [
        "w-52kg-r1-b1", "w-52kg-r1-b2", "w-52kg-r1-b3", "w-52kg-r1-b4", "w-52kg-r2-b1", "w-52kg-r2-b2",
        "w-52kg-rep-top-1", "w-52kg-rep-bottom-1", "w-52kg-bronze-top", "w-52kg-bronze-bottom", "w-52kg-final",
    ]  # fmt: skip
    session.rollback()
    r = client.put(f"/v1/tournaments/{T}/divisions/w-52kg", json=body)
    assert r.status_code == 200 and r.json()["status"] == "updated"
    r = client.post(
        f"/v1/tournaments/{T}/divisions/w-52kg/bouts", json={"bout_id": "extra-1", "red": "bra-A", "blue": "bra-B"}
    )
    assert r.status_code == 422
    assert "its bouts come from its draw" in r.json()["problems"][0]


@pytest.mark.parametrize(
    "fields",
    [
        {"format": "elimination", "repechage": "none", "draw": []},
        {"format": "elimination", "repechage": "none", "draw": [None, None, None, None]},
        {"format": "elimination", "repechage": "none", "seeds": []},
        {"format": "elimination", "repechage": "none", "seeds": ["bra-A"], "third_place": None, "advance": 0},
        {"format": "pools_then_elimination", "repechage": "none", "pools": []},
        {
            "format": "pools_then_elimination",
            "repechage": "none",
            "advance": 10**9,
            "pools": [{"pool_id": "A", "athletes": ATHLETES}],
        },
        {"format": "pools_then_elimination", "repechage": 3, "pools": [{"pool_id": "-", "athletes": []}]},
        {"format": "round_robin", "athletes": ATHLETES, "mat": 2},
        {"format": "knockout", "athletes": ATHLETES},
        {"format": "elimination", "repechage": "none", "seeds": ATHLETES, "formats": ["round_robin"]},
    ],
)
def test_no_bracket_input_is_a_500(api: tuple[httpx.Client, Session], fields: dict[str, object]) -> None:
    client, _ = api
    r = client.post(
        f"/v1/tournaments/{T}/divisions", json={"division_id": "x-1", "name": "X", "category": "x", **fields}
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json().get("problems") or r.json().get("errors")  # the file's checks, or the body schema's
