"""The intake's bout-write fast path on fakes: what it serves itself, and that everything else reaches
the FastAPI route untouched (the same body messages, no rate-limit token taken)."""

from __future__ import annotations

import asyncio
import json
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.types import Message, Receive, Scope, Send

from services.core.auth import Principal, Role
from services.core.errors import Conflict, ServiceUnavailable
from services.core.http.problems import install_problem_handlers
from services.core.http.ratelimit import TokenBucketLimiter
from services.intake.fastpath import BoutWriteFastPath, BoutWriteRoute
from services.intake.paths import BOUT_RESULTS, BOUT_VOID
from services.intake.schemas import AcceptedOut, ResultIn, VoidIn

RESULT = {"revision": 1, "winner": "red", "method": "points", "score": {"red": 3, "blue": 1}}
EVENT_ID = uuid.UUID("0f8e0c52-6d5b-5c1e-9a57-3c1b2d4e5f60")
TOKENS = {
    "stk_referee": Principal("tok-r", Role.REFEREE, frozenset({"t1"})),
    "stk_ops": Principal("tok-o", Role.OPS),
}


class FakeAuthenticator:
    def __init__(self, down: bool = False) -> None:
        self.down = down

    async def authenticate(self, token: str) -> Principal | None:
        if self.down:
            raise ServiceUnavailable("cannot check the token right now; the database is unavailable", 2)
        return TOKENS.get(token)


class Harness:
    """The fast path in front of a spy standing for the FastAPI route stack."""

    def __init__(self, *, raises: Exception | None = None, burst: int = 5, down: bool = False) -> None:
        self.routed: list[list[Message]] = []  # the body messages each routed request received
        self.use_cases: list[tuple[str, str, Any, str | None]] = []
        self.raises = raises
        self.limiter = TokenBucketLimiter(0.001, burst)
        ctx = SimpleNamespace(authenticator=FakeAuthenticator(down), rate_limiter=self.limiter)
        self.app = FastAPI()  # only for its state and the product's exception handlers
        self.app.state.ctx = ctx
        install_problem_handlers(self.app)
        routes = [APIRoute(t.path, lambda: None, methods=["POST"]) for t in (BOUT_RESULTS, BOUT_VOID)]
        writes = [
            BoutWriteRoute(BOUT_RESULTS, ResultIn, self.use_case, routes[0]),
            BoutWriteRoute(BOUT_VOID, VoidIn, self.use_case, routes[1]),
        ]
        self.fast = BoutWriteFastPath(self.routed_app, writes)

    async def use_case(self, _ctx: Any, t: str, b: str, body: Any, traceparent: str | None) -> AcceptedOut:
        self.use_cases.append((t, b, body, traceparent))
        if self.raises is not None:
            raise self.raises
        return AcceptedOut(event_id=EVENT_ID, partition=2, offset=7, bout_id=b, revision=body.revision)

    async def routed_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        messages = []
        while True:
            message = await receive()
            messages.append(message)
            if not message.get("more_body"):
                break
        self.routed.append(messages)
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"routed"})

    def tokens_left(self, token_id: str) -> float:
        return self.limiter._buckets[token_id].tokens if token_id in self.limiter._buckets else self.limiter.burst

    def post(self, path: str, body: bytes | dict[str, Any], **headers: str) -> tuple[int, dict[str, str], bytes]:
        raw = json.dumps(body).encode() if isinstance(body, dict) else body
        hdrs = {"content-type": "application/json", **headers}
        chunks = [raw[:5], raw[5:]]  # two body messages: both must reach the route
        scope = {
            "type": "http",
            "method": "POST",
            "path": path,
            "query_string": b"",
            "headers": [(k.lower().encode(), v.encode()) for k, v in hdrs.items()],
            "app": self.app,
        }
        inbox = [
            {"type": "http.request", "body": chunks[0], "more_body": True},
            {"type": "http.request", "body": chunks[1], "more_body": False},
        ]
        sent: list[Message] = []

        async def receive() -> Message:
            return inbox.pop(0) if inbox else {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            sent.append(message)

        asyncio.run(self.fast(scope, receive, send))
        start = sent[0]
        headers_out = {k.decode(): v.decode() for k, v in start["headers"]}
        return start["status"], headers_out, b"".join(m.get("body", b"") for m in sent[1:])


REFEREE = {"authorization": "Bearer stk_referee"}


def test_a_valid_result_is_served_by_the_fast_path_with_the_route_for_the_metrics() -> None:
    h = Harness()
    status, headers, body = h.post("/v1/tournaments/t1/bouts/b-1/results", RESULT, traceparent="00-ab-cd-01", **REFEREE)
    assert status == 202 and headers["content-type"] == "application/json"
    assert json.loads(body) == {
        "event_id": str(EVENT_ID),
        "partition": 2,
        "offset": 7,
        "bout_id": "b-1",
        "revision": 1,
    }
    assert h.routed == []
    [(t, b, posted, trace)] = h.use_cases
    assert (t, b, trace) == ("t1", "b-1", "00-ab-cd-01") and isinstance(posted, ResultIn)
    assert h.tokens_left("tok-r") == 4  # one rate-limit token, as the route takes


def test_a_void_is_served_by_the_fast_path() -> None:
    h = Harness()
    status, _, body = h.post("/v1/tournaments/t1/bouts/b-1/void", {"revision": 2}, **REFEREE)
    assert status == 202 and json.loads(body)["revision"] == 2
    assert h.routed == [] and isinstance(h.use_cases[0][2], VoidIn)


@pytest.mark.parametrize(
    ("path", "body", "headers"),
    [
        pytest.param("/v1/tournaments/t1/bouts/b-1/results", RESULT, {}, id="no token"),
        pytest.param("/v1/tournaments/t1/bouts/b-1/results", RESULT, {"authorization": "Bearer stk_x"}, id="unknown"),
        pytest.param("/v1/tournaments/t2/bouts/b-1/results", RESULT, REFEREE, id="other tournament"),
        pytest.param("/v1/tournaments/t1/bouts/b-1/results", RESULT, {"authorization": "Bearer stk_ops"}, id="ops"),
        pytest.param(
            "/v1/tournaments/t1/bouts/b-1/results", RESULT, {**REFEREE, "content-type": "text/plain"}, id="not json"
        ),
        pytest.param("/v1/tournaments/t1/bouts/b-1/results", b'{"revision": 1,', REFEREE, id="malformed"),
        pytest.param("/v1/tournaments/t1/bouts/b-1/results", b"\xff\xfe\x00", REFEREE, id="not utf-8"),
        pytest.param("/v1/tournaments/t1/bouts/b-1/results", {**RESULT, "method": "draw"}, REFEREE, id="schema"),
        pytest.param("/v1/tournaments/t1/bouts/b-1/results", {**RESULT, "extra": 1}, REFEREE, id="unknown field"),
        pytest.param("/v1/tournaments/t1/bouts/b-1/results", {**RESULT, "revision": True}, REFEREE, id="bool"),
        pytest.param("/v1/tournaments/t1/bouts/b-1/void", RESULT, REFEREE, id="result body on void"),
        pytest.param("/v1/tournaments/T1/bouts/b-1/results", RESULT, REFEREE, id="bad slug"),
        pytest.param("/v1/tournaments/t1/bouts/" + "b" * 65 + "/results", RESULT, REFEREE, id="long bout id"),
        pytest.param("/v1/tournaments/t1/bouts/b\x00/results", RESULT, REFEREE, id="nul in bout id"),
        pytest.param("/v1/tournaments/t1/bouts/b-1/results/", RESULT, REFEREE, id="trailing slash"),
    ],
)
def test_every_refusal_falls_through_to_the_route_with_the_body_and_no_token_taken(
    path: str, body: bytes | dict[str, Any], headers: dict[str, str]
) -> None:
    h = Harness()
    status, _, out = h.post(path, body, **headers)
    assert (status, out) == (299, b"routed")
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    [messages] = h.routed
    assert b"".join(m["body"] for m in messages) == raw and [m["more_body"] for m in messages] == [True, False]
    assert h.use_cases == []
    assert h.tokens_left("tok-r") == 5 and h.tokens_left("tok-o") == 5


def test_an_exhausted_rate_limit_falls_through_so_the_route_answers_the_429() -> None:
    h = Harness(burst=1)
    assert h.post("/v1/tournaments/t1/bouts/b-1/results", RESULT, **REFEREE)[0] == 202
    assert h.post("/v1/tournaments/t1/bouts/b-2/results", RESULT, **REFEREE)[:1] == (299,)
    assert len(h.use_cases) == 1 and len(h.routed) == 1


def test_a_token_lookup_failure_falls_through_so_the_route_answers_it() -> None:
    h = Harness(down=True)
    assert h.post("/v1/tournaments/t1/bouts/b-1/results", RESULT, **REFEREE)[0] == 299
    assert h.use_cases == []


def test_what_the_use_case_raises_is_the_apps_problem_json() -> None:
    h = Harness(raises=Conflict("bout 'b-1' is already at revision 2", applied_revision=2, reason="stale_revision"))
    status, headers, body = h.post("/v1/tournaments/t1/bouts/b-1/results", RESULT, **REFEREE)
    assert status == 409 and headers["content-type"].startswith("application/problem+json")
    problem = json.loads(body)
    assert problem["applied_revision"] == 2 and problem["reason"] == "stale_revision"
    assert problem["instance"] == "/v1/tournaments/t1/bouts/b-1/results"
    assert h.routed == []


def test_an_unexpected_error_of_the_use_case_is_not_swallowed() -> None:
    h = Harness(raises=ZeroDivisionError())
    with pytest.raises(ZeroDivisionError):  # the server-error middleware outside answers it (500 problem)
        h.post("/v1/tournaments/t1/bouts/b-1/results", RESULT, **REFEREE)


def test_other_requests_pass_through() -> None:
    h = Harness()
    assert h.post("/v1/tournaments/t1/finalize", {}, **REFEREE)[0] == 299
    assert h.use_cases == [] and len(h.routed) == 1
