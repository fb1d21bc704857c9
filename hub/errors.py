"""The error envelope of every Hub response (hub.md §4): code, message, requestId, details."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException

from santokit.core.errors import SantokitError

from .limits import clip, echo_limit

log = logging.getLogger("santokit.hub")

STATUS = {
    "BAD_REQUEST": 400,
    "VALIDATION_FAILED": 400,
    "UNAUTHORIZED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "RATE_LIMITED": 429,
    "CHANGE_BLOCKED": 409,
    "APPLY_FAILED": 409,
    "DRIFT_DETECTED": 409,
    "RELEASE_INCOMPATIBLE": 409,
    "CONNECTION_FAILED": 502,
    "INTERNAL_ERROR": 500,
    "SERVICE_UNAVAILABLE": 503,
}


class ApiError(SantokitError):
    """An error with an explicit API code (401, 403, 404 ...)."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        details: list[Any] | None = None,
        result: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, details=details or [])
        self.code = code
        self.result = result  # what a refused apply computed before it stopped (its plan)
        self.headers = headers or {}  # e.g. Retry-After on RATE_LIMITED


def request_id(request: Request[Any, Any, Any]) -> str:
    return str(request.scope.get("state", {}).get("request_id", "req_unknown"))


def envelope(
    request: Request[Any, Any, Any],
    code: str,
    message: str,
    details: list[Any] | None = None,
    result: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    limit = echo_limit()  # a message or finding quoting a client's value stays this short
    body: dict[str, Any] = {
        "error": {
            "code": code,
            "message": clip(message, limit),
            "requestId": request_id(request),
            "details": clip(details or [], limit),
        }
    }
    if result is not None:  # a refused apply's plan, so the CLI can print it whole
        body["error"]["result"] = result
    return Response(body, status_code=STATUS.get(code, 500), headers=headers)


def handle_santokit(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, SantokitError)
    headers = dict(getattr(exc, "headers", None) or {})
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return envelope(
        request, exc.code, exc.message, exc.details, getattr(exc, "result", None), headers
    )


def handle_validation(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A body that is not what the route expects: 400 with the field named, never a 500."""
    assert isinstance(exc, ValidationException)
    extra = exc.extra if isinstance(exc.extra, list) else []
    fields = [e.get("key") or e.get("source") for e in extra if isinstance(e, dict)]
    msgs = [str(e.get("message", "")) for e in extra if isinstance(e, dict)]
    where = f" ({', '.join(f for f in fields if f)})" if any(fields) else ""
    message = f"malformed request{where}: {'; '.join(m for m in msgs if m) or exc.detail}"
    return envelope(request, "BAD_REQUEST", message, extra)


def handle_http(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, HTTPException)
    if isinstance(exc, NotFoundException):
        return envelope(request, "NOT_FOUND", "no such route")
    if exc.status_code == 413:
        return envelope(request, "BAD_REQUEST", "the request body is too large")
    code = {
        400: "BAD_REQUEST",
        401: "UNAUTHORIZED",
        403: "FORBIDDEN",
        404: "NOT_FOUND",
        405: "BAD_REQUEST",
        409: "CONFLICT",
    }.get(exc.status_code, "INTERNAL_ERROR")
    return envelope(request, code, str(exc.detail))


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, RecursionError):  # a body nested thousands deep
        return envelope(request, "BAD_REQUEST", "the request body is nested too deeply")
    # the type only: an exception's text may hold data from the request
    log.error(
        "internal error", extra={"requestId": request_id(request), "error": type(exc).__name__}
    )
    return envelope(request, "INTERNAL_ERROR", "internal error; the Hub log has the request id")


EXCEPTION_HANDLERS = {
    SantokitError: handle_santokit,
    ValidationException: handle_validation,
    HTTPException: handle_http,
    Exception: handle_unexpected,
}
