"""Conditional GET for the standings representations (RFC 9110 ``If-None-Match`` / ``304``).

One decision and one set of headers for every standings answer, routed or not:

- ``304`` with ``ETag`` and ``Cache-Control``, no body, when ``If-None-Match`` names the current
  entity tag (weak comparison: ``W/"…"`` and lists match; ``*`` matches any current representation);
- else ``200`` with the JSON body, ``Content-Length``, ``ETag`` and ``Cache-Control``.

``conditional_parts`` makes the decision and the headers; ``ConditionalResponse`` (what a FastAPI
route returns) and ``send_conditional`` (what the ASGI fast path awaits, without a response object
per poll) both send exactly its parts, so routed and fast answers are the same bytes and headers.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from starlette.responses import Response
from starlette.types import Scope, Send

# Pollers must revalidate every time; the ETag makes that a 304 without a body or a query.
CACHE_CONTROL = "no-cache"
JSON = "application/json"

_CACHE_CONTROL = CACHE_CONTROL.encode()
_JSON = JSON.encode()
_ENTITY_TAG = re.compile(rb'"[^"]*"')  # opaque-tag; the W/ prefix does not matter to weak comparison

# A body, or how to build it when the answer is not a 304 (skips the work for revalidations).
Body = bytes | Callable[[], bytes]
RawHeaders = list[tuple[bytes, bytes]]


def if_none_match(scope: Scope) -> bytes | None:
    """The request's ``If-None-Match`` value; repeated fields are one list (RFC 9110 §5.3)."""
    found: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            found = value if found is None else b"%s, %s" % (found, value)
    return found


def etag_matches(if_none_match: bytes, etag: bytes) -> bool:
    """RFC 9110 weak comparison of an ``If-None-Match`` field value against the current entity tag."""
    if if_none_match == etag:  # what every poller sends back: no parsing
        return True
    value = if_none_match.strip()
    if value == b"*":
        return True
    return etag in _ENTITY_TAG.findall(value)


def conditional_parts(etag: bytes, if_none_match: bytes | None, body: Body) -> tuple[int, RawHeaders, bytes]:
    """Status, raw headers and body of the answer to a GET with this ``If-None-Match``."""
    if if_none_match is not None and etag_matches(if_none_match, etag):
        return 304, [(b"etag", etag), (b"cache-control", _CACHE_CONTROL)], b""
    content = body() if callable(body) else body
    headers = [
        (b"content-type", _JSON),
        (b"content-length", b"%d" % len(content)),
        (b"etag", etag),
        (b"cache-control", _CACHE_CONTROL),
    ]
    return 200, headers, content


class ConditionalResponse(Response):
    """A JSON representation with a strong ETag, answered 304 when the client already has it.

    Built from the request scope (``request.scope`` in a route, the ASGI scope in the fast path).
    """

    media_type = JSON

    def __init__(self, scope: Scope, etag: bytes, body: Body) -> None:
        self.status_code, self.raw_headers, self.body = conditional_parts(etag, if_none_match(scope), body)
        self.background = None


async def send_conditional(send: Send, scope: Scope, etag: bytes, body: Body) -> None:
    """Send ``ConditionalResponse(scope, etag, body)``'s status, headers and body as ASGI messages."""
    status, headers, content = conditional_parts(etag, if_none_match(scope), body)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


def historical_etag(tag: str, offset: int, body: bytes) -> bytes:
    """The ETag of a representation recomputed ``as_of_offset`` (no live version): a content hash."""
    return f'"{tag}:@{offset}:{hashlib.blake2b(body, digest_size=8).hexdigest()}"'.encode()
