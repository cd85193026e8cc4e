"""Cached standings bytes are the response schemas' own encoding, whatever the per-request freshness.

The integration tier validates served bodies against the served OpenAPI document; here, without
a database, the cache's shortcuts (freshness spliced into the cached tail, division bodies spliced
into the tournament envelope) are checked to give exactly what pydantic encodes for the models.
"""

from __future__ import annotations

import datetime as dt

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from services.api.schemas import StandingsOut, TournamentStandingsOut
from services.api.standings_bodies import as_of_out, encode_standings, freshness_prefix, standings_out
from services.api.standings_cache import RenderedStandings, RenderedTournament
from services.core.db.standings_read import AsOfStandings, DivisionMeta, DivisionStandings, RowView


def _division(division_id: str = "m-73kg", version: int = 42, rows: int = 3) -> DivisionStandings:
    meta = DivisionMeta(
        tournament_id="paris-open-2026",
        division_id=division_id,
        name="Men -73 kg",
        category=division_id,
        formats=("round_robin",),
        version=version,
        last_event_at=dt.datetime(2026, 11, 26, 15, 4, 5, 123000, tzinfo=dt.UTC),
        last_partition=3,
        last_offset=1187,
        tournament_name="Paris Open 2026",
        tournament_status="live",
        ruleset="combat-default",
    )
    table = tuple(
        RowView(f"a{i}", i + 1, 3, 2, 1, 0, 9, 1, 10, 3, False, "Ōno Shōhei", "JPN", None if i % 2 else "Tenri", 0)
        for i in range(rows)
    )
    return DivisionStandings(meta=meta, rows=table, conflicts=1)


@given(st.integers(min_value=0, max_value=10**9))
def test_a_stale_body_is_the_schema_encoding_with_that_freshness(freshness_s: int) -> None:
    data = _division()
    rendered = RenderedStandings.render(data)
    expected = encode_standings(standings_out(data, freshness_s))
    assert rendered.body(freshness_s) == expected
    etag, body = rendered.representation(freshness_s)
    assert (body() if callable(body) else body) == expected
    assert etag == rendered.etag_for(freshness_s)
    assert rendered.sse(freshness_s) == b"id: 42\nevent: standings\ndata: %s\n\n" % expected


def test_etags_are_strong_and_carry_the_freshness_only_while_stale() -> None:
    rendered = RenderedStandings.render(_division())
    assert rendered.etag_for(0) == b'"paris-open-2026:m-73kg:42"'
    assert rendered.etag_for(7) == b'"paris-open-2026:m-73kg:42:s7"'


def test_the_tournament_body_is_the_schema_encoding() -> None:
    a, b = _division("m-73kg", 4), _division("w-57kg", 9, rows=0)
    composed = RenderedTournament.compose("paris-open-2026", [RenderedStandings.render(a), RenderedStandings.render(b)])
    expected = TournamentStandingsOut(
        tournament_id="paris-open-2026", divisions=[standings_out(a, 0), standings_out(b, 5)]
    )
    assert composed.body([0, 5]) == TypeAdapter(TournamentStandingsOut).dump_json(expected)
    assert composed.etag_for([0, 5]).endswith(b':s5"')
    empty = RenderedTournament.compose("paris-open-2026", [])
    assert orjson.loads(empty.body([])) == {"tournament_id": "paris-open-2026", "divisions": []}


def test_live_tables_omit_as_of_offset_and_historical_ones_carry_it() -> None:
    live = orjson.loads(RenderedStandings.render(_division()).body_fresh)
    assert "as_of_offset" not in live and live["version"] == 42
    data = _division()
    historical = AsOfStandings(
        meta=data.meta,
        requested_offset=1100,
        event_time=None,
        partition=None,
        offset=None,
        rows=data.rows,
        conflicts=0,
    )
    doc = orjson.loads(encode_standings(as_of_out(historical)))
    assert doc["as_of_offset"] == 1100 and doc["version"] is None and doc["freshness_s"] == 0
    assert doc["as_of"] == {"event_time": None, "partition": None, "offset": None}


def test_freshness_and_divisions_stay_the_last_fields() -> None:
    """The cache splices per-request values into these tails; a field added after them must fail here."""
    assert list(StandingsOut.model_fields)[-1] == "freshness_s"
    assert list(TournamentStandingsOut.model_fields)[-1] == "divisions"
    with pytest.raises(ValueError, match="last field"):
        freshness_prefix(b'{"freshness_s":0,"other":1}')
