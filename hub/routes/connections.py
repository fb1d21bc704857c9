"""An env's database connections: set, list, show, test (hub.md §3). The URL is stored
encrypted; an answer shows it redacted, never whole."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Router, get, post, put

from santokit.core.errors import ConnectionFailed

from ..access import role
from ..deps import HubDep, OperatorDep
from ..errors import ApiError, request_id
from ..openapi import errors
from ..secrets import redact_url, scrub
from ..service import Hub, Operator, check_name


class ConnectionBody(msgspec.Struct, rename="camel"):
    db_url: str
    engine: str | None = None  # None: the one engine installed
    schema: str | None = None  # None: the engine's default namespace


class PublicConnection(msgspec.Struct, rename="camel"):
    name: str
    engine: str
    db_url: str  # redacted: no password
    schema: str
    created_at: str
    updated_at: str
    last_tested_at: str | None


class ConnectionTested(msgspec.Struct, rename="camel"):
    ok: bool
    server_version: str
    server: str  # the engine's label, e.g. "PostgreSQL 16.4"
    latency_ms: float


def _public_connection(row: dict[str, Any]) -> PublicConnection:
    return PublicConnection(
        name=row["name"],
        engine=row["engine"],
        db_url=row["redacted_url"],
        schema=row["db_schema"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        last_tested_at=row["last_tested_at"],
    )


@put(
    "/{name:str}",
    sync_to_thread=True,
    guards=[role("admin", env=True)],
    responses=errors(),
)
def set_connection(
    project: str,
    env: str,
    name: str,
    data: ConnectionBody,
    hub: HubDep,
    operator: OperatorDep,
    request: Request[Any, Any, Any],
) -> PublicConnection:
    check_name("connection", name)
    engine = hub.default_engine() if data.engine is None else hub.engine(data.engine)
    schema = engine.default_namespace if data.schema is None else data.schema
    if schema != engine.default_namespace:
        check_name("schema", schema)
    problem = engine.url_problem(data.db_url)
    if problem:  # an engine plugin's words: never the URL it was given
        raise ApiError("BAD_REQUEST", scrub(problem, data.db_url))
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


@get(sync_to_thread=True, guards=[role("viewer", env=True)], responses=errors())
def list_connections(project: str, env: str, hub: HubDep) -> list[PublicConnection]:
    with hub.store.tx() as tx:
        return [_public_connection(r) for r in tx.connections(project, env)]


@get("/{name:str}", sync_to_thread=True, guards=[role("viewer")], responses=errors())
def show_connection(project: str, env: str, name: str, hub: HubDep) -> PublicConnection:
    return _public_connection(_connection_row(hub, project, env, name))


@post("/{name:str}/test", status_code=200, guards=[role("admin")], responses=errors(502))
async def test_connection(
    project: str,
    env: str,
    name: str,
    hub: HubDep,
    operator: OperatorDep,
    request: Request[Any, Any, Any],
) -> ConnectionTested:
    result = await hub.db_work.run(
        lambda: _test_connection(project, env, name, hub, operator, request_id(request))
    )
    return msgspec.convert(result, ConnectionTested)


def _test_connection(
    project: str, env: str, name: str, hub: Hub, operator: Operator, rid: str
) -> dict[str, Any]:
    row = _connection_row(hub, project, env, name)
    engine = hub.engine(row["engine"])
    url = hub.connection_url(row)
    try:
        result = engine.test(url).to_json()
    except ConnectionFailed as failed:
        exc = ConnectionFailed(scrub(failed.message, url), details=failed.details)
        with hub.store.tx() as tx:
            tx.audit(
                "connection.test",
                operator.email,
                rid,
                project=project,
                env=env,
                detail={"connection": name, "ok": False, "error": exc.message},
            )
        raise exc from None
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


router = Router(
    "/v1/projects/{project:str}/envs/{env:str}/connections",
    route_handlers=[set_connection, list_connections, show_connection, test_connection],
    tags=["connections"],
)
