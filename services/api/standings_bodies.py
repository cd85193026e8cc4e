"""Standings bodies encoded from the response schemas that the OpenAPI document is built from.

Every standings body — the cached division body, the historical ``?as_of_offset`` table, the
tournament envelope and the SSE ``standings`` data — is a ``StandingsOut`` /
``TournamentStandingsOut`` (services/api/schemas.py) validated and serialised by pydantic-core, so
the bytes cannot drift from the documented schema. This runs once per division version (and per
historical request); the per-request work stays a lookup plus, while the projector is behind, one
concatenation: ``freshness_s`` is the schema's last field, so the body is cached up to its value.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from pydantic import TypeAdapter

from services.api.schemas import (
    AsOf,
    DivisionRef,
    RulesetRef,
    StandingsOut,
    StandingsRowOut,
    TournamentRef,
    TournamentStandingsOut,
)
from services.core.db.standings_read import AsOfStandings, DivisionMeta, DivisionStandings, RowView
from services.core.domain.ruleset import RULESETS

_STANDINGS = TypeAdapter(StandingsOut)
_TOURNAMENT = TypeAdapter(TournamentStandingsOut)
_ROWS = TypeAdapter(list[StandingsRowOut])
_FRESH_TAIL = b',"freshness_s":0}'
_EMPTY_LIST_TAIL = b"[]}"


def _ruleset(name: str) -> RulesetRef:
    rs = RULESETS.get(name)
    return RulesetRef(name=name, version=rs.version if rs else "unknown")


def _rows(rows: Sequence[RowView]) -> list[StandingsRowOut]:
    return _ROWS.validate_python(rows, from_attributes=True)  # one call for the list, not one per row


def _refs(meta: DivisionMeta) -> tuple[TournamentRef, DivisionRef]:
    return (
        TournamentRef(id=meta.tournament_id, name=meta.tournament_name, status=meta.tournament_status),
        DivisionRef(id=meta.division_id, name=meta.name, category=meta.category),
    )


def standings_out(data: DivisionStandings, freshness_s: int = 0) -> StandingsOut:
    """A division's live table (``as_of_offset`` absent)."""
    meta = data.meta
    tournament, division = _refs(meta)
    return StandingsOut(
        tournament=tournament,
        division=division,
        version=meta.version,
        as_of=AsOf(event_time=meta.last_event_at, partition=meta.last_partition, offset=meta.last_offset),
        ruleset=_ruleset(meta.ruleset),
        conflicts=data.conflicts,
        rows=_rows(data.rows),
        freshness_s=freshness_s,
    )


def as_of_out(data: AsOfStandings) -> StandingsOut:
    """A historical table (``?as_of_offset=N``); ``version`` is null: it is no live version."""
    tournament, division = _refs(data.meta)
    return StandingsOut(
        tournament=tournament,
        division=division,
        version=None,
        as_of=AsOf(event_time=data.event_time, partition=data.partition, offset=data.offset),
        as_of_offset=data.requested_offset,
        ruleset=_ruleset(data.meta.ruleset),
        conflicts=data.conflicts,
        rows=_rows(data.rows),
        freshness_s=0,
    )


def encode_standings(body: StandingsOut) -> bytes:
    return _STANDINGS.dump_json(body)


def freshness_prefix(fresh_body: bytes) -> bytes:
    """``fresh_body`` (encoded with ``freshness_s`` 0) up to the freshness value: ``…,"freshness_s":``."""
    if not fresh_body.endswith(_FRESH_TAIL):
        raise ValueError("freshness_s must be the last field of StandingsOut")
    return fresh_body[:-2]


def with_freshness(prefix: bytes, freshness_s: int) -> bytes:
    """The body for another ``freshness_s``, from ``freshness_prefix`` (one concatenation)."""
    return b"%s%d}" % (prefix, freshness_s)


@lru_cache(maxsize=1024)
def tournament_envelope(tournament_id: str) -> tuple[bytes, bytes]:
    """``TournamentStandingsOut`` around its division bodies: the bytes before and after them."""
    empty = _TOURNAMENT.dump_json(TournamentStandingsOut(tournament_id=tournament_id, divisions=[]))
    if not empty.endswith(_EMPTY_LIST_TAIL):
        raise ValueError("divisions must be the last field of TournamentStandingsOut")
    return empty[:-2], empty[-2:]


def tournament_body(tournament_id: str, division_bodies: Sequence[bytes]) -> bytes:
    head, tail = tournament_envelope(tournament_id)
    return b"%s%s%s" % (head, b",".join(division_bodies), tail)


def sse_frame(version: int, body: bytes, event: str = "standings") -> bytes:
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (version, event.encode(), body)


def ping_frame(version: int, freshness_s: int) -> bytes:
    """The SSE heartbeat: the current version and its freshness, without the table."""
    return b'event: ping\ndata: {"version":%d,"freshness_s":%d}\n\n' % (version, freshness_s)
