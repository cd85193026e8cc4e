"""One error hierarchy. Each class carries its HTTP status; rendered once as RFC 9457 problem+json."""

from __future__ import annotations

from typing import Any


def retry_after(seconds: float) -> dict[str, str]:
    """The ``Retry-After`` header of a 429 or 503: whole seconds, at least one."""
    return {"Retry-After": str(max(1, round(seconds)))}


class AppError(Exception):
    status: int = 500
    title: str = "Internal error"
    type_slug: str = "internal"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


class BadRequest(AppError):
    status, title, type_slug = 400, "Bad request", "bad-request"


class Unauthorized(AppError):
    status, title, type_slug = 401, "Authentication required", "unauthorized"

    def __init__(self, detail: str = "a bearer token is required", **extra: Any) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="standings"'}, **extra)


class Forbidden(AppError):
    status, title, type_slug = 403, "Forbidden", "forbidden"


class NotFound(AppError):
    status, title, type_slug = 404, "Not found", "not-found"


class Conflict(AppError):
    status, title, type_slug = 409, "Conflict", "conflict"


class PayloadTooLarge(AppError):
    status, title, type_slug = 413, "Payload too large", "payload-too-large"


class UnsupportedMediaType(AppError):
    status, title, type_slug = 415, "Unsupported media type", "unsupported-media-type"


class Unprocessable(AppError):
    status, title, type_slug = 422, "Unprocessable content", "validation"


class RateLimited(AppError):
    status, title, type_slug = 429, "Too many requests", "rate-limited"

    def __init__(self, retry_after_s: float, **extra: Any) -> None:
        super().__init__(
            f"rate limit exceeded; retry in {retry_after_s:.0f} s", headers=retry_after(retry_after_s), **extra
        )


class ServiceUnavailable(AppError):
    status, title, type_slug = 503, "Service unavailable", "unavailable"

    def __init__(self, detail: str, retry_after_s: float = 1.0, **extra: Any) -> None:
        super().__init__(detail, headers=retry_after(retry_after_s), **extra)
