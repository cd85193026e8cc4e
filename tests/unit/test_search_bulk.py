"""BulkWriter item handling against a scripted HTTP endpoint (the embedded engine never answers 429):
429 items are resent with backoff, 409 is a counted success, other item errors are raised."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from services.core.search.bulk import BulkItemErrors, BulkWriter, encode
from services.core.search.client import PlainJsonUrllib3Node
from tests.elastic_reply import reply_json

Script = Callable[[int, list[dict[str, Any]]], list[dict[str, Any]]]


@pytest.fixture
def engine() -> Iterator[tuple[str, list[list[str]], list[Script]]]:
    """A tiny HTTP server answering _bulk with what the test scripts; records the ids of each request."""
    requests: list[list[str]] = []
    script: list[Script] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            lines = [json.loads(line) for line in body.splitlines() if line]
            headers = [line for line in lines if set(line) <= {"index", "delete"} and len(line) == 1]
            requests.append([next(iter(h.values()))["_id"] for h in headers])
            items = script[0](len(requests), headers)
            payload = json.dumps({"took": 1, "errors": True, "items": items}).encode()
            reply_json(self, payload)

        do_PUT = do_POST  # the client sends PUT /{index}/_bulk

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requests, script
    server.shutdown()
    server.server_close()


def _item(header: dict[str, Any], status: int, error: str | None = None) -> dict[str, Any]:
    op, meta = next(iter(header.items()))
    result: dict[str, Any] = {"_id": meta["_id"], "status": status}
    if error:
        result["error"] = {"type": error, "reason": f"{error} for {meta['_id']}"}
    return {op: result}


def _actions(*ids: str) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    return [({"index": {"_id": i, "version": 1, "version_type": "external"}}, {"n": i}) for i in ids]


def _client(url: str) -> Elasticsearch:
    return Elasticsearch(url, node_class=PlainJsonUrllib3Node, request_timeout=5)


def test_throttled_items_are_resent_alone_until_accepted(engine: tuple[str, list[list[str]], list[Script]]) -> None:
    url, requests, script = engine

    def answer(attempt: int, headers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for h in headers:
            doc = h["index"]["_id"]
            if doc == "busy" and attempt < 3:
                out.append(_item(h, 429, "es_rejected_execution_exception"))
            elif doc == "stale":
                out.append(_item(h, 409, "version_conflict_engine_exception"))
            else:
                out.append(_item(h, 201))
        return out

    script.append(answer)
    writer = BulkWriter(_client(url), initial_backoff_s=0.01, max_backoff_s=0.05)
    stats = writer.write("rankings", _actions("a", "busy", "stale"))
    assert requests == [["a", "busy", "stale"], ["busy"], ["busy"]]
    assert (stats.indexed, stats.conflicts, stats.retried) == (2, 1, 2)


def test_throttling_that_never_ends_is_raised_as_unavailable(engine: tuple[str, list[list[str]], list[Script]]) -> None:
    url, requests, script = engine
    script.append(lambda attempt, headers: [_item(h, 429, "es_rejected_execution_exception") for h in headers])
    writer = BulkWriter(_client(url), max_retries=3, initial_backoff_s=0.01, max_backoff_s=0.02)
    with pytest.raises(BulkItemErrors) as caught:
        writer.write("rankings", _actions("a"))
    assert len(requests) == 3
    assert caught.value.unavailable  # counts as a breaker failure


def test_other_item_errors_are_raised_after_the_rest_was_written(
    engine: tuple[str, list[list[str]], list[Script]],
) -> None:
    url, _, script = engine

    def answer(attempt: int, headers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            _item(h, 400, "mapper_parsing_exception") if h["index"]["_id"] == "bad" else _item(h, 201) for h in headers
        ]

    script.append(answer)
    writer = BulkWriter(_client(url), chunk_size=2)
    with pytest.raises(BulkItemErrors) as caught:
        writer.write("rankings", _actions("a", "bad", "c", "d"))
    assert [(e.doc_id, e.status, e.type) for e in caught.value.errors] == [("bad", 400, "mapper_parsing_exception")]
    assert not caught.value.unavailable and not caught.value.missing_index


def test_encode_is_ndjson_with_a_final_newline() -> None:
    body = encode([({"delete": {"_id": "x"}}, None), ({"index": {"_id": "y"}}, {"name": "Zoë"})])
    assert body == b'{"delete":{"_id":"x"}}\n{"index":{"_id":"y"}}\n{"name":"Zo\xc3\xab"}\n'
