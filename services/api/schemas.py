"""Response models of the read API. They document the wire format (OpenAPI); the hot standings
path never instantiates them — it serves bytes rendered once per version."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.core.http.problems import (
    MALFORMED_BODY_EXAMPLE,
    NOT_JSON_EXAMPLE,
    PROBLEM_MEDIA_TYPE,
    TYPE_BASE,
)

_ROW_EXAMPLE: dict[str, Any] = {
    "rank": 1,
    "athlete_id": "jpn-m-73kg-1",
    "name": "Ōno Shōhei",
    "country": "JPN",
    "club": "Tenri University",
    "bouts": 3,
    "wins": 3,
    "losses": 0,
    "draws": 0,
    "points": 13,
    "finishes": 2,
    "tp_for": 21,
    "tp_against": 4,
    "tie_unresolved": False,
    "movement": 1,
}


class StandingsRowOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_ROW_EXAMPLE]})

    rank: int = Field(description="Shared by rows tied through every tiebreak step")
    athlete_id: str
    name: str = Field(description="Full name, any script")
    country: str = Field(description="ISO 3166-1 alpha-3")
    club: str | None
    bouts: int
    wins: int
    losses: int
    draws: int
    points: int = Field(description="Classification points (ruleset)")
    finishes: int = Field(description="Wins by ko, tko, submission or fall")
    tp_for: int = Field(description="Technical points scored")
    tp_against: int = Field(description="Technical points conceded")
    tie_unresolved: bool
    movement: int = Field(description="previous rank - rank (positive: moved up; 0 unchanged or new)")


class TournamentRef(BaseModel):
    id: str
    name: str
    status: str


class DivisionRef(BaseModel):
    id: str
    name: str
    category: str


class AsOf(BaseModel):
    event_time: dt.datetime | None = Field(description="occurred_at of the last applied event")
    partition: int | None
    offset: int | None = Field(description="Kafka offset of the last applied event of this division")


class RulesetRef(BaseModel):
    name: str
    version: str


_STANDINGS_EXAMPLE: dict[str, Any] = {
    "tournament": {"id": "paris-open-2026", "name": "Paris Open 2026", "status": "live"},
    "division": {"id": "m-73kg", "name": "Men -73 kg", "category": "m-73kg"},
    "version": 42,
    "as_of": {"event_time": "2026-11-26T15:04:05.123000+00:00", "partition": 3, "offset": 1187},
    "ruleset": {"name": "combat-default", "version": "1"},
    "conflicts": 0,
    "rows": [_ROW_EXAMPLE],
    "freshness_s": 0,
}


class StandingsOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_STANDINGS_EXAMPLE]})

    tournament: TournamentRef
    division: DivisionRef
    version: int | None = Field(description="Division version (the ETag); null for an as_of_offset table")
    as_of: AsOf
    as_of_offset: int | None = Field(default=None, description="The requested offset, for historical tables")
    ruleset: RulesetRef
    conflicts: int = Field(description="Recorded conflicting submissions (see /conflicts)")
    rows: list[StandingsRowOut]
    freshness_s: int = Field(
        description=(
            "0 when the projector is caught up on this division's partition; else whole seconds since the "
            "division's last applied event (an upper bound of how stale the table may be)"
        )
    )


class TournamentStandingsOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"tournament_id": "paris-open-2026", "divisions": [_STANDINGS_EXAMPLE]}]}
    )

    tournament_id: str
    divisions: list[StandingsOut]


class ConflictOut(BaseModel):
    conflict_id: int
    bout_id: str
    revision: int
    kind: str = Field(description="result | void")
    payload: dict[str, Any] = Field(description="The rejected submission")
    applied_payload: dict[str, Any] = Field(description="The submission that was applied first (it counts)")
    source_partition: int
    source_offset: int
    detected_at: dt.datetime


class ConflictsOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tournament_id": "paris-open-2026",
                    "division_id": "m-73kg",
                    "conflicts": [
                        {
                            "conflict_id": 7,
                            "bout_id": "paris-open-2026-m-73kg-003",
                            "revision": 1,
                            "kind": "result",
                            "payload": {"winner": "blue", "method": "points", "score": {"red": 1, "blue": 3}},
                            "applied_payload": {"winner": "red", "method": "ko", "score": {"red": 2, "blue": 0}},
                            "source_partition": 3,
                            "source_offset": 1190,
                            "detected_at": "2026-11-26T15:05:00+00:00",
                        }
                    ],
                }
            ]
        }
    )

    tournament_id: str
    division_id: str
    conflicts: list[ConflictOut]


class DivisionLinks(BaseModel):
    standings: str
    stream: str
    conflicts: str
    overlay: str


class DivisionSummary(BaseModel):
    division_id: str
    name: str
    category: str
    formats: list[str]
    version: int
    last_event_at: dt.datetime | None
    links: DivisionLinks


class TournamentSummary(BaseModel):
    tournament_id: str
    name: str
    tier: str
    start_date: dt.date
    end_date: dt.date
    status: str
    ruleset: str


class TournamentOut(TournamentSummary):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tournament_id": "paris-open-2026",
                    "name": "Paris Open 2026",
                    "tier": "open",
                    "start_date": "2026-11-26",
                    "end_date": "2026-11-27",
                    "status": "live",
                    "ruleset": "combat-default",
                    "divisions": [
                        {
                            "division_id": "m-73kg",
                            "name": "Men -73 kg",
                            "category": "m-73kg",
                            "formats": ["round_robin"],
                            "version": 42,
                            "last_event_at": "2026-11-26T15:04:05+00:00",
                            "links": {
                                "standings": "/v1/tournaments/paris-open-2026/divisions/m-73kg/standings",
                                "stream": "/v1/tournaments/paris-open-2026/divisions/m-73kg/standings/stream",
                                "conflicts": "/v1/tournaments/paris-open-2026/divisions/m-73kg/conflicts",
                                "overlay": "/overlay/paris-open-2026/m-73kg",
                            },
                        }
                    ],
                }
            ]
        }
    )

    divisions: list[DivisionSummary]


class TournamentListOut(BaseModel):
    tournaments: list[TournamentSummary]


class HealthOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "ready", "checks": {"postgres": "ok", "listen": "ok"}}]}
    )

    status: str
    checks: dict[str, str] = Field(default_factory=dict)


class Problem(BaseModel):
    """RFC 9457 problem details (media type application/problem+json)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = Field(default=None, description="Schema violations (422)")
    problems: list[str] | None = Field(default=None, description="Every registration problem (import, 422)")


def _problem_example(status: int, slug: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"type": TYPE_BASE + slug, "title": title, "status": status, "detail": detail, **extra}


# The problem types are listed in docs/problems.md. A 400 is one of two: a body that cannot be
# parsed (writes) or a request a route refuses as a whole (e.g. a rankings read without a filter).
_BAD_REQUEST_EXAMPLES: dict[str, dict[str, Any]] = {
    "malformed-body": {"summary": "A request body that cannot be parsed", "value": MALFORMED_BODY_EXAMPLE},
    "bad-request": {
        "summary": "A request the route refuses as a whole",
        "value": _problem_example(
            400,
            "bad-request",
            "Bad request",
            "give a category, a country or a name query (q): whole-list reads are not served",
        ),
    },
}

_PROBLEM_EXAMPLES: dict[int, tuple[str, dict[str, Any]]] = {
    400: ("Malformed body or refused request", MALFORMED_BODY_EXAMPLE),
    401: (
        "Missing or invalid bearer token",
        _problem_example(401, "unauthorized", "Authentication required", "a bearer token is required"),
    ),
    403: ("Token lacks the role", _problem_example(403, "forbidden", "Forbidden", "role admin required")),
    404: (
        "Unknown tournament or division",
        _problem_example(
            404, "not-found", "Not found", "division 'm-99kg' of tournament 'paris-open-2026' does not exist"
        ),
    ),
    409: ("Conflicts with existing data", _problem_example(409, "conflict", "Conflict", "tournament already exists")),
    413: (
        "Body too large",
        _problem_example(413, "payload-too-large", "Payload too large", "request body exceeds 16384 bytes"),
    ),
    415: ("Body not declared as JSON", NOT_JSON_EXAMPLE),
    422: (
        "Invalid input",
        _problem_example(
            422,
            "validation",
            "Unprocessable content",
            "the request does not match the schema",
            errors=[
                {
                    "loc": ["query", "as_of_offset"],
                    "msg": "Input should be greater than or equal to 0",
                    "type": "greater_than_equal",
                }
            ],
        ),
    ),
    503: ("Not ready", _problem_example(503, "unavailable", "Service unavailable", "database unreachable")),
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the given problem statuses (problem+json with an example)."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        description, example = _PROBLEM_EXAMPLES[status]
        media: dict[str, Any] = {"examples": _BAD_REQUEST_EXAMPLES} if status == 400 else {"example": example}
        out[status] = {"model": Problem, "description": description, "content": {PROBLEM_MEDIA_TYPE: media}}
    return out
