"""Drift audit: compare the search documents with PostgreSQL (the system of record).

Full audit: every ranking row is looked up (mget in batches) and every document id in the index is
listed (search_after on the keyword sort fields) to find extras. Sample audit: ``n`` random rows
plus ``n`` random documents. Documents with a feed row after the indexer's position at the
start of the audit are in flight, not drift: they are counted as ``pending`` and left alone.

``repair`` rewrites only the drifted documents: missing/different ones get a fresh version (an
feed row, so the live indexer agrees) and are written from their current row; extras are
deleted at their own version (a newer legitimate write wins over the repair).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Literal

from elasticsearch import Elasticsearch
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from services.core import metrics
from services.core.logging import get_logger
from services.core.search.bulk import Action, BulkWriter
from services.rankings import feed
from services.rankings import records as ranking_rows
from services.rankings.documents import differing_fields, doc_id, key_of, to_document
from services.rankings.model import DocKey, RankingRecord
from services.rankings.rerank import touch_documents

log = get_logger(__name__)

# A sample is one search page of random documents; Elasticsearch refuses pages beyond its default
# index.max_result_window (10 000), so larger samples are refused up front (HTTP 422, CLI usage error).
MAX_SAMPLE = 10_000
DriftKind = Literal["missing", "extra", "different"]


@dataclass(frozen=True, slots=True)
class Drift:
    category: str
    athlete_id: str
    kind: DriftKind
    # field -> (PostgreSQL, index)
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "athlete_id": self.athlete_id,
            "kind": self.kind,
            "fields": {name: {"expected": pg, "indexed": es} for name, (pg, es) in self.fields.items()},
        }


@dataclass(slots=True)
class AuditReport:
    checked: int = 0
    sample: int | None = None
    pending: int = 0
    drifts: list[Drift] = field(default_factory=list)
    repaired: int = 0
    unrepaired: int = 0

    @property
    def clean(self) -> bool:
        return not self.drifts

    def count(self, kind: DriftKind) -> int:
        return sum(1 for d in self.drifts if d.kind == kind)

    def to_dict(self, limit: int = 1000) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "sample": self.sample,
            "clean": self.clean,
            "drift": len(self.drifts),
            "missing": self.count("missing"),
            "extra": self.count("extra"),
            "different": self.count("different"),
            "pending": self.pending,
            "repaired": self.repaired,
            "unrepaired": self.unrepaired,
            "drifts": [d.to_dict() for d in self.drifts[:limit]],
        }


def run_audit(
    engine: Engine,
    client: Elasticsearch,
    alias: str,
    *,
    sample: int | None = None,
    repair: bool = False,
    batch: int = 1000,
) -> AuditReport:
    """Audit all documents (``sample`` None) or a random sample; optionally repair the drift."""
    report = AuditReport(sample=sample)
    found: dict[DocKey, Drift] = {}
    with Session(engine) as session:
        start_position = feed.get_position(session)
    if sample is None:
        seen_pg: set[DocKey] = set()
        with engine.connect() as conn:
            for records in _batches(ranking_rows.iter_records(conn, batch), batch):
                seen_pg.update(r.key for r in records)
                _compare(client, alias, records, found, report)
        for key in _all_index_keys(client, alias, batch):
            if key not in seen_pg:
                report.checked += 1
                found[key] = Drift(key[0], key[1], "extra")
    else:
        with Session(engine) as session:
            keys = ranking_rows.sample_keys(session, sample)
            records = list(ranking_rows.load_records(session, keys).values())
        _compare(client, alias, records, found, report)
        doc_keys = _random_index_keys(client, alias, sample)
        with Session(engine) as session:
            present = ranking_rows.load_records(session, doc_keys)
        for key in doc_keys:
            report.checked += 1
            if key not in present:
                found[key] = Drift(key[0], key[1], "extra")
    with Session(engine) as session:
        in_flight = feed.pending_keys(session, start_position)
    report.pending = sum(1 for k in found if k in in_flight)
    report.drifts = [d for k, d in sorted(found.items()) if k not in in_flight]
    metrics.AUDIT_RUNS.inc()
    metrics.AUDIT_DRIFT.set(len(report.drifts))
    if report.drifts:
        log.warning(
            "rankings_drift",
            drift=len(report.drifts),
            missing=report.count("missing"),
            extra=report.count("extra"),
            different=report.count("different"),
            first=report.drifts[0].to_dict(),
        )
    if repair and report.drifts:
        _repair(engine, client, alias, report)
    return report


def _compare(
    client: Elasticsearch, alias: str, records: Sequence[RankingRecord], found: dict[DocKey, Drift], report: AuditReport
) -> None:
    if not records:
        return
    docs = client.mget(index=alias, ids=[doc_id(*r.key) for r in records]).body["docs"]
    for record, doc in zip(records, docs, strict=True):
        report.checked += 1
        if not doc.get("found"):
            found[record.key] = Drift(record.category, record.athlete_id, "missing")
            continue
        diff = differing_fields(to_document(record), doc.get("_source") or {})
        if diff:
            found[record.key] = Drift(record.category, record.athlete_id, "different", diff)


def _all_index_keys(client: Elasticsearch, alias: str, batch: int) -> Iterator[DocKey]:
    after: list[Any] | None = None
    while True:
        params: dict[str, Any] = {}
        if after is not None:
            params["search_after"] = after
        hits = client.search(
            index=alias,
            size=batch,
            source=False,
            sort=[{"category": "asc"}, {"athlete_id": "asc"}],
            track_total_hits=False,
            **params,
        ).body["hits"]["hits"]
        for hit in hits:
            yield key_of(hit["_id"])
        if len(hits) < batch:
            return
        after = hits[-1]["sort"]


def _random_index_keys(client: Elasticsearch, alias: str, n: int) -> list[DocKey]:
    hits = client.search(
        index=alias,
        size=n,
        source=False,
        query={"function_score": {"query": {"match_all": {}}, "random_score": {}}},
    ).body["hits"]["hits"]
    return [key_of(h["_id"]) for h in hits]


def _repair(engine: Engine, client: Elasticsearch, alias: str, report: AuditReport) -> None:
    """Re-version the drifted rows (a new change id is above any version or tombstone the index may
    hold, e.g. after a manual delete) and write them now; delete extras at their own version."""
    keys = [(d.category, d.athlete_id) for d in report.drifts]
    with Session(engine) as session, session.begin():
        touch_documents(session, keys)
        records = ranking_rows.load_records(session, keys)
    extras = [k for k in keys if k not in records]
    versions: dict[DocKey, int] = {}
    if extras:
        docs = client.mget(index=alias, ids=[doc_id(*k) for k in extras]).body["docs"]
        versions = {key_of(d["_id"]): int(d["_version"]) for d in docs if d.get("found")}
    actions: list[Action] = []
    for key in keys:
        record = records.get(key)
        if record is not None:
            header = {"_id": doc_id(*key), "version": record.version, "version_type": "external_gte"}
            actions.append(({"index": header}, to_document(record)))
        elif key in versions:
            header = {"_id": doc_id(*key), "version": versions[key], "version_type": "external_gte"}
            actions.append(({"delete": header}, None))
    if not actions:
        return
    stats = BulkWriter(client).write(alias, actions, require_alias=True)
    report.repaired = stats.indexed + stats.deleted
    report.unrepaired = stats.conflicts
    log.info("rankings_drift_repaired", repaired=report.repaired, unrepaired=report.unrepaired)


def _batches(items: Iterator[RankingRecord], size: int) -> Iterator[list[RankingRecord]]:
    while chunk := list(islice(items, size)):
        yield chunk
