"""The shared body rule of services/core/http/problems.py, on a bare FastAPI app: 400 for a body that
cannot be parsed, 415 for one not declared as JSON, 422 for JSON that does not match the schema.

The same cases run against the real intake and read API in tests/integration/test_intake_api.py and
tests/security/test_input_hardening.py.
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict

from services.core.http.problems import (
    PROBLEM_MEDIA_TYPE,
    TYPE_BASE,
    MalformedBody,
    body_refusal,
    install_problem_handlers,
    parse_json_body,
    problem_only_openapi,
)


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    n: int
    tags: list[str] = []


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/items")
    async def create(item: Item) -> dict[str, int]:
        return {"n": item.n}

    @app.get("/items/{n}")
    async def read(n: int) -> dict[str, int]:
        return {"n": n}

    return app


APP = make_app()


def send(content: bytes | None, content_type: str | None = "application/json") -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=APP)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            headers = {"Content-Type": content_type} if content_type else {}
            return await client.post("/items", content=content, headers=headers)

    return anyio.run(go)


def problem(resp: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body: dict[str, Any] = resp.json()
    assert body["status"] == status and body["type"] == TYPE_BASE + slug, body
    assert body["title"] and body["detail"] and body["instance"].startswith("/items")
    return body


DEEP = b"[" * 5000 + b"]" * 5000


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b"{not json", "not valid JSON: Expecting property name enclosed in double quotes at character 1"),
        (b'{"n": 1', "not valid JSON: Expecting ',' delimiter at character 7"),  # truncated
        (b'{"n": ', "not valid JSON: Expecting value at character 6"),  # truncated
        (b'{"n": 1} trailing', "not valid JSON: Extra data at character 9"),
        (b'{"n": 1, "tags": ["caf\xe9"]}', "not valid UTF-8 (byte 22: invalid continuation byte)"),  # Latin-1
        (b'{"n": 1, "tags": ["\xff"]}', "not valid UTF-8 (byte 19: invalid start byte)"),
        (b"\xff\xfe garbage", "not valid JSON"),  # a stray UTF-16 BOM
        (DEEP, "nests arrays or objects deeper than the JSON parser allows"),
        (b'{"n": 1' + b"0" * 5000 + b"}", "a number has more digits than the parser accepts"),
        (b"", "the request body is empty"),
    ],
    ids=["malformed", "truncated", "truncated-value", "trailing", "latin-1", "invalid-utf8", "utf16-bom", "deep",
         "huge-number", "empty"],
)  # fmt: skip
def test_a_body_that_cannot_be_parsed_is_400_malformed_body(content: bytes, detail: str) -> None:
    body = problem(send(content), 400, "malformed-body")
    assert detail in body["detail"]
    assert "errors" not in body


@pytest.mark.parametrize(
    "content",
    [b"null", b"[]", b'"text"', b"3", b"{}", b'{"n": "3"}', b'{"n": 1, "extra": 2}', b'{"n": 1, "tags": [1]}'],
    ids=["null", "array", "string", "number", "empty-object", "string-for-int", "unknown-field", "item-type"],
)
def test_json_of_the_wrong_shape_is_422_validation(content: bytes) -> None:
    body = problem(send(content), 422, "validation")
    assert body["detail"] == "the request does not match the schema"
    assert body["errors"] and all(e["type"] != "json_invalid" for e in body["errors"])


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_not_declared_as_json_is_415(content_type: str | None) -> None:
    body = problem(send(b'{"n": 1}', content_type), 415, "unsupported-media-type")
    assert body["detail"] == "send the request body as application/json"


def test_json_media_types_and_a_valid_body_are_accepted() -> None:
    assert send(b'{"n": 1}').json() == {"n": 1}
    assert send(b'{"n": 2}', "application/merge-patch+json").json() == {"n": 2}
    assert send(b'{"n": 3}', "application/json; charset=utf-8").json() == {"n": 3}


def test_parameters_stay_422() -> None:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=APP), base_url="http://test") as client:
            return await client.get("/items/x")

    body = problem(anyio.run(go), 422, "validation")
    assert body["errors"][0]["loc"] == ["path", "n"]


def test_body_refusal_leaves_schema_errors_alone() -> None:
    assert body_refusal([{"type": "missing", "loc": ("body", "n"), "msg": "Field required", "input": {}}]) is None
    assert body_refusal([{"type": "json_invalid", "loc": ("body", "payload"), "msg": "Invalid JSON"}]) is None
    assert body_refusal([{"type": "model_attributes_type", "loc": ("body",), "input": None}]) is None
    two = [{"type": "missing", "loc": ("body",)}, {"type": "missing", "loc": ("query", "q")}]
    assert body_refusal(two) is None


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (b"", "empty"),
        (b"  \n", "empty"),
        (b"{", "not valid JSON"),
        (b'{"a": "\xff"}', "not valid UTF-8"),
        (b"\xef\xbb\xbf{}", "not valid JSON"),  # RFC 8259: no byte order mark
        (b"[" * 300 + b"]" * 300, "deeper than the JSON parser allows"),  # pydantic's limit, below the stdlib's
        (DEEP, "deeper than the JSON parser allows"),
    ],
)
def test_parse_json_body_refuses_what_the_handlers_refuse(raw: bytes, detail: str) -> None:
    with pytest.raises(MalformedBody) as info:
        parse_json_body(raw)
    assert info.value.status == 400 and info.value.type_slug == "malformed-body"
    assert detail in info.value.detail


def test_parse_json_body_parses_json() -> None:
    assert parse_json_body(b'{"a": ["\xc5\x8cno"]}') == {"a": ["Ōno"]}


def test_operations_with_a_body_document_400_and_415() -> None:
    doc = problem_only_openapi(get_openapi(title="t", version="1", routes=APP.routes), "#/components/schemas/P")
    post = doc["paths"]["/items"]["post"]["responses"]
    for status, slug in (("400", "malformed-body"), ("415", "unsupported-media-type")):
        media = post[status]["content"]
        assert list(media) == [PROBLEM_MEDIA_TYPE]
        assert media[PROBLEM_MEDIA_TYPE]["schema"] == {"$ref": "#/components/schemas/P"}
        assert media[PROBLEM_MEDIA_TYPE]["example"]["type"] == TYPE_BASE + slug
    assert "422" in post
    get = doc["paths"]["/items/{n}"]["get"]["responses"]
    assert "400" not in get and "415" not in get


@pytest.mark.parametrize(
    ("method", "path", "status", "slug"),
    [
        ("GET", "/nowhere", 404, "not-found"),
        ("DELETE", "/items", 405, "method-not-allowed"),
    ],
)
def test_starlettes_own_errors_have_named_problem_types(method: str, path: str, status: int, slug: str) -> None:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=APP), base_url="http://test") as client:
            return await client.request(method, path)

    resp = anyio.run(go)
    assert resp.status_code == status and resp.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert resp.json()["type"] == TYPE_BASE + slug
