"""The Hub's HTTP API (hub.md §3), served by Litestar: one router per resource."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.types import ControllerRouterHandler

from . import apikeys, internal
from .access import hub_of, operator_dependency
from .errors import EXCEPTION_HANDLERS
from .middleware import RequestIdMiddleware
from .routes import apply, audit, auth, connections, health, projects, releases
from .service import Hub
from .throttle import LoginSettings, LoginThrottle

ROUTES: list[ControllerRouterHandler] = [
    health.router,
    auth.router,
    projects.router,
    connections.router,
    apply.router,
    releases.router,
    audit.router,
    *apikeys.ROUTES,
    internal.router,
]


def create_app(hub: Hub) -> Any:
    """The ASGI app: Litestar inside the request-id middleware, so that even a request that no
    route matches gets an id and an envelope."""
    return RequestIdMiddleware(
        Litestar(
            route_handlers=ROUTES,
            dependencies={
                "hub": Provide(hub_of, sync_to_thread=False),
                "operator": Provide(operator_dependency, sync_to_thread=True),
            },
            exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
            state=State({"hub": hub, "login_throttle": LoginThrottle(LoginSettings.from_env())}),
            openapi_config=OpenAPIConfig(
                title="Santokit Hub", version="1", path="/schema", create_examples=False
            ),
            debug=False,
        )
    )
