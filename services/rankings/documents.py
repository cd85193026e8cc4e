"""PostgreSQL ranking rows -> search documents; the ``_id`` is deterministic so writes are idempotent."""

from __future__ import annotations

from typing import Any

from services.rankings.model import DocKey, RankingRecord

# Fields the audit compares (everything the document carries).
DOCUMENT_FIELDS = (
    "category",
    "athlete_id",
    "name",
    "country",
    "rank",
    "points",
    "best_award",
    "awards",
    "provisional_points",
    "version",
)


def doc_id(category: str, athlete_id: str) -> str:
    return f"{category}:{athlete_id}"


def key_of(document_id: str) -> DocKey:
    category, _, athlete_id = document_id.partition(":")
    return (category, athlete_id)


def to_document(record: RankingRecord) -> dict[str, Any]:
    """The document body; ``rank`` is null for athletes with provisional points only (rank 0 in PG)."""
    return {
        "category": record.category,
        "athlete_id": record.athlete_id,
        "name": record.name,
        "country": record.country,
        "rank": record.rank or None,
        "points": float(record.points),
        "best_award": float(record.best_award),
        "awards": record.awards,
        "provisional_points": float(record.provisional_points),
        "version": record.version,
    }


def index_action(record: RankingRecord) -> tuple[dict[str, Any], dict[str, Any]]:
    """Bulk ``index`` header + body, externally versioned with ``rankings.version``."""
    header = {"_id": doc_id(record.category, record.athlete_id), "version": record.version, "version_type": "external"}
    return ({"index": header}, to_document(record))


def delete_action(key: DocKey, version: int) -> tuple[dict[str, Any], None]:
    """Bulk ``delete`` of a ranking that no longer exists, versioned with the change that removed it."""
    return ({"delete": {"_id": doc_id(*key), "version": version, "version_type": "external"}}, None)


def differing_fields(expected: dict[str, Any], actual: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """field -> (PostgreSQL value, index value) for every field that differs (numbers compared as numbers)."""
    out: dict[str, tuple[Any, Any]] = {}
    for name in DOCUMENT_FIELDS:
        want, have = expected.get(name), actual.get(name)
        if isinstance(want, int | float) and isinstance(have, int | float) and not isinstance(want, bool):
            if float(want) == float(have):
                continue
        elif want == have:
            continue
        out[name] = (want, have)
    extra = set(actual) - set(DOCUMENT_FIELDS)
    for name in sorted(extra):
        out[name] = (None, actual[name])
    return out
