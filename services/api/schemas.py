"""Response models of the read API: the OpenAPI document and the wire format come from the same types.

The standings bodies are these models too — validated and serialised once per division version
(services/api/standings_bodies.py), then served as bytes; the hot path never instantiates them.
Problem responses are documented by ``services.core.http.problem_docs`` (shared with services.ops).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.dataclasses import dataclass as wire_dataclass

from services.core.db.standings_read import TournamentMeta
from services.core.http.problem_docs import Problem as Problem
from services.core.http.problem_docs import problems as problems


def examples(*documents: dict[str, Any]) -> ConfigDict:
    """A response model's config: ``documents`` are its OpenAPI examples."""
    return ConfigDict(json_schema_extra={"examples": list(documents)})


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
    model_config = examples(_ROW_EXAMPLE)

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


class DivisionDocument(BaseModel):
    """The head every division representation (standings, bracket) starts with."""

    tournament: TournamentRef
    division: DivisionRef
    version: int | None = Field(description="Division version (the ETag); null for an as_of_offset representation")
    as_of: AsOf
    as_of_offset: int | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="The requested offset; only in historical representations (absent from live ones)",
    )


class StandingsOut(DivisionDocument):
    model_config = examples(_STANDINGS_EXAMPLE)

    ruleset: RulesetRef
    conflicts: int = Field(description="Recorded conflicting submissions (see /conflicts)")
    rows: list[StandingsRowOut]
    # Keep freshness_s the LAST field: cached bodies take the per-request value as their tail.
    freshness_s: int = Field(
        description=(
            "0 when the projector is caught up on this division's partition; else whole seconds since the "
            "division's last applied event (an upper bound of how stale the table may be)"
        )
    )


class TournamentStandingsOut(BaseModel):
    model_config = examples({"tournament_id": "paris-open-2026", "divisions": [_STANDINGS_EXAMPLE]})

    tournament_id: str
    divisions: list[StandingsOut]  # last: the cached division bodies are spliced in


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


_CONFLICTS_EXAMPLE: dict[str, Any] = {
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


class ConflictsOut(BaseModel):
    model_config = examples(_CONFLICTS_EXAMPLE)

    tournament_id: str
    division_id: str
    conflicts: list[ConflictOut]


class DivisionLinks(BaseModel):
    standings: str
    stream: str
    conflicts: str
    overlay: str
    bracket: str | None = Field(default=None, description="The bracket (elimination formats); null for round robin")
    bracket_overlay: str | None = Field(default=None, description="The bracket overlay; null for round robin")


class DivisionSummary(BaseModel):
    division_id: str
    name: str
    category: str
    formats: list[str]
    format: str = Field(default="round_robin", description="round_robin | elimination | pools_then_elimination")
    version: int
    last_event_at: dt.datetime | None
    links: DivisionLinks


# The read side's TournamentMeta as the API shows it: the same fields (a tournament's list entry).
@wire_dataclass(frozen=True)
class TournamentSummary(TournamentMeta):
    pass


_TOURNAMENT_EXAMPLE: dict[str, Any] = {
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


@wire_dataclass(frozen=True, config=examples(_TOURNAMENT_EXAMPLE))
class TournamentOut(TournamentSummary):
    divisions: list[DivisionSummary]


class TournamentListOut(BaseModel):
    tournaments: list[TournamentSummary]


class HealthOut(BaseModel):
    model_config = examples({"status": "ready", "checks": {"postgres": "ok", "listen": "ok"}})

    status: str
    checks: dict[str, str] = Field(default_factory=dict)
