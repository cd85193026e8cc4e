"""Read API wiring without a server: one path declaration, one ETag/304 helper, explicit routers, no cycle."""

from __future__ import annotations

import ast
import asyncio
import importlib
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from services.api import app as api_app
from services.api.conditional import ConditionalResponse, etag_matches, if_none_match, send_conditional
from services.api.fastpath import StandingsFastPath
from services.api.paths import DIVISION_STANDINGS, SLUG, TOURNAMENT_STANDINGS, DivisionId, PathTemplate
from services.api.standings_routes import route_for
from services.core.settings import Settings

SERVICES = Path(__file__).resolve().parents[2] / "services"
ETAG = b'"t:d:7"'

# --- one declaration for the route and the fast path -----------------------------------------------

_SLUGGISH = st.text(alphabet="abz09_-A/. é\n", max_size=70)


@given(_SLUGGISH, _SLUGGISH)
def test_the_fast_path_matches_exactly_the_urls_the_route_validates(t: str, d: str) -> None:
    slug = TypeAdapter(DivisionId)

    def valid(value: str) -> bool:
        try:
            slug.validate_python(value)
        except ValidationError:
            return False
        return "/" not in value  # a path segment

    matched = DIVISION_STANDINGS.match(f"/v1/tournaments/{t}/divisions/{d}/standings")
    assert (matched == (t, d)) == (valid(t) and valid(d))
    if not (valid(t) and valid(d)):
        assert matched is None


def test_the_routes_are_declared_with_the_templates() -> None:
    assert route_for(DIVISION_STANDINGS).path == DIVISION_STANDINGS.path
    assert route_for(TOURNAMENT_STANDINGS).path == TOURNAMENT_STANDINGS.path
    assert StandingsFastPath(api_app.create_app(Settings(environment="test"))).route is route_for(DIVISION_STANDINGS)
    operation = api_app.create_app(Settings(environment="test")).openapi()["paths"][DIVISION_STANDINGS.path]["get"]
    patterns = {p["name"]: p["schema"]["pattern"] for p in operation["parameters"] if p["in"] == "path"}
    assert patterns == {"tournament_id": SLUG, "division_id": SLUG}


def test_a_template_refuses_parameters_it_does_not_declare() -> None:
    with pytest.raises(ValueError, match="parameters"):
        PathTemplate("/v1/x/{a}/{b}", {"a": "[a-z]+"})
    assert PathTemplate("/v1/x/{a}", {"a": "[a-z]+"}).match("/v1/x/abc\n") is None


# --- one ETag / 304 helper ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "matches"),
    [
        (b'"t:d:7"', True),
        (b' W/"t:d:7" ', True),
        (b'"x", W/"t:d:7"', True),
        (b'"x","t:d:7"', True),
        (b"*", True),
        (b'"t:d:8"', False),
        (b'"t:d:70"', False),
        (b"t:d:7", False),
        (b"", False),
    ],
)
def test_if_none_match_uses_weak_comparison(value: bytes, matches: bool) -> None:
    assert etag_matches(value, ETAG) is matches


def _scope(*headers: tuple[bytes, bytes]) -> dict[str, object]:
    return {"type": "http", "headers": list(headers)}


def test_a_current_etag_is_a_304_without_building_the_body() -> None:
    def body() -> bytes:
        raise AssertionError("a 304 has no body")

    response = ConditionalResponse(_scope((b"if-none-match", ETAG)), ETAG, body)
    assert response.status_code == 304 and response.body == b""
    assert response.raw_headers == [(b"etag", ETAG), (b"cache-control", b"no-cache")]


def test_otherwise_a_200_with_the_json_body() -> None:
    response = ConditionalResponse(_scope((b"if-none-match", b'"old"')), ETAG, b'{"a":1}')
    assert response.status_code == 200 and response.body == b'{"a":1}'
    assert response.raw_headers == [
        (b"content-type", b"application/json"),
        (b"content-length", b"7"),
        (b"etag", ETAG),
        (b"cache-control", b"no-cache"),
    ]


@pytest.mark.parametrize("inm", [ETAG, b'"old"'])
def test_the_fast_path_sends_what_the_route_returns(inm: bytes) -> None:
    """send_conditional (ASGI, fast path) and ConditionalResponse (FastAPI route): the same messages."""

    async def messages(app: Any) -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(send)
        return sent

    scope = _scope((b"if-none-match", inm))
    fast = asyncio.run(messages(lambda send: send_conditional(send, scope, ETAG, b'{"a":1}')))
    routed = asyncio.run(messages(lambda send: ConditionalResponse(scope, ETAG, b'{"a":1}')(scope, _receive, send)))
    assert fast == routed and fast[0]["status"] == (304 if inm == ETAG else 200)


async def _receive() -> dict[str, Any]:
    return {"type": "http.disconnect"}


def test_repeated_if_none_match_fields_are_one_list() -> None:
    scope = _scope((b"if-none-match", b'"a"'), (b"accept", b"*/*"), (b"if-none-match", ETAG))
    assert if_none_match(scope) == b'"a", ' + ETAG
    assert ConditionalResponse(scope, ETAG, b"{}").status_code == 304
    assert if_none_match(_scope()) is None


# --- explicit routers, no api <-> ops cycle -------------------------------------------------------


def _router_modules() -> list[str]:
    names = [f"services.api.{p.stem}" for p in sorted((SERVICES / "api").glob("*_routes.py"))]
    return [*names, "services.ops.routes"]


def test_every_router_module_is_served_with_its_lifespan() -> None:
    """Each ``*_routes`` module's routes are in the app (directly in ROUTERS or through a router that
    includes it), and its lifespan, if any, is in ROUTER_LIFESPANS: nothing is found by name at run time."""
    paths = api_app.create_app(Settings(environment="test")).openapi()["paths"]
    for name in _router_modules():
        module = importlib.import_module(name)
        for route in module.router.routes:
            if isinstance(route, APIRoute) and route.include_in_schema:
                for method in route.methods:
                    assert method.lower() in paths.get(route.path, {}), (name, method, route.path)
        lifespan = getattr(module, "lifespan", None)
        assert lifespan is None or lifespan in api_app.ROUTER_LIFESPANS, name


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("package", ["ops", "core"])
def test_the_package_does_not_import_the_api(package: str) -> None:
    offenders = {
        str(path.relative_to(SERVICES)): sorted(m for m in _imports(path) if m.startswith("services.api"))
        for path in sorted((SERVICES / package).rglob("*.py"))
    }
    assert {k: v for k, v in offenders.items() if v} == {}
