"""The Hub's HTTP API (hub.md §3), served by Litestar."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import Counter
from typing import Annotated, Any
from urllib.parse import unquote_to_bytes

import msgspec
from litestar import Litestar, Request, get, post, put
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.response import Response
from ulid import ULID

from santokit.core.errors import ConnectionFailed, SantokitError

from . import apikeys, auth, internal, limits, releases
from .apply import ApplyRun
from .deps import HubDep, OperatorDep
from .errors import EXCEPTION_HANDLERS, ApiError, request_id
from .secrets import redact_url
from .service import Hub, Operator, check_name
from .throttle import LoginSettings, LoginThrottle

log = logging.getLogger("santokit.hub")
METRICS: Counter[tuple[str, str, int]] = Counter()
DURATION: dict[str, float] = {"sum": 0.0, "count": 0}
EVENTS: Counter[tuple[str, str]] = Counter()  # (metric, label) for applies and releases


# -- request bodies -----------------------------------------------------------------------------
class LoginBody(msgspec.Struct):
    email: Annotated[str, msgspec.Meta(max_length=320)]
    password: Annotated[str, msgspec.Meta(max_length=1024)]


class NameBody(msgspec.Struct):
    name: str


class ConnectionBody(msgspec.Struct, rename="camel"):
    db_url: str
    engine: str | None = None  # None: the one engine installed
    schema: str | None = None  # None: the engine's default namespace


class SnapshotBody(msgspec.Struct, rename="camel"):
    schema_files: dict[str, str]
    permissions_file: str | None = None


class PromoteBody(msgspec.Struct, rename="camel"):
    to: str
    from_: str | None = msgspec.field(default=None, name="from")
    release_id: str | None = None


class RollbackBody(msgspec.Struct):
    to: str


class ApplyBody(msgspec.Struct, rename="camel"):
    ref: str
    snapshot: SnapshotBody
    only: list[str] | None = None
    dry_run: bool = False


# -- dependencies ---------------------------------------------------------------------------------
def _hub(state: State) -> Any:
    return state.hub  # type: ignore[no-any-return]


def _operator(request: Request[Any, Any, Any], hub: HubDep) -> Operator:
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    return hub.operator_for(token)


def _public_connection(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": row["name"],
        "engine": row["engine"],
        "dbUrl": row["redacted_url"],
        "schema": row["db_schema"],
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
        "lastTestedAt": row["last_tested_at"],
    }


# -- health ---------------------------------------------------------------------------------------
@get("/healthz", include_in_schema=False, sync_to_thread=False)
def healthz() -> dict[str, bool]:
    return {"ok": True}


@get("/readyz", include_in_schema=False, sync_to_thread=True)
def readyz(hub: HubDep) -> Response[dict[str, Any]]:
    """Ready only when the store takes a committed write: a readable but full or read-only
    store would fail every mutating call while a read-only probe said ready."""
    problem = hub.store.ready()
    if problem:
        return Response({"ok": False, "reason": problem}, status_code=503)
    return Response({"ok": True}, status_code=200)


@get("/metrics", include_in_schema=False, media_type="text/plain", sync_to_thread=False)
def metrics() -> str:
    lines = ["# TYPE stk_hub_requests_total counter"]
    for (method, route, status), n in sorted(METRICS.items()):
        lines.append(
            f'stk_hub_requests_total{{method="{method}",route="{route}",status="{status}"}} {n}'
        )
    lines += [
        "# TYPE stk_hub_request_duration_seconds summary",
        f"stk_hub_request_duration_seconds_sum {DURATION['sum']:.6f}",
        f"stk_hub_request_duration_seconds_count {int(DURATION['count'])}",
        "# TYPE stk_hub_schema_applies_total counter",
    ]
    for result in ("ok", "blocked", "failed"):
        lines.append(
            f'stk_hub_schema_applies_total{{result="{result}"}} {EVENTS[("applies", result)]}'
        )
    lines += [
        "# TYPE stk_hub_releases_created_total counter",
        f"stk_hub_releases_created_total {EVENTS[('releases', '')]}",
    ]
    return "\n".join(lines) + "\n"


# -- auth -----------------------------------------------------------------------------------------
@post("/v1/auth/login", status_code=200)
async def login(data: LoginBody, hub: HubDep, request: Request[Any, Any, Any]) -> dict[str, Any]:
    """Throttled per email and per client address (hub/throttle.py) before any argon2 work,
    which runs on the throttle's own few threads: a login storm neither starves the event
    loop nor the worker threads the other routes use."""
    throttle: LoginThrottle = request.app.state.login_throttle
    address = request.client.host if request.client else "unknown"
    wait = throttle.admit(data.email, address)
    if not wait and not throttle.slots.acquire(blocking=False):  # the login queue is full
        throttle.succeeded(data.email, address)  # not a failure: give the tokens back
        wait = 1
    if wait:
        await asyncio.sleep(min(wait, throttle.settings.refuse_delay_s))
        raise ApiError(
            "RATE_LIMITED",
            f"too many login attempts; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    future = throttle.executor.submit(
        _check_login, hub, throttle, data, address, request_id(request)
    )
    future.add_done_callback(lambda _: throttle.slots.release())  # even if the client left
    return await asyncio.wrap_future(future)


def _check_login(
    hub: Hub, throttle: LoginThrottle, data: LoginBody, address: str, rid: str
) -> dict[str, Any]:
    with hub.store.tx() as tx:
        row = tx.operator_by_email(data.email)
    if not auth.verify_password(row["password_hash"] if row else None, data.password):
        with hub.store.tx() as tx:  # who tried, from where; never the password
            email = limits.clip(data.email, 320)
            tx.audit(
                "operator.login_failed",
                email,
                rid,
                detail={"email": email, "clientAddress": address},
            )
        raise ApiError("UNAUTHORIZED", "wrong email or password")
    assert row is not None
    throttle.succeeded(data.email, address)
    with hub.store.tx() as tx:
        token, digest, expires = auth.new_token()
        tx.insert_session(digest, row["id"], expires)
        tx.audit("operator.login", row["email"], rid)
    return {
        "token": token,
        "expiresAt": expires,
        "operator": {"email": row["email"], "orgRole": row["org_role"]},
    }


@post("/v1/auth/logout", status_code=200, sync_to_thread=True)
def logout(request: Request[Any, Any, Any], hub: HubDep, operator: OperatorDep) -> dict[str, bool]:
    token = request.headers.get("authorization", "")[7:].strip()
    with hub.store.tx() as tx:
        tx.delete_session(auth.token_hash(token))
    return {"ok": True}


@get("/v1/auth/whoami", sync_to_thread=True)
def whoami(operator: OperatorDep) -> dict[str, Any]:
    return {
        "email": operator.email,
        "orgRole": operator.org_role,
        "projects": [{"project": p, "role": r} for p, r in sorted(operator.memberships.items())],
    }


# -- projects and envs ----------------------------------------------------------------------------
@post("/v1/projects", sync_to_thread=True)
def create_project(
    data: NameBody, hub: HubDep, operator: OperatorDep, request: Request[Any, Any, Any]
) -> dict[str, Any]:
    check_name("project", data.name)
    if operator.org_role not in ("owner", "admin"):
        raise ApiError("FORBIDDEN", "creating a project needs the org owner or admin role")
    with hub.store.tx() as tx:
        row = tx.insert_project(data.name, operator.email)
        tx.grant(operator.id, data.name, "admin")
        tx.audit("project.create", operator.email, request_id(request), project=data.name)
    return {"name": row["name"], "createdAt": row["created_at"], "createdBy": row["created_by"]}


@get("/v1/projects", sync_to_thread=True)
def list_projects(hub: HubDep, operator: OperatorDep) -> list[dict[str, Any]]:
    with hub.store.tx() as tx:
        rows = tx.projects()
    return [
        {"name": r["name"], "createdAt": r["created_at"], "role": operator.role(r["name"])}
        for r in rows
        if operator.role(r["name"])
    ]


@get("/v1/projects/{project:str}", sync_to_thread=True)
def show_project(project: str, hub: HubDep, operator: OperatorDep) -> dict[str, Any]:
    hub.require(operator, project, "viewer")
    with hub.store.tx() as tx:
        row = tx.project(project)
        envs = [e["name"] for e in tx.envs(project)]
    assert row is not None
    return {"name": project, "createdAt": row["created_at"], "envs": envs}


@post("/v1/projects/{project:str}/envs", sync_to_thread=True)
def create_env(
    project: str,
    data: NameBody,
    hub: HubDep,
    operator: OperatorDep,
    request: Request[Any, Any, Any],
) -> dict[str, Any]:
    hub.require(operator, project, "admin")
    check_name("env", data.name)
    with hub.store.tx() as tx:
        row = tx.insert_env(project, data.name)
        tx.audit("env.create", operator.email, request_id(request), project=project, env=data.name)
    return {"project": project, "name": row["name"], "createdAt": row["created_at"]}


@get("/v1/projects/{project:str}/envs", sync_to_thread=True)
def list_envs(project: str, hub: HubDep, operator: OperatorDep) -> list[dict[str, Any]]:
    hub.require(operator, project, "viewer")
    with hub.store.tx() as tx:
        return [{"name": e["name"], "createdAt": e["created_at"]} for e in tx.envs(project)]


# -- connections ----------------------------------------------------------------------------------
BASE = "/v1/projects/{project:str}/envs/{env:str}"
BLOCKED_CODES = ("CHANGE_BLOCKED", "DRIFT_DETECTED", "VALIDATION_FAILED", "CONFLICT")


@put(f"{BASE}/connections/{{name:str}}", sync_to_thread=True)
def set_connection(
    project: str,
    env: str,
    name: str,
    data: ConnectionBody,
    hub: HubDep,
    operator: OperatorDep,
    request: Request[Any, Any, Any],
) -> dict[str, Any]:
    hub.require(operator, project, "admin")
    hub.require_env(project, env)
    check_name("connection", name)
    engine = hub.engine(data.engine) if data.engine else hub.default_engine()
    schema = engine.default_namespace if data.schema is None else data.schema
    if schema != engine.default_namespace:
        check_name("schema", schema)
    problem = engine.url_problem(data.db_url)
    if problem:
        raise ApiError("BAD_REQUEST", problem)
    redacted = redact_url(data.db_url)
    with hub.store.tx() as tx:
        created = tx.upsert_connection(
            project,
            env,
            name,
            engine=engine.name,
            ciphertext=hub.box.encrypt(data.db_url, f"{project}/{env}/{name}"),
            key_id=hub.box.key_id,
            db_schema=schema,
            redacted_url=redacted,
        )
        tx.audit(
            "connection.set",
            operator.email,
            request_id(request),
            project=project,
            env=env,
            detail={"connection": name, "engine": engine.name, "created": created},
        )
        row = tx.connection(project, env, name)
    assert row is not None
    return _public_connection(row)


def _connection_row(hub: HubDep, project: str, env: str, name: str) -> dict[str, Any]:
    with hub.store.tx() as tx:
        row = tx.connection(project, env, name)
    if row is None:
        raise ApiError("NOT_FOUND", f"connection {name} is not registered for {project}/{env}")
    return row


@get(f"{BASE}/connections", sync_to_thread=True)
def list_connections(
    project: str, env: str, hub: HubDep, operator: OperatorDep
) -> list[dict[str, Any]]:
    hub.require(operator, project, "viewer")
    hub.require_env(project, env)
    with hub.store.tx() as tx:
        return [_public_connection(r) for r in tx.connections(project, env)]


@get(f"{BASE}/connections/{{name:str}}", sync_to_thread=True)
def show_connection(
    project: str, env: str, name: str, hub: HubDep, operator: OperatorDep
) -> dict[str, Any]:
    hub.require(operator, project, "viewer")
    return _public_connection(_connection_row(hub, project, env, name))


@post(f"{BASE}/connections/{{name:str}}/test", status_code=200)
async def test_connection(
    project: str,
    env: str,
    name: str,
    hub: HubDep,
    operator: OperatorDep,
    request: Request[Any, Any, Any],
) -> dict[str, Any]:
    return await hub.db_work.run(
        lambda: _test_connection(project, env, name, hub, operator, request_id(request))
    )


def _test_connection(
    project: str, env: str, name: str, hub: Hub, operator: Operator, rid: str
) -> dict[str, Any]:
    hub.require(operator, project, "admin")
    row = _connection_row(hub, project, env, name)
    engine = hub.engine(row["engine"])
    try:
        result = engine.test(hub.connection_url(row)).to_json()
    except ConnectionFailed as exc:
        with hub.store.tx() as tx:
            tx.audit(
                "connection.test",
                operator.email,
                rid,
                project=project,
                env=env,
                detail={"connection": name, "ok": False, "error": exc.message},
            )
        raise
    with hub.store.tx() as tx:
        tx.mark_tested(project, env, name)
        tx.audit(
            "connection.test",
            operator.email,
            rid,
            project=project,
            env=env,
            detail={"connection": name, "ok": True},
        )
    return result


# -- apply ----------------------------------------------------------------------------------------
@post(f"{BASE}/apply", status_code=200)
async def apply(
    project: str,
    env: str,
    data: ApplyBody,
    hub: HubDep,
    operator: OperatorDep,
    request: Request[Any, Any, Any],
) -> dict[str, Any]:
    body = msgspec.to_builtins(data)
    return await hub.db_work.run(
        lambda: _apply(project, env, body, hub, operator, request_id(request))
    )


def _apply(
    project: str, env: str, body: dict[str, Any], hub: Hub, operator: Operator, rid: str
) -> dict[str, Any]:
    hub.require(operator, project, "deployer")
    hub.require_env(project, env)
    try:
        result = ApplyRun(hub, operator, project, env, body, rid).run()
    except SantokitError as exc:
        EVENTS[("applies", "blocked" if exc.code in BLOCKED_CODES else "failed")] += 1
        raise
    EVENTS[("applies", "ok")] += 1
    if result.get("releaseId") and result.get("reused") is False:
        EVENTS[("releases", "")] += 1
    return result


@get(f"{BASE}/releases/current", sync_to_thread=True)
def current_release(project: str, env: str, hub: HubDep, operator: OperatorDep) -> dict[str, Any]:
    hub.require(operator, project, "viewer")
    hub.require_env(project, env)
    with hub.store.tx() as tx:
        pointer = tx.pointer(project, env)
        release = tx.release(project, pointer["release_id"]) if pointer else None
    if release is None:
        raise ApiError("NOT_FOUND", f"env {env} has no release yet")
    return {
        "releaseId": release["release_id"],
        "ref": release["ref"],
        "createdAt": release["created_at"],
        "createdBy": release["created_by"],
        "digest": release["digest"],
        "updatedAt": pointer["updated_at"] if pointer else None,
    }


@get("/v1/projects/{project:str}/audit", sync_to_thread=True)
def audit(
    project: str,
    hub: HubDep,
    operator: OperatorDep,
    env: str | None = None,
    action: str | None = None,
    since: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    hub.require(operator, project, "viewer")
    if not 1 <= limit <= 1000:
        raise ApiError("BAD_REQUEST", "limit must be between 1 and 1000")
    with hub.store.tx() as tx:
        rows = tx.audit_events(project, env=env, action=action, since=since, limit=limit)
    return [
        {
            "at": r["at"],
            "action": r["action"],
            "actor": r["actor"],
            "env": r["env"],
            "requestId": r["request_id"],
            "detail": json.loads(r["detail"]),
        }
        for r in rows
    ]


@get(f"{BASE}/releases", sync_to_thread=True)
def list_releases(
    project: str, env: str, hub: HubDep, operator: OperatorDep, limit: int = 20
) -> list[dict[str, Any]]:
    hub.require(operator, project, "viewer")
    hub.require_env(project, env)
    if not 1 <= limit <= 1000:
        raise ApiError("BAD_REQUEST", "limit must be between 1 and 1000")
    with hub.store.tx() as tx:
        pointer = tx.pointer(project, env)
        rows = tx.env_releases(project, env, limit)
    current = pointer["release_id"] if pointer else None
    return [
        {
            "releaseId": r["release_id"],
            "ref": r["ref"],
            "createdAt": r["created_at"],
            "createdBy": r["created_by"],
            "status": "current" if r["release_id"] == current else "previous",
        }
        for r in rows
    ]


@get("/v1/projects/{project:str}/releases/{release_id:str}", sync_to_thread=True)
def show_release(
    project: str, release_id: str, hub: HubDep, operator: OperatorDep
) -> dict[str, Any]:
    hub.require(operator, project, "viewer")
    return releases.release_summary(hub, project, releases.load_release(hub, project, release_id))


@post("/v1/projects/{project:str}/releases/promote", status_code=200)
async def promote(
    project: str,
    data: PromoteBody,
    hub: HubDep,
    operator: OperatorDep,
    request: Request[Any, Any, Any],
) -> dict[str, Any]:
    rid = request_id(request)
    return await hub.db_work.run(lambda: _promote(project, data, hub, operator, rid))


def _promote(
    project: str, data: PromoteBody, hub: Hub, operator: Operator, rid: str
) -> dict[str, Any]:
    hub.require(operator, project, "deployer")
    hub.require_env(project, data.to)
    if (data.from_ is None) == (data.release_id is None):
        raise ApiError("BAD_REQUEST", "give exactly one of from (an env) or releaseId")
    release_id = data.release_id
    if data.from_ is not None:
        hub.require_env(project, data.from_)
        with hub.store.tx() as tx:
            pointer = tx.pointer(project, data.from_)
        if pointer is None:
            raise ApiError("NOT_FOUND", f"env {data.from_} has no release to promote")
        release_id = pointer["release_id"]
    assert release_id is not None
    return releases.move(hub, operator, project, data.to, release_id, "promote", rid)


@post(f"{BASE}/releases/rollback", status_code=200)
async def rollback(
    project: str,
    env: str,
    data: RollbackBody,
    hub: HubDep,
    operator: OperatorDep,
    request: Request[Any, Any, Any],
) -> dict[str, Any]:
    rid = request_id(request)

    def work() -> dict[str, Any]:
        hub.require(operator, project, "deployer")
        hub.require_env(project, env)
        return releases.move(hub, operator, project, env, data.to, "rollback", rid)

    return await hub.db_work.run(work)


# -- the app --------------------------------------------------------------------------------------
ROUTES = [
    healthz,
    readyz,
    metrics,
    login,
    logout,
    whoami,
    create_project,
    list_projects,
    show_project,
    create_env,
    list_envs,
    set_connection,
    list_connections,
    show_connection,
    test_connection,
    apply,
    current_release,
    audit,
    list_releases,
    show_release,
    promote,
    rollback,
    *apikeys.ROUTES,
    internal.router,
]


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


def create_app(hub: Hub) -> Any:
    """The ASGI app: Litestar inside the request-id middleware, so that even a request that no
    route matches gets an id and an envelope."""
    return RequestIdMiddleware(
        Litestar(
            route_handlers=ROUTES,
            dependencies={
                "hub": Provide(_hub, sync_to_thread=False),
                "operator": Provide(_operator, sync_to_thread=True),
            },
            exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
            state=State({"hub": hub, "login_throttle": LoginThrottle(LoginSettings.from_env())}),
            openapi_config=OpenAPIConfig(title="Santokit Hub", version="1", path="/schema"),
            debug=False,
        )
    )
