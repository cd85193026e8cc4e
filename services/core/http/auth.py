"""Bearer-token authentication and authorization as FastAPI dependencies.

The app puts a :class:`TokenAuthenticator` on ``app.state.authenticator`` in its lifespan.
Lookups are cached for a few seconds (positive and negative) so the hot path is not a
database round trip per request; a revocation therefore takes effect within ``ttl_s``.
The plaintext token is never logged or cached: the cache is keyed by its peppered digest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from services.core.auth import Principal, Role, hash_token, looks_like_token, parse_bearer
from services.core.db import tokens as token_repo
from services.core.db.errors import DATABASE_DOWN_ERRORS
from services.core.errors import Forbidden, ServiceUnavailable, Unauthorized
from services.core.logging import get_logger

log = get_logger(__name__)


class TokenAuthenticator:
    """Resolves bearer tokens to principals, with a small TTL cache in front of PostgreSQL."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        pepper: str,
        *,
        ttl_s: float = 5.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session_factory = session_factory
        self._pepper = pepper
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    async def authenticate(self, token: str) -> Principal | None:
        if not looks_like_token(token):
            return None
        digest = hash_token(token, self._pepper)
        now = self._clock()
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            principal = await anyio.to_thread.run_sync(self._lookup, digest)
        except DATABASE_DOWN_ERRORS as exc:
            log.warning("token_lookup_failed", error=type(exc).__name__)
            raise ServiceUnavailable("cannot check the token right now; the database is unavailable", 2) from None
        if len(self._cache) >= self._max_entries:
            self._evict(now)
        self._cache[digest] = (now + self._ttl_s, principal)
        return principal

    def invalidate(self) -> None:
        self._cache.clear()

    def _lookup(self, digest: str) -> Principal | None:
        with self._session_factory() as session:
            return token_repo.find_by_hash(session, digest)

    def _evict(self, now: float) -> None:
        self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
        if len(self._cache) >= self._max_entries:
            # A flood of distinct unknown tokens: drop everything rather than grow without bound.
            self._cache.clear()


def _authenticator(request: Request) -> TokenAuthenticator:
    auth: TokenAuthenticator = request.app.state.authenticator
    return auth


# Declares the bearer scheme in OpenAPI: every operation that authenticates lists it under ``security``.
# It never refuses anything itself (``auto_error=False``); ``get_principal`` parses the header and
# answers 401 problem+json for a missing, malformed, unknown or revoked token.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearerToken",
    description="An API token (`stk_…`) issued by `standings token create`, sent as `Authorization: Bearer <token>`",
)
BearerDoc = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


async def get_principal(request: Request, _documented: BearerDoc) -> Principal:
    token = parse_bearer(request.headers.get("authorization"))
    if token is None:
        raise Unauthorized("a bearer token is required")
    principal = await _authenticator(request).authenticate(token)
    if principal is None:
        raise Unauthorized("the bearer token is unknown or revoked")
    request.state.principal = principal
    return principal


require_principal = Annotated[Principal, Depends(get_principal)]


def require_role(*roles: Role) -> Any:
    """Dependency marker: ``principal: Annotated[Principal, require_role(Role.OPS)]`` (admin always passes)."""
    wanted = ", ".join(r.value for r in roles) or "admin"

    async def _check(principal: require_principal) -> Principal:
        if not principal.has_role(*roles):
            raise Forbidden(f"this action needs role {wanted}")
        return principal

    return Depends(_check)


async def get_tournament_writer(request: Request, principal: require_principal) -> Principal:
    """The caller may post results for the route's tournament (path parameter ``t``).

    Read from the path rather than declared, so the route's own validated ``t`` documents it.
    """
    t = str(request.path_params.get("t", ""))
    if not principal.can_write_results(t):
        raise Forbidden(f"this token may not write results for tournament {t!r}")
    return principal


require_tournament_writer = Annotated[Principal, Depends(get_tournament_writer)]
