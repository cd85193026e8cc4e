"""Ranking list queries: filtered, stably ordered, paged with an opaque ``search_after`` cursor.

Hot reads are filter queries (category, country) sorted on doc values, never scored whole-index
sorts. The order is the ranking order - points desc, best award desc, athlete id asc - with the
category as the last key so that a list across categories still has a total order for paging.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

SORT: list[dict[str, Any]] = [
    {"points": {"order": "desc"}},
    {"best_award": {"order": "desc"}},
    {"athlete_id": {"order": "asc"}},
    {"category": {"order": "asc"}},
]


class InvalidCursor(ValueError):
    pass


def encode_cursor(sort_values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(sort_values)).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    """The sort values of the last hit of the previous page; raises :class:`InvalidCursor`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = orjson.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor("search_after is not a cursor returned by this API") from exc
    if (
        not isinstance(values, list)
        or len(values) != len(SORT)
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values[:2])
        or not all(isinstance(v, str) for v in values[2:])
    ):
        raise InvalidCursor("search_after is not a cursor returned by this API")
    return values


def ranking_search(
    *,
    category: str | None,
    country: str | None,
    q: str | None,
    size: int,
    search_after: list[Any] | None,
) -> dict[str, Any]:
    """Keyword arguments for ``client.search``."""
    filters: list[dict[str, Any]] = []
    if category:
        filters.append({"term": {"category": category}})
    if country:
        filters.append({"term": {"country": country.upper()}})
    must: list[dict[str, Any]] = []
    if q:
        must.append({"match": {"name": {"query": q, "operator": "and"}}})
    body: dict[str, Any] = {
        "query": {"bool": {"filter": filters, "must": must}},
        "sort": SORT,
        "size": size,
        "track_total_hits": True,
    }
    if search_after is not None:
        body["search_after"] = search_after
    return body
