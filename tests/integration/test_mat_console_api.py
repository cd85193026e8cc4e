"""The mat-table console's bouts endpoint and page on real PostgreSQL and tansu: bout order with the
next bout to enter marked, the latest revision (applied, or accepted and on its way), a bracket bout's
open slot, the ruleset's rules as data; 401/403/404/422 as problem+json; a second device's different
result for an accepted revision is a 409 ``conflicting_revision`` before the projector applied it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from services.core import events
from services.core.auth import Role
from services.core.db import projection
from services.core.domain.ruleset import RULESETS
from tests.integration.intake_support import T_ALPHA, T_BETA, Intake
from tests.integration.test_bracket_projection import bracket_registration

pytest_plugins = ["tests.integration.intake_fixtures"]

T_BRK = "mat-brk"
# t-alpha on mat 1, in this bout order (b-a6 moves to mat 2)
ORDER = {"b-a3": 1, "b-a1": 2, "b-a5": 3, "b-a2": 4, "b-a4": 5}


@pytest.fixture(scope="module")
def client(intake: Intake) -> Iterator[httpx.Client]:
    reg = bracket_registration(T_BRK, "d", seeds=list("ABCDEFGH"))
    with intake.db.session_factory() as session, session.begin():
        reg.insert(session)
        projection.recompute_standings(session, [(T_BRK, "d")], {(T_BRK, "d"): RULESETS["combat-default"]})
        for bout, order in ORDER.items():
            session.execute(sa.text("UPDATE bouts SET bout_order = :o WHERE bout_id = :b"), {"o": order, "b": bout})
        session.execute(sa.text("UPDATE bouts SET mat = 2 WHERE bout_id = 'b-a6'"))
    with httpx.Client(base_url=intake.url, timeout=10.0) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def problem(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = resp.json()
    assert body["status"] == status
    return body


def bouts(client: httpx.Client, intake: Intake, t: str, mat: int = 1) -> dict[str, Any]:
    resp = client.get(f"/v1/tournaments/{t}/mats/{mat}/bouts", headers=bearer(intake.db.token(Role.REFEREE, [t])))
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def test_bouts_in_order_with_the_next_marked_and_the_latest_revision(client: httpx.Client, intake: Intake) -> None:
    intake.db.insert_applied("b-a3", 1, "result", {"winner": "red", "method": "ko", "score": {"red": 0, "blue": 0}})
    body = bouts(client, intake, T_ALPHA)
    listed = body["bouts"]
    assert isinstance(listed, list)
    assert [b["bout_id"] for b in listed] == ["b-a3", "b-a1", "b-a5", "b-a2", "b-a4"]
    first, second = listed[0], listed[1]
    assert first["status"] == "decided" and first["next_revision"] == 2 and not first["is_next"]
    assert first["latest"] == {
        "revision": 1,
        "kind": "result",
        "winner": "red",
        "method": "ko",
        "score": {"red": 0, "blue": 0},
        "duration_s": None,
        "source": "applied",
    }
    assert body["next_bout_id"] == "b-a1" and second["is_next"] and second["next_revision"] == 1
    assert second["red"] == {"athlete_id": "a1", "full_name": "Ōno Shōhei", "country": "JPN"}
    assert second["blue"] == {"athlete_id": "a2", "full_name": "Zoë Müller-Łukasz", "country": "POL"}
    assert (second["division_id"], second["phase"], second["round"]) == ("m-73kg", None, None)
    rules = body["rules"]
    assert isinstance(rules, dict)
    assert rules["ruleset"] == "combat-default"
    assert [r["rule"] for r in rules["score_rules"]] == ["winner_leads", "draw_level"]
    assert [b["bout_id"] for b in bouts(client, intake, T_ALPHA, 2)["bouts"]] == ["b-a6"]


def test_an_accepted_result_is_the_latest_before_it_is_applied(client: httpx.Client, intake: Intake) -> None:
    token = intake.db.token(Role.REFEREE, [T_ALPHA])
    mine = {"revision": 1, "winner": "blue", "method": "points", "score": {"red": 1, "blue": 4}}
    theirs = {"revision": 1, "winner": "red", "method": "ko", "score": {"red": 0, "blue": 0}}
    path = f"/v1/tournaments/{T_ALPHA}/bouts/b-a2/results"
    first = client.post(path, json=mine, headers=bearer(token))
    assert first.status_code == 202, first.text
    assert client.post(path, json=mine, headers=bearer(token)).json()["event_id"] == str(events.event_id_for("b-a2", 1))
    body = problem(client.post(path, json=theirs, headers=bearer(token)), 409)  # the second tablet
    assert body["reason"] == "conflicting_revision" and body["applied_revision"] == 1
    later = f"/v1/tournaments/{T_ALPHA}/bouts/b-a4/results"
    assert client.post(later, json={**theirs, "revision": 2}, headers=bearer(token)).status_code == 202
    stale = problem(client.post(later, json=theirs, headers=bearer(token)), 409)
    assert stale["reason"] == "stale_revision" and stale["applied_revision"] == 2
    listed = {b["bout_id"]: b for b in bouts(client, intake, T_ALPHA)["bouts"]}
    assert listed["b-a2"]["latest"]["source"] == "accepted"
    assert (listed["b-a2"]["latest"]["winner"], listed["b-a2"]["next_revision"]) == ("blue", 2)


def test_a_bracket_bout_shows_its_slots_and_what_an_open_slot_waits_for(client: httpx.Client, intake: Intake) -> None:
    listed = {b["bout_id"]: b for b in bouts(client, intake, T_BRK)["bouts"]}
    final = next(b for b in listed.values() if b["phase"] == "final")
    assert final["red"] is None and final["blue"] is None and final["status"] == "waiting"
    assert "waits for the winner of" in final["waiting_for"]
    opening = listed["d-r1-b1"]
    assert (opening["phase"], opening["round"], opening["status"]) == ("main", 1, "open")
    assert opening["red"]["athlete_id"] == "A" and opening["blue"]["athlete_id"] == "H"


def test_auth_failures_and_unknown_input_are_problem_json(client: httpx.Client, intake: Intake) -> None:
    path = f"/v1/tournaments/{T_ALPHA}/mats/1/bouts"
    assert problem(client.get(path), 401)
    assert problem(client.get(path, headers=bearer("stk_nope")), 401)
    assert problem(client.get(path, headers=bearer(intake.db.token(Role.REFEREE, [T_BETA]))), 403)
    admin = bearer(intake.db.token(Role.ADMIN))
    assert problem(client.get("/v1/tournaments/no-such/mats/1/bouts", headers=admin), 404)
    assert problem(client.get(f"/v1/tournaments/{T_ALPHA}/mats/0/bouts", headers=admin), 422)
    assert problem(client.get(f"/v1/tournaments/{T_ALPHA}/mats/x/bouts", headers=admin), 422)


def test_the_console_page_404s_for_an_unknown_tournament_and_422s_for_a_bad_mat(client: httpx.Client) -> None:
    page = client.get(f"/mat/{T_ALPHA}/1")
    assert page.status_code == 200 and '"mat":1' in page.text and 'lang="en"' in page.text
    assert problem(client.get("/mat/no-such/1"), 404)
    assert problem(client.get(f"/mat/{T_ALPHA}/101"), 422)
    assert problem(client.get(f"/mat/{T_ALPHA}/one"), 422)
