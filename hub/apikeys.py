"""Project API keys, the operator side (hub.md §3, §6): create, list, revoke. Admins only.

The key leaves the Hub once, in the answer to create; the store keeps its sha256, and neither
the key nor its hash is in any other answer, log line or audit detail.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import msgspec
from litestar import Request, get, post

from santokit.core import apikeys
from santokit.core.release import Release

from .access import role
from .deps import HubDep, OperatorDep
from .errors import ApiError, request_id
from .openapi import errors

BASE = "/v1/projects/{project:str}/envs/{env:str}/apikeys"
MAX_ACTIVE_KEYS = 100
MAX_NAME_LEN = 100
MAX_ROLES = 20
ROLE_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# Roles with a meaning of their own in permissions.yaml: a key holding one would match rules
# written for end users (and owner rules, while a key has no subject).
RESERVED_ROLES = frozenset({"authenticated", "public"})
KEY_ID_RE = re.compile(r"[a-z2-7]{12}")
# SQLite has no row locks: creations in this process count one after the other.
_create_lock = threading.Lock()


class ApiKeyBody(msgspec.Struct):
    name: str
    roles: list[str]
    # a key minted before the rules that will name its roles (Flow 02)
    allowUnknownRoles: bool = False


def known_roles(tx: Any, project: str, env: str) -> list[str] | None:
    """The roles some rule of the env's current release names; None when it has no release.

    Read from the compiled ``policy`` artifact, the one every release carries (permissions.md
    §4; none in a release made before compilation); the end-user roles are left out, since no
    key may hold them.
    """
    pointer = tx.pointer(project, env)
    row = tx.release(project, pointer["release_id"]) if pointer else None
    if row is None:
        return None
    policy = Release.from_json(row["snapshot"]).policy or {}
    named = {
        role
        for entry in policy.get("tables", {}).values()
        for rules in entry.get("ops", {}).values()
        for rule in rules
        for role in rule.get("roles", ())
    }
    return sorted(named - RESERVED_ROLES)


def check_roles(
    roles: list[str], known: list[str] | None, env: str, *, allow_unknown: bool
) -> list[str]:
    """The warnings of a create, or CONFLICT when the current release's rules never name a
    role: such a key would be refused everything (product.md lists it as a must-fail)."""
    if known is None:
        return [
            f"env {env} has no release yet, so roles {', '.join(roles)} could not be checked "
            "against its rules"
        ]
    unknown = [r for r in roles if r not in known]
    if not unknown:
        return []
    shown = ", ".join(known) if known else "none"
    if allow_unknown:
        return [
            f"no rule of env {env}'s current release names role(s) {', '.join(unknown)} "
            f"(roles its rules name: {shown})"
        ]
    raise ApiError(
        "CONFLICT",
        f"no rule of env {env}'s current release names role(s) {', '.join(unknown)}; the roles "
        f"its rules name: {shown}. Fix --roles, or pass --allow-unknown-roles for a key the "
        "next release's rules will name",
        details=[{"unknownRoles": unknown, "knownRoles": known}],
    )


def check_body(body: ApiKeyBody) -> tuple[str, list[str]]:
    """The name (trimmed) and roles, or BAD_REQUEST naming the field."""
    name = body.name.strip()
    if not name or len(name) > MAX_NAME_LEN or not name.isprintable():
        raise ApiError("BAD_REQUEST", f"name must be 1 to {MAX_NAME_LEN} printable characters")
    if not body.roles:
        raise ApiError("BAD_REQUEST", "roles must name at least one role")
    if len(body.roles) > MAX_ROLES:
        raise ApiError("BAD_REQUEST", f"roles holds more than {MAX_ROLES} roles")
    for asked in body.roles:
        if not ROLE_RE.fullmatch(asked):
            raise ApiError(
                "BAD_REQUEST",
                f"roles: {asked[:70]!r} is not a role name: use lowercase letters, digits and "
                "'_', starting with a letter or '_', at most 63 characters",
            )
    reserved = sorted(set(body.roles) & RESERVED_ROLES)
    if reserved:
        raise ApiError(
            "BAD_REQUEST",
            f"roles: {reserved[0]!r} is reserved for end users (permissions.md §1: "
            "authenticated = a valid access token, public = any caller); give the key a role "
            "of its own, such as service",
        )
    if len(set(body.roles)) != len(body.roles):
        raise ApiError("BAD_REQUEST", "roles names a role twice")
    return name, list(body.roles)


class PublicKey(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    key_id: str
    project: str
    env: str
    name: str
    roles: list[str]
    status: str  # active | revoked
    created_at: str
    created_by: str
    last_used_at: str | None
    revoked_at: str | None


class CreatedKey(PublicKey):
    api_key: str  # the key itself: in this answer only
    warnings: list[str]


def public_key(row: dict[str, Any]) -> dict[str, Any]:
    """A key's metadata as every answer but create shows it: never the key, never its hash."""
    return {
        "keyId": row["key_id"],
        "project": row["project"],
        "env": row["env"],
        "name": row["name"],
        "roles": json.loads(row["roles"]),
        "status": row["status"],
        "createdAt": row["created_at"],
        "createdBy": row["created_by"],
        "lastUsedAt": row["last_used_at"],
        "revokedAt": row["revoked_at"],
    }


ADMIN = [role("admin", env=True)]


@post(BASE, sync_to_thread=True, guards=ADMIN, responses=errors(409))
def create_api_key(
    project: str,
    env: str,
    data: ApiKeyBody,
    hub: HubDep,
    operator: OperatorDep,
    request: Request[Any, Any, Any],
) -> CreatedKey:
    name, roles = check_body(data)
    new = apikeys.generate(env)
    with _create_lock, hub.store.tx() as tx:
        # 409 rather than 400: the request is well formed; the env's state refuses it, and
        # revoking a key resolves it.
        warnings = check_roles(
            roles, known_roles(tx, project, env), env, allow_unknown=data.allowUnknownRoles
        )
        if tx.count_active_api_keys(project, env) >= MAX_ACTIVE_KEYS:
            raise ApiError(
                "CONFLICT",
                f"env {env} has {MAX_ACTIVE_KEYS} active keys, the most it may have: "
                "revoke one first (stk apikey revoke --key-id ...)",
            )
        row = tx.insert_api_key(
            key_id=new.key_id,
            project=project,
            env=env,
            name=name,
            roles=roles,
            key_hash=apikeys.key_hash(new.key),
            actor=operator.email,
        )
        tx.audit(
            "apikey.create",
            operator.email,
            request_id(request),
            project=project,
            env=env,
            detail={"keyId": new.key_id, "name": name, "roles": roles},
        )
    return msgspec.convert({**public_key(row), "apiKey": new.key, "warnings": warnings}, CreatedKey)


@get(BASE, sync_to_thread=True, guards=ADMIN, responses=errors())
def list_api_keys(project: str, env: str, hub: HubDep) -> list[PublicKey]:
    with hub.store.tx() as tx:
        return [msgspec.convert(public_key(r), PublicKey) for r in tx.api_keys(project, env)]


@post(
    f"{BASE}/{{key_id:str}}/revoke",
    status_code=200,
    sync_to_thread=True,
    guards=ADMIN,
    responses=errors(),
)
def revoke_api_key(
    project: str,
    env: str,
    key_id: str,
    hub: HubDep,
    operator: OperatorDep,
    request: Request[Any, Any, Any],
) -> PublicKey:
    """Revoke a key at once: verification reads the store every time, so the very next call
    with it fails, on every Hub replica. Revoking a revoked key changes nothing."""
    with hub.store.tx() as tx:
        row = tx.api_key(key_id)
        if row is None or (row["project"], row["env"]) != (project, env):
            # the id is echoed only when it has a keyId's shape: never a pasted key
            shown = key_id if KEY_ID_RE.fullmatch(key_id) else "with that id"
            raise ApiError("NOT_FOUND", f"no API key {shown} in {project}/{env}")
        if tx.revoke_api_key(project, env, key_id):
            tx.audit(
                "apikey.revoke",
                operator.email,
                request_id(request),
                project=project,
                env=env,
                detail={"keyId": key_id, "name": row["name"]},
            )
        row = tx.api_key(key_id)
    assert row is not None
    hub.key_touches.pop(key_id, None)
    return msgspec.convert(public_key(row), PublicKey)


ROUTES = [create_api_key, list_api_keys, revoke_api_key]
