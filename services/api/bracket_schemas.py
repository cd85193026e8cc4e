"""Response models of the bracket endpoint (SPEC §7): the OpenAPI document and the bytes come from them.

Like the standings bodies, a bracket body is validated and serialised once per division version
(services/api/bracket_bodies.py) and served as bytes; ``freshness_s`` is its last field so the
cached bytes take the per-request value as their tail.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from services.api.schemas import DivisionDocument, StandingsRowOut, examples

PhaseName = Literal["main", "final", "repechage", "bronze"]
HalfName = Literal["top", "bottom"]
BoutStatus = Literal["waiting", "open", "decided", "bye", "invalidated"]
FormatName = Literal["elimination", "pools_then_elimination"]
RepechageName = Literal["none", "judo", "wrestling"]
ThirdPlaceName = Literal["bronze_bout", "shared"]

_RED = {"athlete_id": "jpn-m-73kg-1", "name": "Ōno Shōhei", "country": "JPN", "club": "Tenri University"}
_BLUE = {"athlete_id": "kor-m-73kg-1", "name": "안창림", "country": "KOR", "club": None}
_BOUT_EXAMPLE: dict[str, Any] = {
    "bout_id": "m-73kg-r2-b1",
    "phase": "main",
    "round": 2,
    "index": 1,
    "half": "top",
    "mat": 1,
    "order": 5,
    "status": "decided",
    "red": {"athlete": _RED, "bye": False, "waiting_for": None},
    "blue": {"athlete": _BLUE, "bye": False, "waiting_for": None},
    "winner_athlete_id": "jpn-m-73kg-1",
    "result": {"revision": 2, "method": "ko", "score": {"red": 5, "blue": 0}},
    "invalidated": False,
    "invalidated_revision": None,
}


class AthleteOut(BaseModel):
    athlete_id: str
    name: str = Field(description="Full name, any script")
    country: str = Field(description="ISO 3166-1 alpha-3")
    club: str | None


class SlotOut(BaseModel):
    athlete: AthleteOut | None = Field(description="Who stands in the slot; null for a bye or an undetermined slot")
    bye: bool = Field(description="Nobody will ever stand here: the other athlete advances without a bout")
    waiting_for: str | None = Field(
        description="What an undetermined slot waits for, e.g. 'the winner of m-73kg-r1-b2'; null when known or a bye"
    )


class ScoreOut(BaseModel):
    red: int
    blue: int


class CountedResultOut(BaseModel):
    revision: int = Field(description="The revision that decides the bout")
    method: str
    score: ScoreOut = Field(description="Technical points of the athletes now in the red and blue slots")


class BracketBoutOut(BaseModel):
    model_config = examples(_BOUT_EXAMPLE)

    bout_id: str
    phase: PhaseName
    round: int = Field(description="Main round (1 = first; the final is the last), ladder step in a repechage")
    index: int = Field(description="From the top of the draw sheet")
    half: HalfName | None
    mat: int | None
    order: int | None = Field(description="The bout's order on its mat")
    status: BoutStatus
    red: SlotOut = Field(description="The upper slot of the draw sheet (called first)")
    blue: SlotOut
    winner_athlete_id: str | None = Field(description="Set when decided")
    result: CountedResultOut | None = Field(description="The result that counts (decided bouts only)")
    invalidated: bool = Field(
        description="A stored result was fought between other athletes than the slots now hold: it counts "
        "nowhere and the bout needs a re-fight"
    )
    invalidated_revision: int | None = Field(description="The stored revision that no longer counts")


class PlacingOut(BaseModel):
    place: int = Field(description="Shared placings are the rule (3/3, 5/5, 7/7, 9, 17, ...)")
    athlete: AthleteOut
    decided: bool = Field(description="False: provisional, the placing secured so far (it can only improve)")
    stage: Literal["bracket", "pool"] = Field(description="pool: the athlete did not leave their pool")


class PoolOut(BaseModel):
    pool_id: str
    complete: bool = Field(description="Every pool bout has a result: the bracket is drawn from the pools")
    rows: list[StandingsRowOut]


class FormatOut(BaseModel):
    format: FormatName
    repechage: RepechageName
    third_place: ThirdPlaceName
    advance: int | None = Field(description="pools_then_elimination: athletes each pool sends to the bracket")


_BRACKET_EXAMPLE: dict[str, Any] = {
    "tournament": {"id": "paris-open-2026", "name": "Paris Open 2026", "status": "live"},
    "division": {"id": "m-73kg", "name": "Men -73 kg", "category": "m-73kg"},
    "version": 42,
    "as_of": {"event_time": "2026-11-26T15:04:05.123000+00:00", "partition": 3, "offset": 1187},
    "format": {"format": "elimination", "repechage": "judo", "third_place": "bronze_bout", "advance": None},
    "size": 8,
    "complete": False,
    "current_bout_id": "m-73kg-r2-b2",
    "invalidated_bouts": 0,
    "bouts": [_BOUT_EXAMPLE],
    "placings": [{"place": 5, "athlete": _BLUE, "decided": False, "stage": "bracket"}],
    "pools": None,
    "freshness_s": 0,
}


class BracketOut(DivisionDocument):
    model_config = examples(_BRACKET_EXAMPLE)

    format: FormatOut
    size: int = Field(description="Draw size: the next power of two at or above the bracket's entrants")
    complete: bool = Field(description="Every bout is decided or a bye: the placings are final")
    current_bout_id: str | None = Field(
        description="The bout to fight now: the first, in mat order (mat, then order), that is open or "
        "invalidated with both athletes known (a re-fight)"
    )
    invalidated_bouts: int = Field(description="Bouts whose stored result no longer counts (need a re-fight)")
    bouts: list[BracketBoutOut] = Field(description="Every position, in dependency order")
    placings: list[PlacingOut] = Field(
        description="Every entrant by place (bracket, then pool placings); empty until the bracket is drawn"
    )
    pools: list[PoolOut] | None = Field(description="pools_then_elimination: the pool stage; else null")
    # Keep freshness_s the LAST field: cached bodies take the per-request value as their tail.
    freshness_s: int = Field(
        description="0 when the projector is caught up on this division's partition; else whole seconds since the "
        "division's last applied event"
    )
