"""The apply route (schema.md §6-§7); the work itself is ``hub.apply.ApplyRun``."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Router, post
from msgspec import UNSET, UnsetType

from santokit.core.errors import SantokitError

from ..access import role
from ..apply import ApplyRun
from ..deps import HubDep, OperatorDep
from ..errors import request_id
from ..openapi import errors
from ..service import Hub, Operator
from .health import EVENTS

BLOCKED_CODES = ("CHANGE_BLOCKED", "DRIFT_DETECTED", "VALIDATION_FAILED", "CONFLICT")


class SnapshotBody(msgspec.Struct, rename="camel"):
    schema_files: dict[str, str]
    permissions_file: str | None = None


class ApplyBody(msgspec.Struct, rename="camel"):
    ref: str
    snapshot: SnapshotBody
    only: list[str] | None = None
    dry_run: bool = False


class Validation(msgspec.Struct):
    ok: bool


class ApplyResult(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """What an apply did (or, dry, would do); a step's key is there when the step ran. Unknown
    keys are refused, not dropped: a key ``ApplyRun`` adds must be declared here."""

    ref: str
    dry_run: bool
    only: list[str]
    validation: Validation
    release_id: str | None  # the release the env points at after a release step
    reused: bool | None  # whether that release existed already
    drift: list[dict[str, Any]] | UnsetType = UNSET
    schema: dict[str, Any] | UnsetType = UNSET  # per connection, its plan or what it applied
    permissions: dict[str, Any] | UnsetType = UNSET
    permissions_carried: bool | UnsetType = UNSET
    digest: str | UnsetType = UNSET  # the release's content digest
    release: dict[str, Any] | UnsetType = UNSET  # a dry run's would-be release


@post(
    "/apply",
    status_code=200,
    guards=[role("deployer", env=True)],
    responses=errors(409, 502),
)
async def apply(
    project: str,
    env: str,
    data: ApplyBody,
    hub: HubDep,
    operator: OperatorDep,
    request: Request[Any, Any, Any],
) -> ApplyResult:
    body = msgspec.to_builtins(data)
    result = await hub.db_work.run(
        lambda: _apply(project, env, body, hub, operator, request_id(request))
    )
    return msgspec.convert(result, ApplyResult)


def _apply(
    project: str, env: str, body: dict[str, Any], hub: Hub, operator: Operator, rid: str
) -> dict[str, Any]:
    try:
        result = ApplyRun(hub, operator, project, env, body, rid).run()
    except SantokitError as exc:
        EVENTS[("applies", "blocked" if exc.code in BLOCKED_CODES else "failed")] += 1
        raise
    EVENTS[("applies", "ok")] += 1
    if result.get("releaseId") and result.get("reused") is False:
        EVENTS[("releases", "")] += 1
    return result


router = Router("/v1/projects/{project:str}/envs/{env:str}", route_handlers=[apply], tags=["apply"])
