"""Limits that keep one client from costing the Hub more than its answer is worth: strings the
store cannot hold refused before any handler runs, bounded echoes, bounded metric labels."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

# Litestar's own cap on a request body (its default); a larger body is refused by Litestar.
MAX_BODY = 10_000_000
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


def echo_limit() -> int:
    """How many characters of one string an error answer may hold (``STK_HUB_ECHO_MAX_CHARS``):
    a message or finding that quotes a client's value never grows with the value."""
    return max(40, int(os.environ.get("STK_HUB_ECHO_MAX_CHARS") or 2000))


def clip(value: Any, limit: int) -> Any:
    """``value`` with every string longer than ``limit`` cut, with a marker saying how much."""
    if isinstance(value, str):
        if len(value) <= limit:
            return value
        return f"{value[:limit]}... [{len(value) - limit} more characters]"
    if isinstance(value, list):
        return [clip(item, limit) for item in value]
    if isinstance(value, dict):
        return {clip(k, limit): clip(v, limit) for k, v in value.items()}
    return value


def route_label(scope: Any) -> tuple[str, str]:
    """(method, route) for metrics and logs: the route template the router matched
    (``/v1/projects/{project}``), one label for anything that matched none, so no request adds
    a series of its own."""
    method = scope.get("method", "")
    return (method if method in METHODS else "OTHER"), scope.get("path_template") or UNMATCHED


Receive = Callable[[], Awaitable[Any]]


async def guarded_body(receive: Receive) -> tuple[Receive, str | None]:
    """Read the request body ahead of the app and say what makes it unstorable, if anything;
    returns a ``receive`` that replays it. A NUL (``\\u0000``) or a lone surrogate in any JSON
    string is refused here, once for every route and both stores, before any store call."""
    messages: list[Any] = []
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:  # Litestar refuses it (413): nothing to look at
            chunks = []
            break
        chunks.append(chunk)
        if not message.get("more_body", False):
            break

    async def replay() -> Any:
        return messages.pop(0) if messages else await receive()

    return replay, body_problem(b"".join(chunks))


def body_problem(body: bytes) -> str | None:
    """Why the JSON ``body`` cannot be stored, naming the field; None when it can (or when it
    is no JSON at all: the route's own decoding answers that)."""
    if b"\\u" not in body:  # raw NULs and surrogates are invalid JSON already: the fast path
        return None
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        if "surrogate" in str(exc):
            return "malformed request: a string holds an unpaired UTF-16 surrogate"
        return None
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                where = f"{path}.{key}" if path else str(key)
                if _unstorable(key):
                    return _message(path or "(body)", "a key")
                stack.append((where, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
        elif isinstance(value, str) and _unstorable(value):
            return _message(path or "(body)", "the string")
    return None


def _unstorable(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _message(path: str, what: str) -> str:
    safe = path.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\u0000")
    shown = clip(safe, 80)
    return (
        f"malformed request ({shown}): {what} holds a NUL character (\\u0000) or an unpaired "
        "surrogate, which the Hub cannot store"
    )
