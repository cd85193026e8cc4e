"""Division versions and tournament status, in the batch's transaction: the version bump that
tells every reader (``NOTIFY standings_changed``) and the lifecycle updates of a batch."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from sqlalchemy.orm import Session

from services.core.db.driver import fetchall, run
from services.core.db.projection import split_keys
from services.core.domain.projection import DivisionKey, DivisionMark

NOTIFY_CHANNEL = "standings_changed"

# One statement: bump each changed division's version and NOTIFY listeners (delivered at commit).
_BUMP_DIVISIONS = """
    WITH k AS (
        SELECT * FROM unnest(%(t)b::text[], %(d)b::text[], %(at)b::timestamptz[], %(p)b::int[], %(o)b::bigint[])
             AS k(t, d, at, p, o)
    ), u AS (
        UPDATE divisions dv
        SET version = dv.version + 1, last_event_at = GREATEST(dv.last_event_at, k.at),
            last_partition = k.p, last_offset = k.o, updated_at = now()
        FROM k
        WHERE dv.tournament_id = k.t AND dv.division_id = k.d
        RETURNING dv.tournament_id, dv.division_id, dv.version
    )
    SELECT u.tournament_id, u.division_id, u.version,
           pg_notify(%(channel)b, json_build_object('t', u.tournament_id, 'd', u.division_id, 'v', u.version)::text)
    FROM u
"""

_FINALIZE_DIVISIONS = """
    UPDATE divisions dv SET finalized_at = now()
    FROM unnest(%(t)b::text[], %(d)b::text[]) AS k(t, d)
    WHERE dv.tournament_id = k.t AND dv.division_id = k.d AND dv.finalized_at IS NULL
"""

_START_TOURNAMENTS = """
    UPDATE tournaments SET status = 'live' WHERE tournament_id = ANY(%(ids)b::text[]) AND status = 'scheduled'
"""

_FINALIZE_TOURNAMENTS = """
    UPDATE tournaments SET status = 'finalized', finalized_at = COALESCE(finalized_at, now())
    WHERE tournament_id = ANY(%(ids)b::text[]) AND status <> 'finalized'
"""


def bump_divisions(session: Session, marks: Mapping[DivisionKey, DivisionMark]) -> dict[DivisionKey, int]:
    """version + 1, last_event_at/partition/offset, and ``NOTIFY standings_changed {"t","d","v"}``."""
    if not marks:
        return {}
    ordered = sorted(marks.items())
    rows = fetchall(
        session,
        _BUMP_DIVISIONS,
        {
            "t": [k[0] for k, _ in ordered],
            "d": [k[1] for k, _ in ordered],
            "at": [m.last_event_at for _, m in ordered],
            "p": [m.partition for _, m in ordered],
            "o": [m.offset for _, m in ordered],
            "channel": NOTIFY_CHANNEL,
        },
    )
    return {(t, d): v for t, d, v, _ in rows}


def update_tournament_status(session: Session, started: Collection[str], finalized: Collection[DivisionKey]) -> None:
    """scheduled -> live on a first result; a finalize event sets the division's ``finalized_at``
    (so a replayed finalize is a no-op) and finalizes its tournament (status, ``finalized_at``)."""
    if started:
        run(session, _START_TOURNAMENTS, {"ids": sorted(started)})
    if finalized:
        ts, ds = split_keys(sorted(finalized))
        run(session, _FINALIZE_DIVISIONS, {"t": ts, "d": ds})
        run(session, _FINALIZE_TOURNAMENTS, {"ids": sorted(set(ts))})
