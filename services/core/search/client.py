"""Build the Elasticsearch clients from ``SearchSettings``; no connection is opened here.

The official client sends ``application/vnd.elasticsearch+json; compatible-with=9``. The embedded
OpenSearch-compatible engine (osmem) answers that with 406, so with
``settings.plain_json_media_type`` the transport node rewrites the media types to plain
``application/json`` / ``application/x-ndjson`` right before sending. Real Elasticsearch takes
either; production leaves the flag off.
"""

from __future__ import annotations

import importlib.util
import re
from typing import Any

from elastic_transport import (
    AiohttpHttpNode,
    BaseAsyncNode,
    BaseNode,
    HttpHeaders,
    HttpxAsyncHttpNode,
    NodeConfig,
    Urllib3HttpNode,
)
from elastic_transport._node import NodeApiResponse
from elastic_transport.client_utils import DEFAULT, DefaultType
from elasticsearch import AsyncElasticsearch, Elasticsearch

from services.core.settings import SearchSettings

_COMPAT_MEDIA_TYPE = re.compile(r"application/vnd\.elasticsearch\+([\w.+-]+)(?:\s*;\s*compatible-with=\d+)?")


def plain_media_types(headers: HttpHeaders | None) -> HttpHeaders | None:
    """A copy of ``headers`` with vnd.elasticsearch compat media types turned into plain ones."""
    if not headers:
        return headers
    plain = HttpHeaders(headers)
    for name in ("accept", "content-type"):
        value = plain.get(name)
        if value:
            plain[name] = _COMPAT_MEDIA_TYPE.sub(r"application/\1", value)
    return plain


class PlainJsonUrllib3Node(Urllib3HttpNode):
    """urllib3 node sending plain ``application/json`` (for OpenSearch-compatible engines)."""

    def __init__(self, config: NodeConfig) -> None:
        super().__init__(config)
        self._headers = plain_media_types(self._headers) or self._headers

    def perform_request(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: HttpHeaders | None = None,
        request_timeout: DefaultType | float | None = DEFAULT,
    ) -> NodeApiResponse:
        return super().perform_request(
            method, target, body=body, headers=plain_media_types(headers), request_timeout=request_timeout
        )


class PlainJsonHttpxAsyncNode(HttpxAsyncHttpNode):
    """httpx async node sending plain ``application/json`` (for OpenSearch-compatible engines)."""

    def __init__(self, config: NodeConfig) -> None:
        super().__init__(config)
        self._headers = plain_media_types(self._headers) or self._headers

    async def perform_request(  # type: ignore[override]
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: HttpHeaders | None = None,
        request_timeout: DefaultType | float | None = DEFAULT,
    ) -> NodeApiResponse:
        return await super().perform_request(
            method, target, body=body, headers=plain_media_types(headers), request_timeout=request_timeout
        )


def _client_kwargs(settings: SearchSettings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"hosts": [settings.url], "request_timeout": settings.request_timeout_s}
    if settings.username:
        password = settings.password.get_secret_value() if settings.password else ""
        kwargs["basic_auth"] = (settings.username, password)
    if settings.api_key:
        kwargs["api_key"] = settings.api_key.get_secret_value()
    if settings.ca_certs:
        kwargs["ca_certs"] = settings.ca_certs
    return kwargs


def make_search_client(settings: SearchSettings) -> Elasticsearch:
    """A synchronous client; plain JSON media types when ``settings.plain_json_media_type``."""
    node_class: type[BaseNode] = PlainJsonUrllib3Node if settings.plain_json_media_type else Urllib3HttpNode
    return Elasticsearch(node_class=node_class, **_client_kwargs(settings))


def make_async_search_client(settings: SearchSettings) -> AsyncElasticsearch:
    """An asyncio client on aiohttp when installed, else httpx (always httpx for plain JSON)."""
    node_class: type[BaseAsyncNode]
    if settings.plain_json_media_type:
        node_class = PlainJsonHttpxAsyncNode
    elif importlib.util.find_spec("aiohttp") is not None:
        node_class = AiohttpHttpNode
    else:
        node_class = HttpxAsyncHttpNode
    return AsyncElasticsearch(node_class=node_class, **_client_kwargs(settings))
