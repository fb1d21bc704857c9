"""Projects and their envs (hub.md §3)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Router, get, post

from ..access import org_admin, role
from ..deps import HubDep, OperatorDep
from ..errors import request_id
from ..openapi import errors
from ..service import check_name


class NameBody(msgspec.Struct):
    name: str


class ProjectCreated(msgspec.Struct, rename="camel"):
    name: str
    created_at: str
    created_by: str


class ProjectListed(msgspec.Struct, rename="camel"):
    name: str
    created_at: str
    role: str


class ProjectShown(msgspec.Struct, rename="camel"):
    name: str
    created_at: str
    envs: list[str]


class EnvCreated(msgspec.Struct, rename="camel"):
    project: str
    name: str
    created_at: str


class EnvListed(msgspec.Struct, rename="camel"):
    name: str
    created_at: str


@post(sync_to_thread=True, guards=[org_admin], responses=errors(409))
def create_project(
    data: NameBody, hub: HubDep, operator: OperatorDep, request: Request[Any, Any, Any]
) -> ProjectCreated:
    check_name("project", data.name)
    with hub.store.tx() as tx:
        row = tx.insert_project(data.name, operator.email)
        tx.grant(operator.id, data.name, "admin")
        tx.audit("project.create", operator.email, request_id(request), project=data.name)
    return ProjectCreated(row["name"], row["created_at"], row["created_by"])


@get(sync_to_thread=True, responses=errors(base=(401, 503)))
def list_projects(hub: HubDep, operator: OperatorDep) -> list[ProjectListed]:
    with hub.store.tx() as tx:
        rows = tx.projects()
    return [
        ProjectListed(r["name"], r["created_at"], held)
        for r in rows
        if (held := operator.role(r["name"]))
    ]


@get("/{project:str}", sync_to_thread=True, guards=[role("viewer")], responses=errors())
def show_project(project: str, hub: HubDep) -> ProjectShown:
    with hub.store.tx() as tx:
        row = tx.project(project)
        envs = [e["name"] for e in tx.envs(project)]
    assert row is not None
    return ProjectShown(project, row["created_at"], envs)


@post("/{project:str}/envs", sync_to_thread=True, guards=[role("admin")], responses=errors(409))
def create_env(
    project: str,
    data: NameBody,
    hub: HubDep,
    operator: OperatorDep,
    request: Request[Any, Any, Any],
) -> EnvCreated:
    check_name("env", data.name)
    with hub.store.tx() as tx:
        row = tx.insert_env(project, data.name)
        tx.audit("env.create", operator.email, request_id(request), project=project, env=data.name)
    return EnvCreated(project, row["name"], row["created_at"])


@get("/{project:str}/envs", sync_to_thread=True, guards=[role("viewer")], responses=errors())
def list_envs(project: str, hub: HubDep) -> list[EnvListed]:
    with hub.store.tx() as tx:
        return [EnvListed(e["name"], e["created_at"]) for e in tx.envs(project)]


router = Router(
    "/v1/projects",
    route_handlers=[create_project, list_projects, show_project, create_env, list_envs],
    tags=["projects"],
)
