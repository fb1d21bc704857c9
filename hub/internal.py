"""The Bridge protocol, Hub side (hub.md §7): routes under ``/internal`` for the data plane.

Every call carries ``Authorization: Bearer <service token>``, one of ``STK_BRIDGE_TOKENS``
(several while one is rotated); with none configured every call is refused. The routes are not
in the OpenAPI document: they are a contract with the Bridge, not the operator API.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Request, Router, get, post
from litestar.concurrency import sync_to_thread
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.response import Response

from santokit.core import apikeys
from santokit.core.release import Release

from . import feed as feeds
from .deps import HubDep
from .errors import ApiError
from .service import Hub

log = logging.getLogger("santokit.hub")

TOUCH_EVERY_S = 60.0
# lastUsedAt is written by one thread of its own, off the request path: a verification never
# waits for a bookkeeping write (nor, on SQLite, for the write lock).
_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stk-last-used")
IMMUTABLE = "public, max-age=31536000, immutable"
REFUSED = "the API key is not valid"  # one message for every refusal: nothing is revealed


def token_allowed(tokens: tuple[str, ...], given: str) -> bool:
    """Whether ``given`` is one of ``tokens``; every token is compared, in constant time, as
    sha256 digests so that not even a token's length shows in the timing."""
    given_hash = hashlib.sha256(given.encode("utf-8", "surrogatepass")).digest()
    allowed = False
    for token in tokens:
        allowed |= hmac.compare_digest(hashlib.sha256(token.encode()).digest(), given_hash)
    return allowed and bool(given)


async def bridge_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Runs before the route reads its parameters: a caller without a token learns nothing.
    Async on purpose: Litestar runs a sync guard in a worker thread, a hop on every call."""
    hub: Hub = connection.app.state.hub
    header = connection.headers.get("authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    if not token_allowed(hub.bridge_tokens, token):
        raise ApiError(
            "UNAUTHORIZED", "this needs a Bridge service token (Authorization: Bearer ...)"
        )


def _etag(*parts: str) -> str:
    return '"' + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32] + '"'


def _fresh(request: Request[Any, Any, Any], etag: str) -> bool:
    """Whether the caller's ``If-None-Match`` already names ``etag``."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag in tags


def _not_modified(etag: str, cache_control: str) -> Response[None]:
    return Response(None, status_code=304, headers={"ETag": etag, "Cache-Control": cache_control})


@get("/releases/current", sync_to_thread=True)
def current_release(
    project: str, env: str, hub: HubDep, request: Request[Any, Any, Any]
) -> Response[Any]:
    """What an env serves now; the Bridge polls this with ``If-None-Match`` (304 unchanged)."""
    hub.require_env(project, env)
    with hub.store.tx() as tx:
        pointer = tx.pointer(project, env)
    if pointer is None:
        raise ApiError("NOT_FOUND", f"env {env} has no release yet")
    etag = _etag(project, env, pointer["release_id"], pointer["updated_at"])
    if _fresh(request, etag):
        return _not_modified(etag, "no-cache")
    body = {
        "project": project,
        "env": env,
        "releaseId": pointer["release_id"],
        "updatedAt": pointer["updated_at"],
    }
    return Response(body, headers={"ETag": etag, "Cache-Control": "no-cache"})


@get("/releases/{release_id:str}", sync_to_thread=True)
def release(release_id: str, hub: HubDep, request: Request[Any, Any, Any]) -> Response[Any]:
    """The whole release (``Release.to_json``: schema IR, compiled permissions, ref) with its
    metadata, which the Bridge reads back with ``Release.from_json`` (the ``digest`` key lets it
    check the content). Immutable: cacheable forever, ETag = digest."""
    with hub.store.tx() as tx:
        row = tx.release_by_id(release_id)
    if row is None:
        raise ApiError("NOT_FOUND", f"release {release_id[:60]} does not exist")
    etag = f'"{row["digest"]}"'
    if _fresh(request, etag):
        return _not_modified(etag, IMMUTABLE)
    body = {
        **Release.from_json(row["snapshot"]).to_json(),
        "releaseId": row["release_id"],
        "project": row["project"],
        "digest": row["digest"],
        "ref": row["ref"],
        "createdAt": row["created_at"],
        "createdBy": row["created_by"],
    }
    return Response(body, headers={"ETag": etag, "Cache-Control": IMMUTABLE})


class VerifyBody(msgspec.Struct, rename="camel"):
    api_key: str
    project: str | None = None  # when given, a key of another project is refused
    env: str | None = None  # when given, a key of another env is refused


def verify_key(
    hub: Hub, key: str, project: str | None = None, env: str | None = None
) -> dict[str, Any]:
    """The key's identity and roles, or UNAUTHORIZED with one message for every reason.

    A malformed key or a wrong checksum is refused before the store is asked; otherwise one
    primary-key lookup by keyId and a constant-time comparison of the sha256. No cache:
    a revocation holds from the very next call, on every replica.
    """
    parsed = apikeys.parse(key)
    if parsed is None or (env is not None and parsed.env != env):
        raise ApiError("UNAUTHORIZED", REFUSED)
    with hub.store.read() as tx:
        row = tx.api_key(parsed.key_id)
    if row is None or not hmac.compare_digest(row["key_hash"], apikeys.key_hash(key)):
        raise ApiError("UNAUTHORIZED", REFUSED)
    if row["status"] != "active" or (project is not None and row["project"] != project):
        raise ApiError("UNAUTHORIZED", REFUSED)
    _touch(hub, row)
    return {
        "keyId": row["key_id"],
        "project": row["project"],
        "env": row["env"],
        "roles": json.loads(row["roles"]),
    }


def _age_s(stamp: str) -> float:
    then = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return (datetime.now(UTC) - then).total_seconds()


def _touch(hub: Hub, row: dict[str, Any]) -> None:
    """Record ``lastUsedAt`` at most once a minute per key: not when this process wrote it in
    the last minute, nor when the store says another replica did."""
    key_id, now = row["key_id"], time.monotonic()
    last = hub.key_touches.get(key_id)
    if last is not None and now - last < TOUCH_EVERY_S:
        return
    stored = row["last_used_at"]
    age = _age_s(stored) if stored else None
    if age is not None and 0 <= age < TOUCH_EVERY_S:
        hub.key_touches[key_id] = now - age  # due again one minute after that write
        return
    hub.key_touches[key_id] = now
    _writer.submit(_write_touch, hub, key_id)


def _write_touch(hub: Hub, key_id: str) -> None:
    try:
        with hub.store.tx() as tx:
            tx.touch_api_key(key_id)
    except Exception as exc:  # a missed lastUsedAt must not refuse a valid key
        hub.key_touches.pop(key_id, None)
        log.warning("could not record lastUsedAt", extra={"error": type(exc).__name__})


def settle_touches() -> None:
    """Wait until the ``lastUsedAt`` writes queued so far are done (for tests)."""
    _writer.submit(lambda: None).result()


@post("/apikeys/verify", status_code=200)
async def verify(data: VerifyBody, hub: HubDep) -> dict[str, Any]:
    """The Hub's hottest route. On SQLite the lookup runs on the event loop (a worker-thread
    hop costs more than the read: measured, bench/verify_bench.py); on PostgreSQL it waits on
    the network, so it runs in a worker thread and a slow round trip never stalls the loop."""
    if hub.store.local_reads:
        return verify_key(hub, data.api_key, data.project, data.env)
    return await sync_to_thread(verify_key, hub, data.api_key, data.project, data.env)


@get("/connections", sync_to_thread=True)
def connections(project: str, env: str, hub: HubDep) -> Response[Any]:
    """The env's connection URLs, decrypted: the only place they leave the Hub. Never logged,
    never cached."""
    hub.require_env(project, env)
    with hub.store.tx() as tx:
        rows = tx.connections(project, env)
    body = [
        {
            "name": row["name"],
            "engine": row["engine"],
            "dbUrl": hub.connection_url(row),
            "schema": row["db_schema"],
        }
        for row in rows
    ]
    return Response(body, headers={"Cache-Control": "no-store"})


@get("/apikeys", sync_to_thread=True)
def key_table(
    project: str, env: str, hub: HubDep, request: Request[Any, Any, Any]
) -> Response[Any]:
    """The env's key table for a Bridge that checks keys itself: sha256 hashes, roles and
    status, never a key. The ETag is the content's digest (304 when the Bridge holds it)."""
    hub.require_env(project, env)
    with hub.store.read() as tx:
        rows = feeds.key_rows(tx.api_keys(project, env))
    etag = _etag(json.dumps(rows, sort_keys=True))
    if _fresh(request, etag):
        return _not_modified(etag, "no-store")
    return Response(rows, headers={"ETag": etag, "Cache-Control": "no-store"})


@get("/changes")
async def changes(
    project: str,
    env: str,
    hub: HubDep,
    request: Request[Any, Any, Any],
    after: str = "",
) -> Response[Any]:
    """The long poll: at once when the env's version is not ``after``, else when it moves or
    after ``waitS`` (capped). Holds no store connection or thread while it waits."""
    feed = feeds.feed_of(request.app.state)
    raw_wait = request.query_params.get("waitS")
    try:
        wait = float(raw_wait) if raw_wait is not None else 25.0
    except ValueError:
        raise ApiError("BAD_REQUEST", "waitS must be a number of seconds") from None
    if not 0 <= wait < float("inf"):
        raise ApiError("BAD_REQUEST", "waitS must be a number of seconds, 0 or more")
    wait = min(wait, feed.settings.max_wait_s)
    hub.require_env(project, env)
    if feed.held >= feed.settings.max_held:
        raise ApiError(
            "SERVICE_UNAVAILABLE",
            "this Hub holds as many change polls as it may; retry shortly",
            headers={"Retry-After": "1"},
        )
    feed.held += 1
    try:
        deadline = time.monotonic() + wait
        while True:
            version = await sync_to_thread(feeds.env_version, hub, project, env)
            left = deadline - time.monotonic()
            if version != after or left <= 0:
                break
            await feed.wait(min(left, feed.settings.poll_s))
    finally:
        feed.held -= 1
    body = {"version": version, **feeds.moved(after, version)}
    if version == after:
        body |= dict.fromkeys(feeds.PARTS, False)
    return Response(body, headers={"Cache-Control": "no-store"})


class UsageBody(msgspec.Struct, rename="camel"):
    project: str
    env: str
    key_ids: list[str]


MAX_USAGE_KEYS = 1000


@post("/apikeys/usage", status_code=200, sync_to_thread=True)
def usage(data: UsageBody, hub: HubDep) -> dict[str, Any]:
    """Key usage a Bridge saw: ``lastUsedAt`` of each key of that env, at most one write a
    minute per key. Keys of another project or env are ignored, never touched."""
    if len(data.key_ids) > MAX_USAGE_KEYS:
        raise ApiError("BAD_REQUEST", f"at most {MAX_USAGE_KEYS} keyIds per report")
    hub.require_env(data.project, data.env)
    touched = 0
    with hub.store.read() as tx:
        rows = [tx.api_key(k[:32]) for k in dict.fromkeys(data.key_ids)]
    for row in rows:
        if row is not None and row["project"] == data.project and row["env"] == data.env:
            _touch(hub, row)
            touched += 1
    return {"recorded": touched}


router = Router(
    "/internal",
    route_handlers=[current_release, release, verify, connections, key_table, changes, usage],
    guards=[bridge_guard],
    include_in_schema=False,
    request_max_body_size=64 * 1024,
)
