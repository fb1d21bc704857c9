"""Releases: listing, showing, and moving env pointers by promote and rollback (hub.md §5).

A move never creates a release and never runs DDL. Its gate (schema.md §7): the target env has
no drift, and its databases are compatible with the release's schema; otherwise
RELEASE_INCOMPATIBLE with every difference, and the pointer stays where it was.
"""

from __future__ import annotations

import json
from typing import Any

from santokit.core.drift import drift_items
from santokit.core.ir import Schema, digest
from santokit.core.permissions import OPS, column_types

from .errors import ApiError
from .ownership import applied_schemas
from .service import Hub, Operator

MOVE_WAIT_S = 30.0


def _condition_text(condition: dict[str, Any] | None, types: dict[str, str]) -> str | None:
    """The condition as CEL again; a decimal literal is kept as text in the policy but is
    written as a number."""
    if condition is None:
        return None
    value = condition["value"]
    if "authSub" in value:
        right = "request.auth.sub"
    elif types.get(condition["column"]) == "decimal":
        right = str(value["literal"])
    else:
        right = json.dumps(value["literal"], ensure_ascii=False)
    return f"{condition['column']} == {right}"


def policy_summary(schema: Schema, compiled: Any) -> dict[str, Any]:
    """Per table and op, each rule's roles, condition and columns (``*`` when all of them)."""
    if not isinstance(compiled, dict):
        return {}
    types = {t.name: column_types(t) for _, t in schema.tables()}
    out: dict[str, Any] = {}
    for table, entry in sorted(compiled.get("tables", {}).items()):
        out[table] = {
            "connection": entry["connection"],
            "ops": {
                op: [
                    {
                        "roles": rule["roles"],
                        "condition": _condition_text(rule["condition"], types.get(table, {})),
                        "columns": "*"
                        if set(rule["columns"]) == set(types.get(table, {}))
                        else rule["columns"],
                    }
                    for rule in rules
                ]
                for op, rules in sorted(entry["ops"].items(), key=lambda kv: OPS.index(kv[0]))
            },
        }
    return out


def release_summary(hub: Hub, project: str, row: dict[str, Any]) -> dict[str, Any]:
    snapshot = json.loads(row["snapshot"])
    schema = Schema.from_json(snapshot["schema"])
    permissions = snapshot.get("permissions") or {}
    if "policy" not in permissions:  # a release made before permissions were compiled
        permissions = {}
    with hub.store.tx() as tx:
        envs = tx.envs_pointing_at(project, row["release_id"])
    return {
        "releaseId": row["release_id"],
        "ref": row["ref"],
        "digest": row["digest"],
        "createdAt": row["created_at"],
        "createdBy": row["created_by"],
        "tables": {c.name: [t.name for t in c.tables] for c in schema.connections},
        "permissionsDigest": digest(snapshot.get("permissions")),
        "policy": policy_summary(schema, permissions.get("policy")),
        "artifacts": sorted(permissions),
        "currentIn": envs,
    }


def load_release(hub: Hub, project: str, release_id: str) -> dict[str, Any]:
    with hub.store.tx() as tx:
        row = tx.release(project, release_id)
    if row is None:
        raise ApiError("NOT_FOUND", f"release {release_id} does not exist in project {project}")
    return row


def gate(
    hub: Hub, project: str, env: str, release: dict[str, Any], actor: str, request_id: str
) -> None:
    """Refuse a move when the env's databases cannot serve the release."""
    schema = Schema.from_json(json.loads(release["snapshot"])["schema"])
    with hub.store.tx() as tx:
        rows = {r["name"]: r for r in tx.connections(project, env)}
    targets = {
        conn.name: (hub.connection_url(row), row["db_schema"], hub.engine(row["engine"]))
        for conn in schema.connections
        if (row := rows.get(conn.name)) is not None
    }
    applied_by_name = applied_schemas(hub, project, env, targets, actor, request_id)
    problems: list[str] = []
    for conn in schema.connections:
        if conn.name not in targets:
            problems.append(f"connection {conn.name} is not registered in env {env}")
            continue
        url, db_schema, engine = targets[conn.name]
        problems += [f"{conn.name}: {p}" for p in engine.compatibility(url, conn, schema=db_schema)]
        applied = applied_by_name.get(conn.name)
        if applied is not None:
            actual = engine.introspect(
                url, [t.name for t in applied.tables], applied, schema=db_schema
            )
            problems += [
                f"{conn.name}: drift: {i.describe()}" for i in drift_items(applied, actual, applied)
            ]
    if problems:
        raise ApiError(
            "RELEASE_INCOMPATIBLE",
            (
                f"env {env} cannot serve release {release['release_id']}: {problems[0]}"
                + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
                + f"; apply its schema first: stk apply --project {project} --env {env} --only "
                f"schema --ref {release['ref']}"
            ),
            details=problems,
        )


def move(
    hub: Hub,
    operator: Operator,
    project: str,
    env: str,
    release_id: str,
    action: str,
    request_id: str,
) -> dict[str, Any]:
    release = load_release(hub, project, release_id)
    with hub.env_guard(project, env, wait_s=MOVE_WAIT_S):
        if action == "rollback":
            with hub.store.tx() as tx:
                if not tx.was_current(project, env, release_id):
                    raise ApiError(
                        "NOT_FOUND",
                        f"release {release_id} was never current in env "
                        f"{env}; rollback goes back to a release it had",
                    )
        gate(hub, project, env, release, operator.email, request_id)
        with hub.store.tx() as tx:
            before = tx.move_pointer(project, env, release_id, action, operator.email)
            tx.audit(
                f"release.{action}",
                operator.email,
                request_id,
                project=project,
                env=env,
                detail={"from": before, "to": release_id},
            )
    return {
        "project": project,
        "env": env,
        "releaseId": release_id,
        "previous": before,
        "action": action,
    }
