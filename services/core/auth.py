"""API tokens and who may do what. Pure: no I/O, no framework.

A token is shown to its owner once (``stk_`` + 43 url-safe characters, 256 bits); only its
HMAC-SHA256 under the server-side pepper is stored, so a leaked database alone does not yield
usable tokens and lookups are a single indexed equality on the digest.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

TOKEN_PREFIX = "stk_"  # noqa: S105 (a prefix, not a secret)
TOKEN_ID_PREFIX = "tok_"  # noqa: S105
_TOKEN_BYTES = 32
# Anything longer than this cannot be one of ours; refuse it before hashing or a DB lookup.
MAX_TOKEN_LENGTH = 128


class Role(StrEnum):
    REFEREE = "referee"
    OPS = "ops"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller. ``tournaments`` scopes a referee; ops and admin are global."""

    token_id: str
    role: Role
    tournaments: frozenset[str] = frozenset()

    def can_write_results(self, tournament_id: str) -> bool:
        """Results and voids: a referee of that tournament, or an admin."""
        if self.role is Role.ADMIN:
            return True
        return self.role is Role.REFEREE and tournament_id in self.tournaments

    def can_operate(self) -> bool:
        """Ops actions (finalize, reindex, replay): ops or admin."""
        return self.role in (Role.OPS, Role.ADMIN)

    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def has_role(self, *roles: Role) -> bool:
        """Admin may do everything, so it satisfies every role requirement."""
        return self.role is Role.ADMIN or self.role in roles


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)


def generate_token_id() -> str:
    return TOKEN_ID_PREFIX + secrets.token_hex(8)


def hash_token(token: str, pepper: str) -> str:
    """Hex HMAC-SHA256 of the token keyed by the pepper (the only form ever stored)."""
    return hmac.new(pepper.encode(), token.encode(), hashlib.sha256).hexdigest()


def looks_like_token(token: str) -> bool:
    """Cheap shape check so garbage never reaches the cache or the database."""
    return token.startswith(TOKEN_PREFIX) and len(TOKEN_PREFIX) < len(token) <= MAX_TOKEN_LENGTH and token.isascii()


def parse_bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    value = value.strip()
    return value or None


def normalize_tournaments(tournaments: Iterable[str]) -> list[str]:
    return sorted({t.strip() for t in tournaments if t.strip()})
