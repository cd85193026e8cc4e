"""Pure pieces of the rankings search adapter: document shape, cursor round trip, index names."""

from __future__ import annotations

import datetime as dt

import pytest

from services.core.search.mapping import MAPPINGS, is_versioned_index, new_index_name
from services.core.search.queries import InvalidCursor, decode_cursor, encode_cursor, ranking_search
from services.rankings.documents import delete_action, differing_fields, doc_id, index_action, key_of, to_document
from services.rankings.model import RankingRecord

RECORD = RankingRecord("m-73kg", "a:1", "Zoë Müller-Łukasz", "GER", 0, 0.0, 0.0, 0, 35.0, 42)


def test_document_matches_the_strict_mapping_and_ids_round_trip() -> None:
    doc = to_document(RECORD)
    assert set(doc) == set(MAPPINGS["properties"])
    assert doc["rank"] is None  # provisional points only: not ranked
    assert doc_id("m-73kg", "a:1") == "m-73kg:a:1" and key_of("m-73kg:a:1") == ("m-73kg", "a:1")
    header, body = index_action(RECORD)
    assert header == {"index": {"_id": "m-73kg:a:1", "version": 42, "version_type": "external"}}
    assert body == doc
    assert delete_action(("m-73kg", "x"), 7) == (
        {"delete": {"_id": "m-73kg:x", "version": 7, "version_type": "external"}},
        None,
    )


def test_differing_fields_compares_numbers_as_numbers() -> None:
    doc = to_document(RECORD)
    assert differing_fields(doc, {**doc, "provisional_points": 35}) == {}
    assert differing_fields(doc, {**doc, "name": "Zoe"}) == {"name": ("Zoë Müller-Łukasz", "Zoe")}
    assert differing_fields(doc, {**doc, "junk": 1})["junk"] == (None, 1)


def test_cursor_round_trip_and_garbage() -> None:
    values = [200.0, 100.0, "ono", "m-73kg"]
    assert decode_cursor(encode_cursor(values)) == values
    for bad in ("", "!!!", encode_cursor(["x", 1, 2, 3]), encode_cursor([1, 2, "a"])):
        with pytest.raises(InvalidCursor):
            decode_cursor(bad)


def test_queries_filter_and_sort_stably() -> None:
    body = ranking_search(category="m-73kg", country="ger", q="muller", size=10, search_after=None)
    assert body["query"]["bool"]["filter"] == [{"term": {"category": "m-73kg"}}, {"term": {"country": "GER"}}]
    assert [next(iter(s)) for s in body["sort"]] == ["points", "best_award", "athlete_id", "category"]


def test_versioned_index_names_belong_to_their_alias() -> None:
    name = new_index_name("rankings", dt.datetime(2026, 11, 26, 15, 0, 1, 5, tzinfo=dt.UTC))
    assert name == "rankings-v20261126t150001000005"
    assert is_versioned_index(name, "rankings")
    assert not is_versioned_index(name, "rank")
    assert not is_versioned_index("rankings-vbroken", "rankings")
