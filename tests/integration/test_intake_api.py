"""The intake API end to end on real components: migrated PostgreSQL 18, tansu, uvicorn over TCP."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from services.core import events
from services.core.auth import Role
from services.core.domain.ruleset import COMBAT_DEFAULT_DATA, RULESETS, ruleset_from_dict
from services.core.http.problems import PROBLEM_MEDIA_TYPE
from tests.chunked_body import oversized_json
from tests.integration.intake_support import D_MEN, D_WOMEN, PEPPER, T_ALPHA, T_BETA, Intake, headers_of, read_message

pytest_plugins = ["tests.integration.intake_fixtures"]

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
RESULT = {"revision": 1, "winner": "red", "method": "points", "score": {"red": 5, "blue": 2}, "duration_s": 240}


@pytest.fixture(scope="module")
def client(intake: Intake) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=intake.url, timeout=10.0) as c:
        yield c


@pytest.fixture
def referee(intake: Intake) -> str:
    return intake.db.token(Role.REFEREE, [T_ALPHA])


@pytest.fixture
def admin(intake: Intake) -> str:
    return intake.db.token(Role.ADMIN)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def results_path(bout: str, tournament: str = T_ALPHA) -> str:
    return f"/v1/tournaments/{tournament}/bouts/{bout}/results"


def assert_problem(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body = resp.json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"] and isinstance(body["title"], str)
    assert body["detail"] and isinstance(body["detail"], str)
    return body


# -- the happy path -----------------------------------------------------------------------------


def test_result_is_accepted_after_delivery_and_is_on_the_topic(intake: Intake, client: httpx.Client, referee: str):
    resp = client.post(results_path("b-a1"), json=RESULT, headers={**bearer(referee), "traceparent": TRACEPARENT})

    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert body["event_id"] == str(events.event_id_for("b-a1", 1))
    assert body["bout_id"] == "b-a1" and body["revision"] == 1
    assert isinstance(body["partition"], int) and isinstance(body["offset"], int)

    msg = read_message(intake.bootstrap, intake.topic, body["partition"], body["offset"])
    assert msg.key() == f"{T_ALPHA}:{D_MEN}".encode()
    headers = headers_of(msg)
    assert headers["traceparent"] == TRACEPARENT.encode()
    assert headers["producer-id"] == b"intake"
    assert headers["event-type"] == b"result_recorded"
    assert headers["schema-version"] == b"1"
    event = events.decode(msg.value())
    assert isinstance(event, events.ResultRecorded)
    assert str(event.event_id) == body["event_id"]
    assert (event.tournament_id, event.division_id, event.bout_id, event.revision) == (T_ALPHA, D_MEN, "b-a1", 1)
    assert event.result.winner == "red" and event.result.method == "points"
    assert (event.result.score.red, event.result.score.blue, event.result.duration_s) == (5, 2, 240)


def test_a_traceparent_is_generated_when_the_request_has_none(intake: Intake, client: httpx.Client, referee: str):
    resp = client.post(results_path("b-a2"), json=RESULT, headers=bearer(referee))
    assert resp.status_code == 202, resp.text
    msg = read_message(intake.bootstrap, intake.topic, resp.json()["partition"], resp.json()["offset"])
    traceparent = headers_of(msg)["traceparent"].decode()
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", traceparent)


def test_identical_repost_is_accepted_again_with_the_same_event_id(client: httpx.Client, referee: str):
    body = {**RESULT, "revision": 5, "referee_id": "ref-1"}
    first = client.post(results_path("b-a1"), json=body, headers=bearer(referee))
    again = client.post(results_path("b-a1"), json=body, headers=bearer(referee))
    assert first.status_code == again.status_code == 202
    assert first.json()["event_id"] == again.json()["event_id"] == str(events.event_id_for("b-a1", 5))
    assert again.json()["offset"] > first.json()["offset"]  # produced again; the projector absorbs it


def test_void_is_accepted_and_on_the_topic(intake: Intake, client: httpx.Client, referee: str):
    resp = client.post(f"/v1/tournaments/{T_ALPHA}/bouts/b-a2/void", json={"revision": 2}, headers=bearer(referee))
    assert resp.status_code == 202, resp.text
    assert resp.json()["event_id"] == str(events.event_id_for("b-a2", 2, "void"))
    msg = read_message(intake.bootstrap, intake.topic, resp.json()["partition"], resp.json()["offset"])
    event = events.decode(msg.value())
    assert isinstance(event, events.ResultVoided) and event.revision == 2
    assert headers_of(msg)["event-type"] == b"result_voided"


def test_finalize_emits_one_event_per_division(intake: Intake, client: httpx.Client):
    ops = intake.db.token(Role.OPS)
    resp = client.post(f"/v1/tournaments/{T_ALPHA}/finalize", headers=bearer(ops))
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert body["tournament_id"] == T_ALPHA
    assert sorted(e["division_id"] for e in body["events"]) == [D_MEN, D_WOMEN]
    for item in body["events"]:
        msg = read_message(intake.bootstrap, intake.topic, item["partition"], item["offset"])
        assert msg.key() == f"{T_ALPHA}:{item['division_id']}".encode()
        event = events.decode(msg.value())
        assert isinstance(event, events.TournamentFinalized)
        assert str(event.event_id) == item["event_id"] and event.division_id == item["division_id"]


# -- validation (422) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"colour": "red"}, "unknown field"),
        ({"method": "draw"}, "draw method with winner red"),
        ({"winner": "draw"}, "draw winner with method points"),
        ({"winner": "none"}, "winner none without no_contest"),
        ({"method": "no_contest"}, "no_contest with winner red"),
        ({"score": {"red": 1000, "blue": 0}}, "score above 999"),
        ({"score": {"red": -1, "blue": 0}}, "negative score"),
        ({"score": {"red": "5", "blue": 0}}, "score as a string"),
        ({"score": {"red": 5.0, "blue": 0}}, "score as a float"),
        ({"score": {"red": 10**40, "blue": 0}}, "huge score"),
        ({"revision": 0}, "revision 0"),
        ({"revision": True}, "revision as a bool"),
        ({"duration_s": 86_401}, "duration over a day"),
        ({"referee_id": "r" * 65}, "referee id too long"),
        ({"winner": "RED"}, "winner in the wrong case"),
        ({"method": "armbar"}, "unknown method"),
    ],
)
def test_invalid_results_are_422(client: httpx.Client, admin: str, change: dict[str, Any], where: str):
    resp = client.post(results_path("b-a1"), json={**RESULT, **change}, headers=bearer(admin))
    body = assert_problem(resp, 422)
    assert body["errors"], where


def test_draw_and_no_contest_pairs_that_agree_are_accepted(client: httpx.Client, admin: str):
    draw = {"revision": 1, "winner": "draw", "method": "draw", "score": {"red": 2, "blue": 2}}
    no_contest = {"revision": 1, "winner": "none", "method": "no_contest", "score": {"red": 0, "blue": 0}}
    assert client.post(results_path("b-a3"), json=draw, headers=bearer(admin)).status_code == 202
    assert client.post(results_path("b-a4"), json=no_contest, headers=bearer(admin)).status_code == 202


# -- the body rule: 400 cannot be parsed, 415 not JSON, 422 does not match the schema --------------


@pytest.mark.parametrize(
    ("content", "content_type", "status", "slug", "detail"),
    [
        (b"{not json", "application/json", 400, "malformed-body", "not valid JSON"),
        (b'{"revision": 1, "winner": "red"', "application/json", 400, "malformed-body", "not valid JSON"),  # truncated
        (b'{"revision": 1, "winner": ', "application/json", 400, "malformed-body", "not valid JSON"),  # truncated
        (b'{"revision": 1, "referee_id": "r\xe9f"}', "application/json", 400, "malformed-body", "not valid UTF-8"),
        (b"\xff\xfe garbage", "application/json", 400, "malformed-body", "not valid JSON"),
        (b"[" * 5000 + b"]" * 5000, "application/json", 400, "malformed-body", "deeper than the JSON parser allows"),
        (b'{"revision": 1' + b"0" * 5000 + b"}", "application/json", 400, "malformed-body", "more digits"),
        (b"", "application/json", 400, "malformed-body", "the request body is empty"),
        (b"[]", "application/json", 422, "validation", "does not match the schema"),
        (b'"text"', "application/json", 422, "validation", "does not match the schema"),
        (b"null", "application/json", 422, "validation", "does not match the schema"),
        (b'{"revision": 1}', "application/json", 422, "validation", "does not match the schema"),
        (b'{"revision": 1}', "text/plain", 415, "unsupported-media-type", "application/json"),
        (b'{"revision": 1}', "application/x-www-form-urlencoded", 415, "unsupported-media-type", "application/json"),
        (b'{"revision": 1}', None, 415, "unsupported-media-type", "application/json"),
    ],
    ids=["malformed", "truncated", "truncated-value", "invalid-utf8", "utf16-bom", "deep", "huge-number", "empty",
         "array", "string", "null", "wrong-shape", "text-plain", "form", "no-content-type"],
)  # fmt: skip
def test_the_body_rule_on_results(
    client: httpx.Client, admin: str, content: bytes, content_type: str | None, status: int, slug: str, detail: str
):
    headers = bearer(admin)
    if content_type:
        headers["Content-Type"] = content_type
    resp = client.post(results_path("b-a1"), content=content, headers=headers)
    body = assert_problem(resp, status)
    assert body["type"] == f"https://standings.example/problems/{slug}"
    assert detail in body["detail"]
    assert ("errors" in body) is (status == 422)


@pytest.mark.parametrize(
    ("content", "status"),
    [(b"{not json", 400), (b'{"revision": 2', 400), (b'{"revision": "\xff"}', 400), (b"", 400), (b"[]", 422)],
)
def test_the_body_rule_on_voids(client: httpx.Client, admin: str, content: bytes, status: int):
    headers = {**bearer(admin), "Content-Type": "application/json"}
    resp = client.post(f"/v1/tournaments/{T_ALPHA}/bouts/b-a1/void", content=content, headers=headers)
    assert_problem(resp, status)


def test_an_unparsable_body_is_refused_before_authentication(client: httpx.Client):
    """FastAPI parses the body before the dependencies run: no token, still the body's 400."""
    resp = client.post(results_path("b-a1"), content=b"{", headers={"Content-Type": "application/json"})
    assert assert_problem(resp, 400)["type"].endswith("/malformed-body")


# -- the tournament's ruleset (422 ruleset-violation) -------------------------------------------------


@pytest.mark.parametrize(
    ("result", "rule", "detail"),
    [
        (
            {"winner": "red", "method": "points", "score": {"red": 0, "blue": 9}},
            "winner_leads",
            "method points requires the winner to lead on technical points (ruleset combat-default rule winner_leads",
        ),
        (
            {"winner": "blue", "method": "technical_superiority", "score": {"red": 4, "blue": 4}},
            "winner_leads",
            "method technical_superiority requires the winner to lead on technical points",
        ),
        (
            {"winner": "draw", "method": "draw", "score": {"red": 1, "blue": 2}},
            "draw_level",
            "method draw requires equal technical points (ruleset combat-default rule draw_level",
        ),
    ],
    ids=["points-behind", "tech-sup-level", "draw-unequal"],
)
def test_a_score_the_ruleset_rules_out_is_422_naming_the_rule(
    client: httpx.Client, admin: str, result: dict[str, Any], rule: str, detail: str
):
    resp = client.post(results_path("b-a3"), json={"revision": 11, **result}, headers=bearer(admin))
    body = assert_problem(resp, 422)
    assert body["type"] == "https://standings.example/problems/ruleset-violation"
    assert (body["ruleset"], body["rule"]) == ("combat-default", rule)
    assert body["detail"].startswith(detail)
    assert "errors" not in body


UNDECIDED_BY_SCORE = ["ko", "tko", "submission", "fall", "disqualification", "walkover", "decision"]


@pytest.mark.parametrize("method", UNDECIDED_BY_SCORE)
def test_methods_the_score_does_not_decide_take_any_score(client: httpx.Client, admin: str, method: str):
    # A revision each: a different payload at a revision this intake accepted is a 409.
    revision = 12 + UNDECIDED_BY_SCORE.index(method)
    body = {"revision": revision, "winner": "red", "method": method, "score": {"red": 0, "blue": 9}}
    assert client.post(results_path("b-a3"), json=body, headers=bearer(admin)).status_code == 202


def test_the_bouts_tournament_ruleset_is_the_one_applied(
    client: httpx.Client, intake: Intake, admin: str, monkeypatch: pytest.MonkeyPatch
):
    """t-beta switched to a ruleset without score rules accepts what combat-default refuses."""
    lenient = ruleset_from_dict({**copy.deepcopy(COMBAT_DEFAULT_DATA), "name": "test-lenient", "score_rules": {}})
    monkeypatch.setitem(RULESETS, lenient.name, lenient)  # the served app runs in this process
    behind = {"winner": "red", "method": "points", "score": {"red": 0, "blue": 9}}
    assert_problem(
        client.post(results_path("b-b1", T_BETA), json={"revision": 30, **behind}, headers=bearer(admin)), 422
    )
    set_ruleset(intake, T_BETA, lenient.name)
    try:
        resp = client.post(results_path("b-b1", T_BETA), json={"revision": 31, **behind}, headers=bearer(admin))
        assert resp.status_code == 202, resp.text
        still = client.post(results_path("b-a3"), json={"revision": 31, **behind}, headers=bearer(admin))
        assert_problem(still, 422)  # t-alpha keeps combat-default
    finally:
        set_ruleset(intake, T_BETA, "combat-default")


def test_a_repost_of_an_applied_result_is_accepted_even_if_the_rule_now_refuses_it(
    client: httpx.Client, intake: Intake, admin: str
):
    """Applied before the rule existed (it is in Kafka and the database): a client retry still gets 202."""
    old = {"winner": "red", "method": "points", "score": {"red": 0, "blue": 9}, "duration_s": None, "referee_id": None}
    intake.db.insert_applied("b-a4", 20, "result", old)
    repost = {"revision": 20, "winner": "red", "method": "points", "score": {"red": 0, "blue": 9}}
    resp = client.post(results_path("b-a4"), json=repost, headers=bearer(admin))
    assert resp.status_code == 202, resp.text
    assert_problem(client.post(results_path("b-a4"), json={**repost, "revision": 21}, headers=bearer(admin)), 422)


def set_ruleset(intake: Intake, tournament: str, ruleset: str) -> None:
    with intake.db.session_factory() as session, session.begin():
        session.execute(
            sa.text("UPDATE tournaments SET ruleset = :r WHERE tournament_id = :t"), {"r": ruleset, "t": tournament}
        )


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/tournaments/Tournoi-été/bouts/b-a1/results", 422),  # not a slug
        (f"/v1/tournaments/{'t' * 65}/bouts/b-a1/results", 422),
        (f"/v1/tournaments/{T_ALPHA}/bouts/{'b' * 65}/results", 422),
        (f"/v1/tournaments/{T_ALPHA}/bouts/бой-1/results", 404),  # a valid id that is not registered
        (f"/v1/tournaments/{T_ALPHA}/bouts/b-a1/results/extra", 404),
        ("/v1/nowhere", 404),
    ],
)
def test_odd_paths_are_4xx_problems(client: httpx.Client, admin: str, path: str, status: int):
    assert_problem(client.post(path, json=RESULT, headers=bearer(admin)), status)


def test_wrong_method_is_a_405_problem(client: httpx.Client, admin: str):
    assert_problem(client.get(results_path("b-a1"), headers=bearer(admin)), 405)


# -- registration (404) -------------------------------------------------------------------------


def test_unknown_bout_is_404(client: httpx.Client, admin: str):
    body = assert_problem(client.post(results_path("b-nope"), json=RESULT, headers=bearer(admin)), 404)
    assert "b-nope" in body["detail"]


def test_bout_of_another_tournament_is_404(client: httpx.Client, intake: Intake):
    both = intake.db.token(Role.REFEREE, [T_ALPHA, T_BETA])
    assert_problem(client.post(results_path("b-b1", T_ALPHA), json=RESULT, headers=bearer(both)), 404)
    latest = {**RESULT, "revision": 40}  # above the revisions of b-b1 other tests accepted
    assert client.post(results_path("b-b1", T_BETA), json=latest, headers=bearer(both)).status_code == 202


def test_finalize_of_unknown_tournament_is_404(client: httpx.Client, admin: str):
    assert_problem(client.post("/v1/tournaments/t-nope/finalize", headers=bearer(admin)), 404)


# -- authentication and authorization (401 / 403) ----------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer stk_not-a-real-token", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 5000, "stk_abc"],
)
def test_missing_or_unknown_token_is_401(client: httpx.Client, authorization: str | None):
    headers = {"Authorization": authorization} if authorization is not None else {}
    resp = client.post(results_path("b-a1"), json=RESULT, headers=headers)
    assert_problem(resp, 401)
    assert resp.headers["www-authenticate"].startswith("Bearer")


def test_revoked_token_is_401(client: httpx.Client, intake: Intake):
    from services.core.db import tokens as token_repo

    with intake.db.session_factory() as session, session.begin():
        token_id, token = token_repo.create_token(session, "revoked", Role.REFEREE, [T_ALPHA], pepper=PEPPER)
    assert intake.db.revoke(token_id)
    assert_problem(client.post(results_path("b-a1"), json=RESULT, headers=bearer(token)), 401)


def test_referee_of_another_tournament_is_403(client: httpx.Client, intake: Intake):
    beta_referee = intake.db.token(Role.REFEREE, [T_BETA])
    assert_problem(client.post(results_path("b-a1"), json=RESULT, headers=bearer(beta_referee)), 403)
    void = f"/v1/tournaments/{T_ALPHA}/bouts/b-a1/void"
    assert_problem(client.post(void, json={"revision": 9}, headers=bearer(beta_referee)), 403)


def test_referee_cannot_finalize(client: httpx.Client, referee: str):
    assert_problem(client.post(f"/v1/tournaments/{T_ALPHA}/finalize", headers=bearer(referee)), 403)


def test_ops_cannot_post_results(client: httpx.Client, intake: Intake):
    ops = intake.db.token(Role.OPS)
    assert_problem(client.post(results_path("b-a1"), json=RESULT, headers=bearer(ops)), 403)


def test_tokens_never_reach_the_logs(client: httpx.Client, intake: Intake, capfd: pytest.CaptureFixture[str]):
    token = intake.db.token(Role.REFEREE, [T_BETA])
    client.post(results_path("b-a1"), json=RESULT, headers=bearer(token))  # 403
    client.post(results_path("b-b1", T_BETA), json={**RESULT, "revision": 41}, headers=bearer(token))  # 202
    client.post(results_path("b-b1", T_BETA), json={"bad": 1}, headers=bearer(token))  # 422
    out, err = capfd.readouterr()
    assert token not in out and token not in err
    assert token[4:] not in out + err


# -- rate limit (429) and body size (413) -------------------------------------------------------


def test_rate_limit_per_token_is_429_with_retry_after(client: httpx.Client, intake: Intake):
    token = intake.db.token(Role.REFEREE, [T_ALPHA])
    burst = intake.settings.intake.rate_limit_burst
    statuses = [
        client.post(results_path("b-nope"), json=RESULT, headers=bearer(token)).status_code for _ in range(burst)
    ]
    assert statuses == [404] * burst  # the burst passes (and finds no bout)

    resp = client.post(results_path("b-nope"), json=RESULT, headers=bearer(token))
    assert_problem(resp, 429)
    assert int(resp.headers["retry-after"]) >= 1

    other = intake.db.token(Role.REFEREE, [T_ALPHA])  # buckets are per token
    assert client.post(results_path("b-nope"), json=RESULT, headers=bearer(other)).status_code == 404


def test_oversized_body_is_413(client: httpx.Client, admin: str, intake: Intake):
    limit = intake.settings.intake.max_body_bytes
    padded = {**RESULT, "referee_id": "x" * (limit + 1)}
    assert_problem(client.post(results_path("b-a1"), json=padded, headers=bearer(admin)), 413)


def test_oversized_chunked_body_is_413(client: httpx.Client, admin: str, intake: Intake):
    limit = intake.settings.intake.max_body_bytes

    headers = {**bearer(admin), "Content-Type": "application/json"}
    resp = client.post(
        results_path("b-a1"), content=oversized_json(b'{"revision": 1, "referee_id": "', limit, 1024), headers=headers
    )
    assert "content-length" not in resp.request.headers
    assert_problem(resp, 413)


# -- conflicts with applied revisions (409) -----------------------------------------------------


def test_different_payload_at_an_applied_revision_is_409(client: httpx.Client, intake: Intake, admin: str):
    applied = {"winner": "blue", "method": "ko", "score": {"red": 0, "blue": 3}, "duration_s": 61, "referee_id": None}
    intake.db.insert_applied("b-a5", 7, "result", applied)

    different = {"revision": 7, "winner": "red", "method": "ko", "score": {"red": 3, "blue": 0}, "duration_s": 61}
    body = assert_problem(client.post(results_path("b-a5"), json=different, headers=bearer(admin)), 409)
    assert body["applied_revision"] == 7
    assert "revision 8" in body["detail"]

    same = {"revision": 7, "winner": "blue", "method": "ko", "score": {"red": 0, "blue": 3}, "duration_s": 61}
    resp = client.post(results_path("b-a5"), json=same, headers=bearer(admin))
    assert resp.status_code == 202, resp.text
    assert resp.json()["event_id"] == str(events.event_id_for("b-a5", 7))

    assert client.post(results_path("b-a5"), json={**same, "revision": 8}, headers=bearer(admin)).status_code == 202


def test_revision_below_the_applied_one_is_409(client: httpx.Client, intake: Intake, admin: str):
    intake.db.insert_applied("b-a6", 4, "void", {})
    stale = {**RESULT, "revision": 3}
    body = assert_problem(client.post(results_path("b-a6"), json=stale, headers=bearer(admin)), 409)
    assert body["applied_revision"] == 4

    void = f"/v1/tournaments/{T_ALPHA}/bouts/b-a6/void"
    assert client.post(void, json={"revision": 4}, headers=bearer(admin)).status_code == 202  # identical repost
    assert_problem(client.post(results_path("b-a6"), json={**RESULT, "revision": 4}, headers=bearer(admin)), 409)


# -- health, metrics, OpenAPI -------------------------------------------------------------------


def test_health_endpoints(client: httpx.Client):
    assert client.get("/livez").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready"}


def test_metrics_use_route_templates(client: httpx.Client, referee: str):
    client.post(results_path("b-nope"), json=RESULT, headers=bearer(referee))
    text = client.get("/metrics").text
    assert 'route="/v1/tournaments/{t}/bouts/{b}/results"' in text
    assert "b-nope" not in text
    assert "standings_producer_delivery_seconds_count" in text


def test_openapi_documents_every_route(client: httpx.Client):
    spec = client.get("/openapi.json").json()
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            assert op.get("summary"), f"{method} {path} has no summary"
            if method == "post":
                assert "202" in op["responses"]
                for status in ("401", "403", "404", "409", "422", "429", "503"):
                    problem = op["responses"][status]["content"]["application/problem+json"]
                    examples = [e["value"] for e in problem["examples"].values()] if "examples" in problem else []
                    for example in examples or [problem["example"]]:
                        assert example["status"] == int(status)
            if path.endswith("/results"):
                examples = op["responses"]["422"]["content"]["application/problem+json"]["examples"]
                assert examples["ruleset-violation"]["value"]["rule"] == "winner_leads"
            if "requestBody" in op:
                for status, slug in (("400", "malformed-body"), ("415", "unsupported-media-type")):
                    example = op["responses"][status]["content"]["application/problem+json"]["example"]
                    assert example["type"].endswith(f"/{slug}"), (method, path, status)
