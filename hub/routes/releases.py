"""Releases as operators see them: an env's current one and history, one release's summary,
and the pointer moves promote and rollback (hub.md §5; the work is in ``hub.releases``)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Router, get, post

from .. import releases
from ..access import role
from ..deps import HubDep, OperatorDep
from ..errors import ApiError, request_id
from ..openapi import errors
from ..service import Hub, Operator

ENV = "/envs/{env:str}/releases"


class PromoteBody(msgspec.Struct, rename="camel"):
    to: str
    from_: str | None = msgspec.field(default=None, name="from")
    release_id: str | None = None


class RollbackBody(msgspec.Struct):
    to: str


class CurrentRelease(msgspec.Struct, rename="camel"):
    release_id: str
    ref: str
    created_at: str
    created_by: str
    digest: str
    updated_at: str | None  # when the env's pointer last moved


class ListedRelease(msgspec.Struct, rename="camel"):
    release_id: str
    ref: str
    created_at: str
    created_by: str
    status: str  # current | previous


class ReleaseSummary(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    release_id: str
    ref: str
    digest: str
    created_at: str
    created_by: str
    tables: dict[str, list[str]]  # per connection
    permissions_digest: str
    policy: dict[str, Any]  # per table and op, each rule's roles, condition and columns
    artifacts: list[str]
    current_in: list[str]  # the envs whose pointer names it


class Moved(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    project: str
    env: str
    release_id: str
    previous: str | None
    action: str  # promote | rollback
    already_current: bool


@get(f"{ENV}/current", sync_to_thread=True, guards=[role("viewer", env=True)], responses=errors())
def current_release(project: str, env: str, hub: HubDep) -> CurrentRelease:
    with hub.store.tx() as tx:
        pointer = tx.pointer(project, env)
        release = tx.release(project, pointer["release_id"]) if pointer else None
    if release is None:
        raise ApiError("NOT_FOUND", f"env {env} has no release yet")
    return CurrentRelease(
        release_id=release["release_id"],
        ref=release["ref"],
        created_at=release["created_at"],
        created_by=release["created_by"],
        digest=release["digest"],
        updated_at=pointer["updated_at"] if pointer else None,
    )


@get(ENV, sync_to_thread=True, guards=[role("viewer", env=True)], responses=errors())
def list_releases(project: str, env: str, hub: HubDep, limit: int = 20) -> list[ListedRelease]:
    if not 1 <= limit <= 1000:
        raise ApiError("BAD_REQUEST", "limit must be between 1 and 1000")
    with hub.store.tx() as tx:
        pointer = tx.pointer(project, env)
        rows = tx.env_releases(project, env, limit)
    current = pointer["release_id"] if pointer else None
    return [
        ListedRelease(
            release_id=r["release_id"],
            ref=r["ref"],
            created_at=r["created_at"],
            created_by=r["created_by"],
            status="current" if r["release_id"] == current else "previous",
        )
        for r in rows
    ]


@get("/releases/{release_id:str}", sync_to_thread=True, guards=[role("viewer")], responses=errors())
def show_release(project: str, release_id: str, hub: HubDep) -> ReleaseSummary:
    summary = releases.release_summary(
        hub, project, releases.load_release(hub, project, release_id)
    )
    return msgspec.convert(summary, ReleaseSummary)


@post(
    "/releases/promote",
    status_code=200,
    guards=[role("deployer")],
    responses=errors(409, 502),
)
async def promote(
    project: str,
    data: PromoteBody,
    hub: HubDep,
    operator: OperatorDep,
    request: Request[Any, Any, Any],
) -> Moved:
    rid = request_id(request)
    moved = await hub.db_work.run(lambda: _promote(project, data, hub, operator, rid))
    return msgspec.convert(moved, Moved)


def _promote(
    project: str, data: PromoteBody, hub: Hub, operator: Operator, rid: str
) -> dict[str, Any]:
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


@post(
    f"{ENV}/rollback",
    status_code=200,
    guards=[role("deployer", env=True)],
    responses=errors(409, 502),
)
async def rollback(
    project: str,
    env: str,
    data: RollbackBody,
    hub: HubDep,
    operator: OperatorDep,
    request: Request[Any, Any, Any],
) -> Moved:
    rid = request_id(request)

    def work() -> dict[str, Any]:
        return releases.move(hub, operator, project, env, data.to, "rollback", rid)

    return msgspec.convert(await hub.db_work.run(work), Moved)


router = Router(
    "/v1/projects/{project:str}",
    route_handlers=[current_release, list_releases, show_release, promote, rollback],
    tags=["releases"],
)
