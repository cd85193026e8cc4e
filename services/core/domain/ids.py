"""The shape of the domain's identifiers, in one place: slugs (tournaments, divisions, categories)
and free-text ids (bouts, referees), at most 64 characters (the id columns are varchar(64))."""

from __future__ import annotations

ID_MAX_LENGTH = 64
# A slug: lower-case letters, digits, '_' and '-', not starting with a separator.
SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
# The same slug with its length bound, as one URL path segment (for the ASGI fast paths' regexes).
SLUG_SEGMENT = rf"[a-z0-9][a-z0-9_-]{{0,{ID_MAX_LENGTH - 1}}}"
SLUG = rf"^{SLUG_SEGMENT}$"
# PostgreSQL text cannot hold NUL: a name or id with one was a 500 on write (psycopg DataError).
TEXT_PATTERN = r"^[^\x00]*$"
