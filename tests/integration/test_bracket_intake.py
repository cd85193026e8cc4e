"""The intake for bracket bouts (SPEC §7), on real PostgreSQL and tansu: a result for a bout whose
slots are open is a 409 naming the open slot, a bye a 409 saying there is no bout; a result for a
bout whose athletes are known is a 202 whose event carries them. Voids need no athletes."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from services.core import events
from services.core.auth import Role
from services.core.db import projection
from services.core.domain.ruleset import RULESETS
from tests.integration.intake_support import Intake, read_message
from tests.integration.test_bracket_projection import bracket_registration

pytest_plugins = ["tests.integration.intake_fixtures"]

T = "brk-intake"
WIN = {"revision": 1, "winner": "red", "method": "ko", "score": {"red": 0, "blue": 0}}


@pytest.fixture(scope="module")
def client(intake: Intake) -> Iterator[httpx.Client]:
    # Bout ids are global: the division with byes is "e" (bouts e-r1-b1, ...).
    for draw, t, d in ((None, T, "d"), (["A", None, "D", "E", "B", None, "C", None], f"{T}-byes", "e")):
        reg = bracket_registration(t, d, seeds=None if draw else list("ABCDEFGH"), draw=draw)
        with intake.db.session_factory() as session, session.begin():
            reg.insert(session)
            projection.recompute_standings(session, [(t, d)], {(t, d): RULESETS["combat-default"]})
    with httpx.Client(base_url=intake.url, timeout=10.0) as c:
        yield c


def post(client: httpx.Client, intake: Intake, t: str, bout: str, body: dict[str, object], what: str = "results"):  # type: ignore[no-untyped-def]
    token = intake.db.token(Role.REFEREE, [t])
    return client.post(
        f"/v1/tournaments/{t}/bouts/{bout}/{what}", json=body, headers={"Authorization": f"Bearer {token}"}
    )


def test_a_bout_waiting_for_its_athletes_is_a_409_naming_the_open_slot(intake: Intake, client: httpx.Client) -> None:
    resp = post(client, intake, T, "d-r2-b1", WIN)
    assert resp.status_code == 409, resp.text
    body = resp.json()
    assert body["detail"] == (
        "d-r2-b1: red slot waits for the winner of d-r1-b1; blue slot waits for the winner of d-r1-b2"
    )
    assert body["waiting_for"] == "red slot waits for the winner of d-r1-b1; blue slot waits for the winner of d-r1-b2"


def test_a_bye_is_a_409_saying_there_is_no_bout(intake: Intake, client: httpx.Client) -> None:
    resp = post(client, intake, f"{T}-byes", "e-r1-b1", WIN)
    assert resp.status_code == 409, resp.text
    assert resp.json()["detail"] == "e-r1-b1 is a bye: there is no bout to record"


def test_a_bout_with_both_athletes_is_accepted_and_its_event_names_them(intake: Intake, client: httpx.Client) -> None:
    resp = post(client, intake, T, "d-r1-b2", WIN)
    assert resp.status_code == 202, resp.text
    body = resp.json()
    event = events.decode(read_message(intake.bootstrap, intake.topic, body["partition"], body["offset"]).value())
    assert isinstance(event, events.ResultRecorded)
    assert (event.red_athlete_id, event.blue_athlete_id) == ("D", "E")
    assert (event.tournament_id, event.division_id, event.bout_id) == (T, "d", "d-r1-b2")


def test_a_void_needs_no_athletes(intake: Intake, client: httpx.Client) -> None:
    resp = post(client, intake, T, "d-r2-b2", {"revision": 1}, "void")
    assert resp.status_code == 202, resp.text
    body = resp.json()
    event = events.decode(read_message(intake.bootstrap, intake.topic, body["partition"], body["offset"]).value())
    assert isinstance(event, events.ResultVoided)
