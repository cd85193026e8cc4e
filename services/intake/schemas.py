"""Request and response bodies of the intake API. Strict: unknown fields and coercions are refused."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from services.core.domain.ids import TEXT_PATTERN
from services.core.domain.results import (
    MAX_SCORE,
    BoutResult,
    BoutVoid,
    InvalidResult,
    Method,
    Score,
    Winner,
    check_result_fields,
)
from services.core.http.problem_docs import ProblemMembers
from services.core.http.problems import (
    MALFORMED_BODY_EXAMPLE,
    NOT_JSON_DETAIL,
    PROBLEM_MEDIA_TYPE,
    TYPE_BASE,
    problem_example,
)

MAX_REVISION = 1_000_000
MAX_DURATION_S = 86_400

RevisionField = Annotated[int, Field(ge=1, le=MAX_REVISION, description="1 for the first result, +1 per correction")]
Points = Annotated[int, Field(ge=0, le=MAX_SCORE)]

_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)

RULESET_VIOLATION_SLUG = "ruleset-violation"
RULESET_VIOLATION_TITLE = "Result inconsistent with the ruleset"

# The winner/method agreement of check_result_fields, as JSON Schema for the OpenAPI document:
# a win method names red or blue, "draw" pairs with "draw", "no_contest" with "none".
_WIN_METHODS: list[JsonValue] = [m.value for m in Method if m not in (Method.DRAW, Method.NO_CONTEST)]
WINNER_METHOD_AGREEMENT: list[JsonValue] = [
    {"properties": {"winner": {"enum": [Winner.RED.value, Winner.BLUE.value]}, "method": {"enum": _WIN_METHODS}}},
    {"properties": {"winner": {"const": Winner.DRAW.value}, "method": {"const": Method.DRAW.value}}},
    {"properties": {"winner": {"const": Winner.NONE.value}, "method": {"const": Method.NO_CONTEST.value}}},
]


class ScoreIn(BaseModel):
    model_config = _STRICT
    red: Points
    blue: Points


class ResultIn(BaseModel):
    """A bout's result at ``revision``; winner, method and score must agree (one rule, in the domain)."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        json_schema_extra={
            "oneOf": WINNER_METHOD_AGREEMENT,
            "examples": [
                {
                    "revision": 1,
                    "winner": "red",
                    "method": "points",
                    "score": {"red": 5, "blue": 2},
                    "duration_s": 240,
                    "referee_id": "ref-017",
                }
            ],
        },
    )
    revision: RevisionField
    # Enums come from JSON strings; strict mode would demand enum instances.
    winner: Annotated[Winner, Field(strict=False)]
    method: Annotated[Method, Field(strict=False)]
    score: ScoreIn
    duration_s: Annotated[int, Field(ge=0, le=MAX_DURATION_S)] | None = None
    # No NUL: an accepted referee_id with one could never be stored (PostgreSQL jsonb) by the projector.
    referee_id: Annotated[str, Field(min_length=1, max_length=64, pattern=TEXT_PATTERN)] | None = None

    @model_validator(mode="after")
    def _fields_agree(self) -> ResultIn:
        try:
            check_result_fields(self.winner, self.method, Score(self.score.red, self.score.blue), self.revision)
        except InvalidResult as exc:
            raise ValueError(str(exc)) from None
        return self

    def to_domain(self, bout_id: str) -> BoutResult:
        return BoutResult(
            bout_id=bout_id,
            revision=self.revision,
            winner=self.winner,
            method=self.method,
            score=Score(self.score.red, self.score.blue),
            duration_s=self.duration_s,
            referee_id=self.referee_id,
        )


class VoidIn(BaseModel):
    """Annul the bout at ``revision`` (a later, higher result revision reinstates it)."""

    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, json_schema_extra={"examples": [{"revision": 2}]}
    )
    revision: RevisionField

    def to_domain(self, bout_id: str) -> BoutVoid:
        return BoutVoid(bout_id=bout_id, revision=self.revision)


class AcceptedOut(BaseModel):
    """The event is durably on the topic (its delivery report arrived); standings follow shortly."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "event_id": "0f8e0c52-6d5b-5c1e-9a57-3c1b2d4e5f60",
                    "partition": 3,
                    "offset": 1042,
                    "bout_id": "b-0001",
                    "revision": 1,
                }
            ]
        }
    )
    event_id: uuid.UUID
    partition: int
    offset: int
    bout_id: str
    revision: int


class FinalizedDivisionOut(BaseModel):
    event_id: uuid.UUID
    division_id: str
    partition: int
    offset: int


class FinalizeOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tournament_id": "euro-open-2026",
                    "events": [
                        {
                            "event_id": "5b1f8a1e-2c7e-5d0a-8f3b-9e6d4c2a1b00",
                            "division_id": "m-73kg",
                            "partition": 1,
                            "offset": 88,
                        }
                    ],
                }
            ]
        }
    )
    tournament_id: str
    events: list[FinalizedDivisionOut]


class ValidationIssue(BaseModel):
    loc: list[str]
    msg: str
    type: str | None = None


class Problem(ProblemMembers):
    """RFC 9457 problem details (``application/problem+json``)."""

    errors: list[ValidationIssue] | None = Field(default=None, description="Schema violations (422 validation)")
    applied_revision: int | None = Field(default=None, description="The bout's highest applied revision (409)")
    ruleset: str | None = Field(default=None, description="The tournament's ruleset (422 ruleset-violation)")
    rule: str | None = Field(default=None, description="The ruleset's score rule the result breaks")
    waiting_for: str | None = Field(
        default=None, description="A bracket bout's open slot and what it waits for (409 while it is not determined)"
    )
    reason: str | None = Field(
        default=None,
        description=(
            "Why a bout write is a 409: `conflicting_revision` (a different payload holds that revision), "
            "`stale_revision` (the bout is at a higher revision), `open_slot` (a bracket slot is not determined) "
            "or `bye`"
        ),
    )


_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}}
_WWW_AUTHENTICATE = {"WWW-Authenticate": {"description": "Bearer challenge", "schema": {"type": "string"}}}


_INSTANCE = "/v1/tournaments/euro-open-2026/bouts/b-0001/results"


def _problem_example(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    headers: dict[str, Any] | None = None,
    description: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body = {**problem_example(status, slug, title, detail, **extra), "instance": _INSTANCE}
    response: dict[str, Any] = {
        "model": Problem,
        "description": description or title,
        "content": {PROBLEM_MEDIA_TYPE: {"example": body}},
    }
    if headers:
        response["headers"] = headers
    return response


_SCHEMA_VIOLATION = {
    **problem_example(
        422,
        "validation",
        "Unprocessable content",
        "the request does not match the schema",
        errors=[{"loc": ["body"], "msg": "Value error, method 'draw' needs winner 'draw'", "type": "value_error"}],
    ),
    "instance": _INSTANCE,
}
_RULESET_VIOLATION = {
    **problem_example(
        422,
        RULESET_VIOLATION_SLUG,
        RULESET_VIOLATION_TITLE,
        "method points requires the winner to lead on technical points "
        "(ruleset combat-default rule winner_leads; score red 0 : blue 9)",
        ruleset="combat-default",
        rule="winner_leads",
    ),
    "instance": _INSTANCE,
}

# Every problem type is listed in docs/problems.md.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_example(
        400,
        MALFORMED_BODY_EXAMPLE["type"].removeprefix(TYPE_BASE),
        MALFORMED_BODY_EXAMPLE["title"],
        MALFORMED_BODY_EXAMPLE["detail"],
        description="The body cannot be parsed (not JSON, truncated, not UTF-8, nested too deep, or empty)",
    ),
    401: _problem_example(
        401, "unauthorized", "Authentication required", "a bearer token is required", headers=_WWW_AUTHENTICATE
    ),
    403: _problem_example(403, "forbidden", "Forbidden", "this token may not write results for tournament 'x'"),
    404: _problem_example(404, "not-found", "Not found", "bout 'b-9' does not exist in tournament 'euro-open-2026'"),
    409: _problem_example(
        409,
        "conflict",
        "Conflict",
        "revision 1 of bout 'b-0001' is already applied with a different result; post revision 2 to correct it",
        applied_revision=1,
        reason="conflicting_revision",
    ),
    413: _problem_example(413, "payload-too-large", "Payload too large", "request body exceeds 16384 bytes"),
    415: _problem_example(
        415,
        "unsupported-media-type",
        "Unsupported media type",
        NOT_JSON_DETAIL,
        description="The body is not declared as JSON",
    ),
    422: {
        "model": Problem,
        "description": "JSON or parameters that do not match the schema",
        "content": {PROBLEM_MEDIA_TYPE: {"example": _SCHEMA_VIOLATION}},
    },
    429: _problem_example(
        429, "rate-limited", "Too many requests", "rate limit exceeded; retry in 1 s", headers=_RETRY_AFTER
    ),
    503: _problem_example(
        503, "unavailable", "Service unavailable", "the event broker is unavailable", headers=_RETRY_AFTER
    ),
}


# A posted result's 422: a schema violation, or a score its tournament's ruleset rules out.
RESULT_UNPROCESSABLE: dict[str, Any] = {
    "model": Problem,
    "description": "JSON that does not match the schema, or a result that breaks the tournament's ruleset",
    "content": {
        PROBLEM_MEDIA_TYPE: {
            "examples": {
                "validation": {"summary": "A schema violation", "value": _SCHEMA_VIOLATION},
                "ruleset-violation": {"summary": "A score the ruleset rules out", "value": _RULESET_VIOLATION},
            }
        }
    },
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: PROBLEM_RESPONSES[s] for s in statuses}
