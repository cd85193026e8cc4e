"""What an offset gap leads to: a batch whose first message of a partition lies above the stored
next offset (:func:`~services.core.planning.batch.offset_gaps`). Decisions only; the loop acts.

Applying such a batch would move the position past messages no batch applied: a silent loss. A
gap of the consumer's making (a fetch position that moved past messages it never handed out) is
filled by reading again from the stored offset. Kafka has gaps of its own that no re-read fills:
messages deleted by retention (the partition's low watermark is past them), compacted away, or
transaction markers. So the first sighting re-reads; a gap is accepted when the low watermark is
past it, or when it comes back ``rereads`` times in a row.
"""

from __future__ import annotations

import enum
from collections import Counter

from services.core.planning.batch import OffsetGap

# Re-reads that deliver the same gap before it is taken for one of Kafka's own.
REREADS_BEFORE_ACCEPTING = 3
MAX_REMEMBERED = 10_000


class GapVerdict(enum.Enum):
    REREAD = "reread"  # seek back to the stored offset and read the batch again
    RETENTION = "retention"  # the broker holds nothing below the batch's first message: apply across
    REPEATED = "repeated"  # re-read ``rereads`` times, same gap: Kafka's own, apply across


class GapGuard:
    """Counts each gap's sightings (per member; a gap is named by partition and both offsets)."""

    def __init__(self, rereads: int = REREADS_BEFORE_ACCEPTING) -> None:
        self._rereads = rereads
        self._seen: Counter[OffsetGap] = Counter()

    def decide(self, gap: OffsetGap, low_watermark: int | None) -> GapVerdict:
        """``low_watermark``: the partition's first offset on the broker, None when it could not be read."""
        if low_watermark is not None and low_watermark >= gap.first:
            self._seen.pop(gap, None)
            return GapVerdict.RETENTION
        if len(self._seen) >= MAX_REMEMBERED:
            self._seen.clear()  # gaps a re-read filled are never seen again; forget them
        self._seen[gap] += 1
        if self._seen[gap] > self._rereads:
            del self._seen[gap]
            return GapVerdict.REPEATED
        return GapVerdict.REREAD

    def sightings(self, gap: OffsetGap) -> int:
        return self._seen[gap]
