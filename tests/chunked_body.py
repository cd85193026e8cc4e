"""A request body larger than a service's limit, sent chunked (no Content-Length to refuse early)."""

from __future__ import annotations

from collections.abc import Iterator


def oversized_json(opening: bytes, limit: int, chunk_size: int) -> Iterator[bytes]:
    """``opening`` (a JSON object up to an open string), then ``x`` padding in ``chunk_size`` chunks
    until past ``limit`` bytes, then the string and the object closed."""
    yield opening
    for _ in range(limit // chunk_size + 2):
        yield b"x" * chunk_size
    yield b'"}'
