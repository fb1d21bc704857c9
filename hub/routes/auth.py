"""Sessions: log in (throttled), log out, and who the caller is (hub.md §3)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import msgspec
from litestar import Request, Router, get, post

from .. import auth, limits
from ..deps import HubDep, OperatorDep
from ..errors import ApiError, request_id
from ..openapi import errors
from ..service import Hub
from ..throttle import LoginThrottle


class LoginBody(msgspec.Struct):
    email: Annotated[str, msgspec.Meta(max_length=320)]
    password: Annotated[str, msgspec.Meta(max_length=1024)]


class OperatorInfo(msgspec.Struct, rename="camel"):
    email: str
    org_role: str


class Session(msgspec.Struct, rename="camel"):
    token: str
    expires_at: str
    operator: OperatorInfo


class Ok(msgspec.Struct):
    ok: bool


class Membership(msgspec.Struct):
    project: str
    role: str


class WhoAmI(msgspec.Struct, rename="camel"):
    email: str
    org_role: str
    projects: list[Membership]


@post("/login", status_code=200, responses=errors(429, base=(400, 401, 503)))
async def login(data: LoginBody, hub: HubDep, request: Request[Any, Any, Any]) -> Session:
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
) -> Session:
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
    return Session(token, expires, OperatorInfo(row["email"], row["org_role"]))


@post("/logout", status_code=200, sync_to_thread=True, responses=errors(base=(401, 503)))
def logout(request: Request[Any, Any, Any], hub: HubDep, operator: OperatorDep) -> Ok:
    token = request.headers.get("authorization", "")[7:].strip()
    with hub.store.tx() as tx:
        tx.delete_session(auth.token_hash(token))
    return Ok(True)


@get("/whoami", sync_to_thread=True, responses=errors(base=(401, 503)))
def whoami(operator: OperatorDep) -> WhoAmI:
    return WhoAmI(
        operator.email,
        operator.org_role,
        [Membership(p, r) for p, r in sorted(operator.memberships.items())],
    )


router = Router("/v1/auth", route_handlers=[login, logout, whoami], tags=["auth"])
