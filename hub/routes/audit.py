"""A project's audit trail (hub.md §3), newest first."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from litestar import Router, get

from ..access import role
from ..deps import HubDep
from ..errors import ApiError
from ..openapi import errors


class AuditEvent(msgspec.Struct, rename="camel"):
    at: str
    action: str
    actor: str
    env: str | None
    request_id: str
    detail: dict[str, Any]


@get(sync_to_thread=True, guards=[role("viewer")], responses=errors())
def audit(
    project: str,
    hub: HubDep,
    env: str | None = None,
    action: str | None = None,
    since: str | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    if not 1 <= limit <= 1000:
        raise ApiError("BAD_REQUEST", "limit must be between 1 and 1000")
    with hub.store.tx() as tx:
        rows = tx.audit_events(project, env=env, action=action, since=since, limit=limit)
    return [
        AuditEvent(
            at=r["at"],
            action=r["action"],
            actor=r["actor"],
            env=r["env"],
            request_id=r["request_id"],
            detail=json.loads(r["detail"]),
        )
        for r in rows
    ]


router = Router("/v1/projects/{project:str}/audit", route_handlers=[audit], tags=["audit"])
