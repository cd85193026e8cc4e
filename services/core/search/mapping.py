"""The rankings index: explicit mapping and settings, applied when a versioned index is built.

Nothing is left to dynamic mapping (``dynamic: strict``: an unknown field is an error, not a new
field). Names are matched with an ICU-free folding analyzer (standard tokenizer, lowercase,
asciifolding) so that "Muller" finds "Müller" and "lukasz" finds "Łukasz"; ``name.raw`` keeps the
exact spelling for sorting and exact filters.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

# Versioned indices are named ``<alias>-v<UTC timestamp>``: ``rankings-v20261126t151900123456``.
_TIMESTAMP = re.compile(r"\d{8}t\d{12}")

# Searchable within half a second of a write on real Elasticsearch (the index is small; the freshness
# target is about a second). During a full build refresh is off and restored afterwards.
REFRESH_INTERVAL = "500ms"

ANALYSIS: dict[str, Any] = {
    "analyzer": {
        "name_folding": {
            "type": "custom",
            "tokenizer": "standard",
            "filter": ["lowercase", "asciifolding"],
        }
    }
}

MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "category": {"type": "keyword"},
        "athlete_id": {"type": "keyword"},
        "country": {"type": "keyword"},
        "name": {
            "type": "text",
            "analyzer": "name_folding",
            "fields": {"raw": {"type": "keyword"}},
        },
        "rank": {"type": "integer"},
        "points": {"type": "double"},
        "best_award": {"type": "double"},
        "awards": {"type": "integer"},
        "provisional_points": {"type": "double"},
        "version": {"type": "long"},
    },
}


def index_settings(*, building: bool = False) -> dict[str, Any]:
    """Index settings; ``building`` turns refresh off for the bulk load of a full reindex."""
    return {
        "number_of_shards": 1,
        "number_of_replicas": 0,
        "refresh_interval": "-1" if building else REFRESH_INTERVAL,
        "analysis": ANALYSIS,
    }


def new_index_name(alias: str, now: dt.datetime | None = None) -> str:
    """``<alias>-v<UTC timestamp>``; microseconds keep two builds in one second apart and sortable."""
    now = now or dt.datetime.now(dt.UTC)
    return f"{alias}-v{now.astimezone(dt.UTC):%Y%m%dt%H%M%S%f}"


def is_versioned_index(name: str, alias: str) -> bool:
    """True for the indices this alias's reindex builds (and may clean up)."""
    prefix = f"{alias}-v"
    return name.startswith(prefix) and bool(_TIMESTAMP.fullmatch(name, len(prefix)))
