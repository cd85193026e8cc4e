"""Every Prometheus metric of the product, declared once. No per-athlete or per-bout labels."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, Info

BUILD = Info("standings_build", "Version of the running code")

# --- intake / HTTP ---------------------------------------------------------
HTTP_REQUEST_SECONDS = Histogram(
    "standings_http_request_duration_seconds",
    "HTTP request duration by service, route template and status",
    ["service", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
PRODUCER_DELIVERY_SECONDS = Histogram(
    "standings_producer_delivery_seconds",
    "Time from produce() to the broker's delivery report",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2),
)
PRODUCER_FAILURES = Counter(
    "standings_producer_failures_total", "Produce attempts that failed or timed out", ["reason"]
)
RESULTS_REJECTED = Counter("standings_intake_rejected_total", "Intake requests rejected", ["reason"])

# --- projector ---------------------------------------------------------------
EVENTS_PROCESSED = Counter("standings_projector_events_total", "Events applied by the projector", ["type"])
DUPLICATES_ABSORBED = Counter(
    "standings_projector_duplicates_total", "Events already applied (replays, retries) absorbed without effect"
)
CONFLICTS = Counter("standings_projector_conflicts_total", "Different payloads for an applied (bout, revision)")
MISKEYED_EVENTS = Counter(
    "standings_projector_miskeyed_events_total",
    "Events whose Kafka key is not their payload's tournament_id:division_id (applied; their order is not per division)",
)
DLQ_MESSAGES = Counter("standings_dlq_messages_total", "Messages sent to the dead-letter topic", ["reason"])
BATCH_SIZE = Histogram(
    "standings_projector_batch_size", "Messages per projector batch", buckets=(1, 10, 50, 100, 500, 1000, 2000, 5000)
)
BATCH_SECONDS = Histogram(
    "standings_projector_batch_duration_seconds",
    "Projector batch duration, consume to offset commit",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
OFFSET_GAPS = Counter(
    "standings_projector_offset_gaps_total",
    "Batches that would have skipped messages above the stored offset, by verdict (reread, retention, repeated)",
    ["group", "verdict"],
)
REBALANCES = Counter("standings_consumer_rebalances_total", "Partition assignment changes", ["group", "kind"])
CONSUMER_LAG = Gauge("standings_consumer_lag_messages", "Messages behind the high watermark", ["group", "partition"])
CONSUMER_PAUSED = Gauge(
    "standings_consumer_paused", "1 while the consumer is paused (slow batch or DB down)", ["group"]
)
BRACKET_INVALIDATED_BOUTS = Gauge(
    "standings_bracket_invalidated_bouts",
    "Bracket bouts whose stored result no longer counts (needs a re-fight), per division",
    ["tournament", "division"],
)
CONFIG_DRIFT = Gauge(
    "standings_consumer_config_drift_members",
    "Members of the group whose effective consumer config differs from the majority",
    ["group"],
)

# --- rankings index ----------------------------------------------------------
INDEX_FRESHNESS_SECONDS = Gauge(
    "standings_rankings_index_freshness_seconds",
    "Age of the oldest ranking change not yet in the search index (0 when caught up)",
)
INDEX_PENDING_CHANGES = Gauge(
    "standings_rankings_index_pending_changes", "Ranking changes committed in PostgreSQL but not yet indexed"
)
INDEX_DOCS_WRITTEN = Counter("standings_rankings_index_docs_total", "Ranking documents written", ["outcome"])
BREAKER_STATE = Gauge("standings_search_breaker_state", "Search circuit breaker: 0 closed, 1 half-open, 2 open")
BREAKER_TRANSITIONS = Counter("standings_search_breaker_transitions_total", "Breaker state changes", ["to"])
AUDIT_DRIFT = Gauge("standings_rankings_audit_drift_documents", "Documents differing from PostgreSQL at last audit")
AUDIT_RUNS = Counter("standings_rankings_audit_runs_total", "Drift audits run")
REINDEX_PROGRESS = Gauge("standings_reindex_progress_ratio", "Progress of the running full reindex (0-1)")
REINDEX_RUNS = Counter("standings_reindex_runs_total", "Full reindex runs", ["outcome"])

# --- read side ---------------------------------------------------------------
SSE_SUBSCRIBERS = Gauge("standings_sse_subscribers", "Open standings streams")
STANDINGS_RENDERS = Counter("standings_read_renders_total", "Standings bodies rendered (once per division version)")
