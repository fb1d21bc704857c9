"""Who may call an operator route: the operator behind the bearer token, and the role guards.

A guard runs after routing and before the route reads its body, so a caller without the role
learns nothing from the body's validation. The operator it resolves is kept on the request's
state and is the same object the ``operator`` dependency hands the route.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.handlers import BaseRouteHandler

from .deps import HubDep
from .errors import ApiError
from .service import Hub, Operator

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]


def hub_of(state: State) -> Any:
    return state.hub


def operator_of(connection: ASGIConnection[Any, Any, Any, Any], hub: Hub) -> Operator:
    """The operator of the request's bearer token, looked up once per request."""
    cached = connection.scope.get("state", {}).get("operator")
    if cached is not None:
        return cached
    header = connection.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    operator = hub.operator_for(token)
    connection.scope.setdefault("state", {})["operator"] = operator
    return operator


def operator_dependency(request: Request[Any, Any, Any], hub: HubDep) -> Operator:
    return operator_of(request, hub)


def role(needed: str, *, env: bool = False) -> Guard:
    """A guard: the caller holds ``needed`` (or more) in the path's project; with ``env``, the
    path's env exists in it too. Sync on purpose: Litestar runs it on a worker thread, and it
    reads the store."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        hub: Hub = connection.app.state.hub
        project = connection.path_params["project"]
        hub.require(operator_of(connection, hub), project, needed)
        if env:
            hub.require_env(project, connection.path_params["env"])

    guard.__name__ = f"needs_{needed}{'_in_env' if env else ''}"
    return guard


def org_admin(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """A guard: the caller is the org's owner or an org admin."""
    operator = operator_of(connection, connection.app.state.hub)
    if operator.org_role not in ("owner", "admin"):
        raise ApiError("FORBIDDEN", "creating a project needs the org owner or admin role")
