"""The read API's path declarations: slug parameters and the standings URL templates.

One declaration per hot URL serves both the FastAPI route (its path string and its validated
parameters) and the ASGI fast path (a compiled regex that accepts exactly the values the route
accepts), so the two cannot disagree about which URLs are the standings of a division.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from services.core.domain.ids import SLUG, SLUG_SEGMENT
from services.core.http.path_template import PathTemplate, slug_path

__all__ = ["SLUG", "PathTemplate"]  # what tests and routes import from here besides the declarations

TournamentId = Annotated[str, slug_path("Tournament slug", "paris-open-2026")]
DivisionId = Annotated[str, slug_path("Division slug", "m-73kg")]

# Kafka offsets are signed 64-bit: a larger N would overflow the bigint comparison (was a 500).
MAX_OFFSET = 2**63 - 1
AsOfOffset = Annotated[
    int | None,
    Query(ge=0, le=MAX_OFFSET, description="Recompute from the stored revisions with source offset <= N"),
]

_DIVISION_PARAMS = {"tournament_id": SLUG_SEGMENT, "division_id": SLUG_SEGMENT}

DIVISION_STANDINGS = PathTemplate("/v1/tournaments/{tournament_id}/divisions/{division_id}/standings", _DIVISION_PARAMS)
DIVISION_STANDINGS_STREAM = PathTemplate(
    "/v1/tournaments/{tournament_id}/divisions/{division_id}/standings/stream", _DIVISION_PARAMS
)
TOURNAMENT_STANDINGS = PathTemplate("/v1/tournaments/{tournament_id}/standings", {"tournament_id": SLUG_SEGMENT})
DIVISION_BRACKET = PathTemplate("/v1/tournaments/{tournament_id}/divisions/{division_id}/bracket", _DIVISION_PARAMS)
DIVISION_BRACKET_STREAM = PathTemplate(
    "/v1/tournaments/{tournament_id}/divisions/{division_id}/bracket/stream", _DIVISION_PARAMS
)
