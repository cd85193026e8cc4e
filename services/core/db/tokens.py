"""API token repository. Callers own the transaction (nothing here commits)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from services.core.auth import (
    Principal,
    Role,
    generate_token,
    generate_token_id,
    hash_token,
    normalize_tournaments,
)
from services.core.db.schema import ApiToken


def create_token(
    session: Session, name: str, role: Role | str, tournaments: Iterable[str] = (), *, pepper: str
) -> tuple[str, str]:
    """Store a new token and return ``(token_id, plaintext)``; the plaintext is not kept anywhere."""
    role = Role(role)
    scope = normalize_tournaments(tournaments)
    if role is Role.REFEREE and not scope:
        raise ValueError("a referee token needs at least one tournament")
    token_id, plaintext = generate_token_id(), generate_token()
    session.add(
        ApiToken(
            token_id=token_id,
            token_hash=hash_token(plaintext, pepper),
            name=name,
            role=role.value,
            tournaments=scope,
        )
    )
    session.flush()
    return token_id, plaintext


def find_by_hash(session: Session, token_hash: str) -> Principal | None:
    """The principal of an active (not revoked) token with this digest."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None)))
    if row is None:
        return None
    return Principal(token_id=row.token_id, role=Role(row.role), tournaments=frozenset(row.tournaments or ()))


def revoke(session: Session, token_id: str) -> bool:
    """Revoke a token; False when no active token has that id."""
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.token_id == token_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
    return bool(getattr(result, "rowcount", 0))


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.created_at, ApiToken.token_id)))
