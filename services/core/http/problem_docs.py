"""OpenAPI documentation of problem+json responses, shared by every router of the read API.

``problems(404, 422)`` gives a route's ``responses`` entries: the ``Problem`` model (RFC 9457)
with an example per status. It lives in the core so that routers of other packages
(``services.ops``) document their errors the same way without importing ``services.api``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from services.core.http.problems import (
    MALFORMED_BODY_EXAMPLE,
    NOT_JSON_EXAMPLE,
    PROBLEM_MEDIA_TYPE,
    problem_example,
)


class ProblemMembers(BaseModel):
    """The members of every RFC 9457 problem; each app's ``Problem`` adds the extensions it sends."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None


class Problem(ProblemMembers):
    """RFC 9457 problem details (media type application/problem+json)."""

    errors: list[dict[str, Any]] | None = Field(default=None, description="Schema violations (422)")
    problems: list[str] | None = Field(default=None, description="Every registration problem (import, 422)")


# The problem types are listed in docs/problems.md. A 400 is one of two: a body that cannot be
# parsed (writes) or a request a route refuses as a whole (e.g. a rankings read without a filter).
_BAD_REQUEST_EXAMPLES: dict[str, dict[str, Any]] = {
    "malformed-body": {"summary": "A request body that cannot be parsed", "value": MALFORMED_BODY_EXAMPLE},
    "bad-request": {
        "summary": "A request the route refuses as a whole",
        "value": problem_example(
            400,
            "bad-request",
            "Bad request",
            "give a category, a country or a name query (q): whole-list reads are not served",
        ),
    },
}

_PROBLEM_EXAMPLES: dict[int, tuple[str, dict[str, Any]]] = {
    400: ("Malformed body or refused request", MALFORMED_BODY_EXAMPLE),
    401: (
        "Missing or invalid bearer token",
        problem_example(401, "unauthorized", "Authentication required", "a bearer token is required"),
    ),
    403: ("Token lacks the role", problem_example(403, "forbidden", "Forbidden", "role admin required")),
    404: (
        "Unknown tournament or division",
        problem_example(
            404, "not-found", "Not found", "division 'm-99kg' of tournament 'paris-open-2026' does not exist"
        ),
    ),
    409: ("Conflicts with existing data", problem_example(409, "conflict", "Conflict", "tournament already exists")),
    413: (
        "Body too large",
        problem_example(413, "payload-too-large", "Payload too large", "request body exceeds 16384 bytes"),
    ),
    415: ("Body not declared as JSON", NOT_JSON_EXAMPLE),
    422: (
        "Invalid input",
        problem_example(
            422,
            "validation",
            "Unprocessable content",
            "the request does not match the schema",
            errors=[
                {
                    "loc": ["query", "as_of_offset"],
                    "msg": "Input should be greater than or equal to 0",
                    "type": "greater_than_equal",
                }
            ],
        ),
    ),
    503: ("Not ready", problem_example(503, "unavailable", "Service unavailable", "database unreachable")),
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the given problem statuses (problem+json with an example)."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        description, example = _PROBLEM_EXAMPLES[status]
        media: dict[str, Any] = {"examples": _BAD_REQUEST_EXAMPLES} if status == 400 else {"example": example}
        out[status] = {"model": Problem, "description": description, "content": {PROBLEM_MEDIA_TYPE: media}}
    return out
