"""The intake's path parameters and the URL templates of its bout writes.

One declaration per bout write serves both the FastAPI route (its path string and its validated
parameters) and the ASGI fast path (services/intake/fastpath.py: a regex accepting exactly the
values the route accepts).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from services.core.domain.ids import ID_MAX_LENGTH, SLUG_SEGMENT, TEXT_PATTERN
from services.core.http.path_template import PathTemplate, slug_path

TournamentId = Annotated[str, slug_path("Tournament slug", "euro-open-2026")]
# Any text but NUL (PostgreSQL cannot compare with it: a bout id with one was a 500).
BoutId = Annotated[
    str,
    Path(min_length=1, max_length=ID_MAX_LENGTH, pattern=TEXT_PATTERN, description="Bout id", examples=["b-0001"]),
]

# A slug and TEXT_PATTERN with the length bound, as path segments (a route parameter never holds '/').
_BOUT_PARAMS = {"t": SLUG_SEGMENT, "b": rf"[^/\x00]{{1,{ID_MAX_LENGTH}}}"}
BOUT_RESULTS = PathTemplate("/v1/tournaments/{t}/bouts/{b}/results", _BOUT_PARAMS)
BOUT_VOID = PathTemplate("/v1/tournaments/{t}/bouts/{b}/void", _BOUT_PARAMS)
