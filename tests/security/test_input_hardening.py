"""Regression tests for what fuzzing both APIs found: each input here was a 500, an accepted
request that could never be stored, or a response the OpenAPI document did not describe.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema_rs
import pytest
from pydantic import ValidationError

from services.core.domain.results import Method, Winner
from services.core.http.problems import PROBLEM_MEDIA_TYPE
from services.intake.schemas import ResultIn
from tests.security.stack import D, SecurityStack, T, bout_id, openapi_document

pytestmark = pytest.mark.timeout(120)

RESULT = {"revision": 1, "winner": "red", "method": "points", "score": {"red": 5, "blue": 2}}


@pytest.fixture(scope="module")
def api(stack: SecurityStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api.url, timeout=15, headers=stack.bearer("admin")) as client:
        yield client


@pytest.fixture(scope="module")
def intake(stack: SecurityStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.intake.url, timeout=15, headers=stack.bearer("admin")) as client:
        yield client


def assert_422(resp: httpx.Response) -> dict[str, Any]:
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body: dict[str, Any] = resp.json()
    return body


# -- were 500s --------------------------------------------------------------------------------------


def test_as_of_offset_beyond_a_kafka_offset_is_422(api: httpx.Client) -> None:
    """Offsets are signed 64-bit: 2**63 overflowed PostgreSQL's bigint comparison."""
    url = f"/v1/tournaments/{T}/divisions/{D}/standings"
    assert api.get(url, params={"as_of_offset": 2**63 - 1}).status_code == 200
    assert_422(api.get(url, params={"as_of_offset": 2**63}))


def test_round_robin_ids_longer_than_a_bout_id_are_a_listed_problem(api: httpx.Client) -> None:
    """ "{t}-{d}-NNN" for a 64-character tournament id overflowed the 64-character bout id."""
    long_id = "t" * 64
    created = api.post(
        "/v1/tournaments",
        json={
            "tournament_id": long_id,
            "name": "Long",
            "tier": "open",
            "start_date": "2026-11-26",
            "end_date": "2026-11-26",
        },
    )
    assert created.status_code == 201, created.text
    athletes = [f"{T}-{D}-a01", f"{T}-{D}-a02"]
    body = assert_422(
        api.post(
            f"/v1/tournaments/{long_id}/divisions",
            json={"division_id": "m-60kg", "name": "M", "category": "m-60kg", "athletes": athletes},
        )
    )
    assert "would exceed 64 characters" in body["problems"][0]
    explicit = {"bout_id": "long-1", "red": athletes[0], "blue": athletes[1]}
    listed = {"division_id": "m-60kg", "name": "M", "category": "m-60kg", "athletes": athletes, "bouts": [explicit]}
    assert api.post(f"/v1/tournaments/{long_id}/divisions", json=listed).status_code == 201


def test_an_audit_sample_beyond_one_search_page_is_422(stack: SecurityStack, api: httpx.Client) -> None:
    """Elasticsearch refuses pages beyond index.max_result_window (10 000): the audit was a 500."""
    assert api.get("/v1/ops/audit", params={"sample": 10_000}).status_code == 200
    assert_422(api.get("/v1/ops/audit", params={"sample": 10_001}))


@pytest.mark.parametrize("order", [2**31, 2**64])
def test_a_bout_order_beyond_the_column_is_422(api: httpx.Client, order: int) -> None:
    """bouts.bout_order is a 32-bit integer: larger was a DataError, beyond 2**64 an encoder TypeError."""
    body = {"bout_id": f"ord-{order}", "red": f"{T}-{D}-a01", "blue": f"{T}-{D}-a02", "order": order}
    assert_422(api.post(f"/v1/tournaments/{T}/divisions/{D}/bouts", json=body))


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", f"/v1/athletes/{T}-{D}-a01", {"full_name": "Ōno\x00", "country": "JPN"}),
        ("PUT", f"/v1/athletes/{T}-{D}-a01", {"full_name": "Ōno Shōhei", "country": "JPN", "club": "\x00"}),
        ("PUT", f"/v1/tournaments/{T}", {"name": "Cup\x00", "tier": "open", "start_date": "2026-11-26", "end_date": "2026-11-27"}),
        ("POST", f"/v1/tournaments/{T}/divisions", {"division_id": "nul", "name": "\x00", "category": "nul", "athletes": []}),
        ("GET", "/v1/ops/reindex/job%00", None),
        ("GET", "/v1/ops/consumers?lag=false&group=g%00", None),
    ],
    ids=["athlete-name", "athlete-club", "tournament-name", "division-name", "reindex-job", "consumer-group"],
)  # fmt: skip
def test_nul_in_text_is_422_on_the_read_api(api: httpx.Client, method: str, path: str, body: Any) -> None:
    """PostgreSQL text cannot hold NUL: these were psycopg DataErrors (500)."""
    assert_422(api.request(method, path, json=body))


def test_nul_in_a_bout_id_is_422_on_the_intake(intake: httpx.Client) -> None:
    assert_422(intake.post(f"/v1/tournaments/{T}/bouts/b%00x/results", json=RESULT))


def test_nul_in_a_referee_id_is_refused_before_it_reaches_the_topic(intake: httpx.Client) -> None:
    """Was a 202: an event the projector could never store (PostgreSQL jsonb refuses \\u0000)."""
    body = assert_422(
        intake.post(f"/v1/tournaments/{T}/bouts/{bout_id(T, D, 4)}/results", json={**RESULT, "referee_id": "r\x00"})
    )
    assert body["errors"][0]["loc"] == ["body", "referee_id"]


# -- the body rule, on both apps: 400 cannot be parsed, 415 not JSON, 422 does not match the schema ------

BODY_CASES = [
    pytest.param(b"{not json", "application/json", 400, "malformed-body", id="malformed"),
    pytest.param(b'{"name": "Cup", "tier": ', "application/json", 400, "malformed-body", id="truncated"),
    pytest.param(b'{"name": "Caf\xe9"}', "application/json", 400, "malformed-body", id="invalid-utf8"),
    pytest.param(b"[" * 5000 + b"]" * 5000, "application/json", 400, "malformed-body", id="deep"),
    pytest.param(b"", "application/json", 400, "malformed-body", id="empty"),
    pytest.param(b"[1, 2]", "application/json", 422, "validation", id="wrong-shape"),
    pytest.param(b'{"nope": true}', "application/json", 422, "validation", id="wrong-fields"),
    pytest.param(b'{"name": "Cup"}', "text/plain", 415, "unsupported-media-type", id="text-plain"),
]
# One operation of each kind that takes a body: intake result and void, read API create and replace.
BODY_TARGETS = [
    pytest.param("intake", "POST", f"/v1/tournaments/{T}/bouts/{bout_id(T, D, 5)}/results", id="intake-result"),
    pytest.param("intake", "POST", f"/v1/tournaments/{T}/bouts/{bout_id(T, D, 5)}/void", id="intake-void"),
    pytest.param("api", "POST", "/v1/tournaments", id="api-create-tournament"),
    pytest.param("api", "PUT", f"/v1/athletes/{T}-{D}-a01", id="api-put-athlete"),
    pytest.param("api", "POST", f"/v1/tournaments/{T}/divisions/{D}/bouts", id="api-create-bout"),
]


@pytest.mark.parametrize(("app", "method", "path"), BODY_TARGETS)
@pytest.mark.parametrize(("content", "content_type", "status", "slug"), BODY_CASES)
def test_the_body_rule_holds_on_both_apps(
    api: httpx.Client,
    intake: httpx.Client,
    app: str,
    method: str,
    path: str,
    content: bytes,
    content_type: str,
    status: int,
    slug: str,
) -> None:
    client = intake if app == "intake" else api
    resp = client.request(method, path, content=content, headers={"Content-Type": content_type})
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = resp.json()
    assert body["type"] == f"https://standings.example/problems/{slug}", body
    assert body["status"] == status and body["title"] and body["detail"]
    assert bool(body.get("errors")) is (status == 422), body  # schema errors only for a schema violation


@pytest.mark.parametrize(("content", "content_type", "status", "slug"), [p for p in BODY_CASES if p.values[2] != 422])
def test_the_body_rule_holds_on_the_registration_import(
    api: httpx.Client, content: bytes, content_type: str, status: int, slug: str
) -> None:
    resp = api.post("/v1/registration/import", content=content, headers={"Content-Type": content_type})
    assert (resp.status_code, resp.json()["type"]) == (status, f"https://standings.example/problems/{slug}")


@pytest.mark.parametrize("app", ["intake", "api"])
def test_every_operation_with_a_body_documents_the_body_rule(app: str) -> None:
    doc = openapi_document(app)
    with_body = [(m, p, op) for p, ms in doc["paths"].items() for m, op in ms.items() if "requestBody" in op]
    assert with_body
    for method, path, operation in with_body:
        assert {"400", "415", "422"} <= set(operation["responses"]), (method, path)


def test_a_result_the_ruleset_rules_out_is_a_422_naming_the_rule(intake: httpx.Client) -> None:
    """Was a 202: a points win for the side 0 : 9 behind."""
    behind = {"revision": 1, "winner": "red", "method": "points", "score": {"red": 0, "blue": 9}}
    body = assert_422(intake.post(f"/v1/tournaments/{T}/bouts/{bout_id(T, D, 6)}/results", json=behind))
    assert body["type"] == "https://standings.example/problems/ruleset-violation"
    assert (body["ruleset"], body["rule"]) == ("combat-default", "winner_leads")
    assert "method points requires the winner to lead on technical points" in body["detail"]


# -- coercions the schema does not describe (were accepted) ------------------------------------------


@pytest.mark.parametrize(
    "change",
    [{"start_date": 0}, {"start_date": "0"}, {"end_date": "2026-11-27T00:00:00"}, {"tier": None}],
    ids=["int-date", "numeric-string-date", "datetime-date", "null-tier"],
)
def test_registration_dates_are_iso_strings(api: httpx.Client, change: dict[str, Any]) -> None:
    """A lax date read 0 (or "0") as 1970-01-01."""
    doc = {"tournament_id": "coerce", "name": "C", "tier": "open", "start_date": "2026-11-26", "end_date": "2026-11-27"}
    assert_422(api.post("/v1/tournaments", json={**doc, **change}))
    assert_422(api.post("/v1/registration/import", json={"tournaments": [{**doc, **change, "divisions": []}]}))


@pytest.mark.parametrize("mat", ["3", True, 3.0], ids=["string", "bool", "float"])
def test_registration_integers_are_json_integers(api: httpx.Client, mat: Any) -> None:
    body = {"red": f"{T}-{D}-a01", "blue": f"{T}-{D}-a02", "mat": mat}
    assert_422(api.put(f"/v1/tournaments/{T}/divisions/{D}/bouts/{bout_id(T, D, 1)}", json=body))


# -- the OpenAPI documents describe what is served -----------------------------------------------------


@pytest.mark.parametrize("app", ["intake", "api"])
def test_every_error_response_is_documented_as_problem_json(app: str) -> None:
    doc = openapi_document(app)
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == [PROBLEM_MEDIA_TYPE], (method, path, status)
                    ref = response["content"][PROBLEM_MEDIA_TYPE]["schema"]["$ref"]
                    assert ref.endswith("/Problem"), (method, path, status, ref)


@pytest.mark.parametrize("app", ["intake", "api"])
def test_authenticated_operations_declare_the_bearer_scheme_and_401(app: str) -> None:
    doc = openapi_document(app)
    assert doc["components"]["securitySchemes"]["bearerToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["bearerToken"]["description"],
    }
    secured = [
        (method, path, operation)
        for path, methods in doc["paths"].items()
        for method, operation in methods.items()
        if operation.get("security")
    ]
    for method, path, operation in secured:
        assert operation["security"] == [{"bearerToken": []}], (method, path)
        assert {"401", "403"} <= set(operation["responses"]), (method, path)
    must_authenticate = {
        (method, path)
        for path, methods in doc["paths"].items()
        for method, operation in methods.items()
        if path.startswith("/v1/ops/") or "admin" in operation.get("tags", []) or (method == "post" and app == "intake")
    }
    assert must_authenticate and must_authenticate <= {(method, path) for method, path, _ in secured}


def test_the_documented_consumers_endpoint_is_served(stack: SecurityStack) -> None:
    """docs/operations.md promises GET /v1/ops/consumers; its router was never included in the app."""
    resp = httpx.get(
        f"{stack.api.url}/v1/ops/consumers", params={"lag": "false"}, headers=stack.bearer("ops"), timeout=15
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["group"] == stack.settings.projector.group_id


def test_the_result_schema_states_the_winner_method_rule() -> None:
    """The OpenAPI ``oneOf`` and the domain's check agree on every winner/method pair."""
    validator = jsonschema_rs.validator_for(ResultIn.model_json_schema())
    for winner, method in itertools.product(Winner, Method):
        body = {**RESULT, "winner": winner.value, "method": method.value}
        try:
            ResultIn.model_validate(body)
            accepted = True
        except ValidationError:
            accepted = False
        assert validator.is_valid(body) is accepted, (winner, method)
