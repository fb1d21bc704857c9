"""The ASGI layer around Litestar: a request id on every answer, URLs with control characters
and unstorable JSON strings refused before routing, and every request counted under the route
template the router matched (``scope["path_template"]``, set by Litestar's router)."""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any
from urllib.parse import unquote_to_bytes

from ulid import ULID

from . import limits
from .feed import feed_of
from .routes.health import DURATION, METRICS

log = logging.getLogger("santokit.hub")
_CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def _refuse(send: Any, rid: str, message: str) -> None:
    """A 400 envelope (hub.md §4) sent without entering the app."""
    body = json.dumps(
        {"error": {"code": "BAD_REQUEST", "message": message, "requestId": rid, "details": []}}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestIdMiddleware:
    """Gives every request an id (``X-Request-Id`` on every response) and counts it."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = f"req_{ULID()}"
        scope.setdefault("state", {})["request_id"] = rid
        start = time.perf_counter()
        status = {"code": 500}

        async def send_with_id(message: Any) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", rid.encode()))
            await send(message)

        problem = None
        if has_control_characters(scope):  # checked here, before routing: no route sees it
            problem = "the URL holds a control character"
        elif scope["method"] in ("POST", "PUT", "PATCH"):
            receive, problem = await limits.guarded_body(receive)
        if problem:
            await _refuse(send_with_id, rid, problem)
        else:
            await self.app(scope, receive, send_with_id)
            if scope["method"] in _CHANGES and status["code"] < 400:
                # a change through this Hub wakes the Bridges' held polls at once (hub/feed.py)
                feed_of(scope["app"].state).poke()
        method, route = limits.route_label(scope)
        METRICS[(method, route, status["code"])] += 1
        DURATION["sum"] += time.perf_counter() - start
        DURATION["count"] += 1
        log.info(
            "request",
            extra={
                "requestId": rid,
                "method": method,
                "route": route,
                "status": status["code"],
                "ms": round((time.perf_counter() - start) * 1000, 1),
            },
        )


_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


def has_control_characters(scope: Any) -> bool:
    """Whether the path or a query value holds a control character (percent-encoded or not):
    no name or id may, and a NUL would otherwise reach the store and fail there."""
    path = scope.get("path", "").encode("utf-8", "surrogatepass")
    query = unquote_to_bytes(scope.get("query_string", b"").replace(b"+", b" "))
    return bool(_CONTROL.search(path) or _CONTROL.search(query))
