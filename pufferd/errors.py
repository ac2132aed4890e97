"""Domain errors. Domain code raises these; one middleware maps them to HTTP (DESIGN.md)."""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a client may see; `detail` becomes the `{"detail": ...}` body."""

    status = 400

    def __init__(self, detail: Any = None, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail if detail is not None else self.default_detail
        self.headers = headers or {}

    default_detail = "Bad request"


class BadRequest(DomainError):
    status = 400
    default_detail = "Bad request"


class Unauthorized(DomainError):
    status = 401
    default_detail = "Not authenticated"

    def __init__(self, detail: Any = None, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer", **(headers or {})})


class Forbidden(DomainError):
    status = 403
    default_detail = "Forbidden"


class NotFound(DomainError):
    status = 404
    default_detail = "Not found"


class Conflict(DomainError):
    status = 409
    default_detail = "Conflict"


class PayloadTooLarge(DomainError):
    status = 413
    default_detail = "Request body too large"


class RuleViolation(DomainError):
    status = 422
    default_detail = "Request violates a rule"


def field_error(field_name: str, msg: str) -> RuleViolation:
    """A 422 shaped like a validation error, naming the body field."""
    return RuleViolation([{"loc": ["body", field_name], "msg": msg, "type": "value_error"}])


class RateLimited(DomainError):
    status = 429

    def __init__(self, retry_after: int) -> None:
        retry_after = max(1, int(retry_after))
        super().__init__(
            f"Rate limit exceeded. Retry in {retry_after} seconds.",
            headers={"Retry-After": str(retry_after)},
        )
        self.retry_after = retry_after


class Unavailable(DomainError):
    status = 503
    default_detail = "Service unavailable"
