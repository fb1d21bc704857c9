"""What the OpenAPI document says of errors: the envelope (hub.md §4) and the statuses a route
may answer with, so that ``/schema/openapi.json`` describes every answer a client can get."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.openapi import ResponseSpec


class ErrorBody(msgspec.Struct, rename="camel"):
    code: str
    message: str
    request_id: str
    details: list[Any]
    result: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET  # a refused apply's plan


class ErrorEnvelope(msgspec.Struct):
    error: ErrorBody


_WHY = {
    400: "Malformed request (BAD_REQUEST, VALIDATION_FAILED)",
    401: "Not logged in, or the session is not valid (UNAUTHORIZED)",
    403: "The caller's role is below the one needed (FORBIDDEN)",
    404: "No such project, env or object, or no role in the project (NOT_FOUND)",
    409: "Refused by the env's state (CONFLICT, CHANGE_BLOCKED, DRIFT_DETECTED, ...)",
    429: "Too many login attempts (RATE_LIMITED, with Retry-After)",
    502: "The customer database did not answer as needed (CONNECTION_FAILED)",
    503: "The store or the database work pool is unavailable (SERVICE_UNAVAILABLE)",
}
BASE = (400, 401, 403, 404, 503)  # what any operator route may answer besides success


def errors(*extra: int, base: tuple[int, ...] = BASE) -> dict[int, ResponseSpec]:
    """The error answers of a route: ``base`` and ``extra``, each with the envelope's schema."""
    return {
        status: ResponseSpec(ErrorEnvelope, description=_WHY[status], generate_examples=False)
        for status in sorted({*base, *extra})
    }
