"""Releases: listing, showing, and moving env pointers by promote and rollback (hub.md §5).

A move never creates a release and never runs DDL. Its gate (schema.md §7): the target env has
no drift, and its databases are compatible with the release's schema; otherwise
RELEASE_INCOMPATIBLE with every difference, and the pointer stays where it was.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from santokit.core.compat import after_apply
from santokit.core.contracts import Engine
from santokit.core.drift import drift_items
from santokit.core.ir import ConnectionSchema, Schema
from santokit.core.logical import LOGICAL
from santokit.core.permissions import OPS, column_types
from santokit.core.release import Release

from .errors import ApiError
from .ownership import applied_schemas
from .service import Hub, Operator

MOVE_WAIT_S = 30.0
ROLLBACK_CANDIDATES = 10  # earlier releases checked for one the database can still serve


def _condition_text(condition: Mapping[str, Any] | None, types: dict[str, str]) -> str | None:
    """The condition as CEL again, each literal as its column's type writes it."""
    if condition is None:
        return None
    value = condition["value"]
    if "authSub" in value:
        right = "request.auth.sub"
    elif (kind := LOGICAL.get(types.get(condition["column"], ""))) is not None:
        right = kind.condition_literal_cel(value["literal"])
    else:
        right = json.dumps(value["literal"], ensure_ascii=False)
    return f"{condition['column']} == {right}"


def policy_summary(schema: Schema, compiled: Any) -> dict[str, Any]:
    """Per table and op, each rule's roles, condition and columns (``*`` when all of them)."""
    if not isinstance(compiled, Mapping):
        return {}
    types = {t.name: column_types(t) for _, t in schema.tables()}
    out: dict[str, Any] = {}
    for table, entry in sorted(compiled.get("tables", {}).items()):
        out[table] = {
            "connection": entry["connection"],
            "ops": {
                op: [
                    {
                        "roles": list(rule["roles"]),
                        "condition": _condition_text(rule["condition"], types.get(table, {})),
                        "columns": "*"
                        if set(rule["columns"]) == set(types.get(table, {}))
                        else list(rule["columns"]),
                    }
                    for rule in rules
                ]
                for op, rules in sorted(entry["ops"].items(), key=lambda kv: OPS.index(kv[0]))
            },
        }
    return out


def release_summary(hub: Hub, project: str, row: dict[str, Any]) -> dict[str, Any]:
    release = Release.from_json(row["snapshot"])
    schema = release.schema
    with hub.store.tx() as tx:
        envs = tx.envs_pointing_at(project, row["release_id"])
    return {
        "releaseId": row["release_id"],
        "ref": row["ref"],
        "digest": row["digest"],
        "createdAt": row["created_at"],
        "createdBy": row["created_by"],
        "tables": {c.name: [t.name for t in c.tables] for c in schema.connections},
        "permissionsDigest": release.permissions_digest,
        "policy": policy_summary(schema, release.policy),
        "artifacts": sorted(release.artifacts),
        "currentIn": envs,
    }


def load_release(hub: Hub, project: str, release_id: str) -> dict[str, Any]:
    with hub.store.tx() as tx:
        row = tx.release(project, release_id)
    if row is None:
        raise ApiError("NOT_FOUND", f"release {release_id} does not exist in project {project}")
    return row


def _schema_of(release: dict[str, Any]) -> Schema:
    return Release.from_json(release["snapshot"]).schema


def gate(
    hub: Hub,
    project: str,
    env: str,
    release: dict[str, Any],
    actor: str,
    request_id: str,
    action: str = "promote",
) -> None:
    """Refuse a move when the env's databases cannot serve the release, with every difference
    and a remedy computed from the same checks the remedy's own command will meet."""
    schema = _schema_of(release)
    with hub.store.tx() as tx:
        rows = {r["name"]: r for r in tx.connections(project, env)}
    targets = {
        conn.name: (hub.connection_url(row), row["db_schema"], hub.engine(row["engine"]))
        for conn in schema.connections
        if (row := rows.get(conn.name)) is not None
    }
    applied_by_name = applied_schemas(hub, project, env, targets, actor, request_id)
    problems: list[str] = []
    unregistered: list[str] = []
    drifted = False
    incompatible: list[tuple[Engine, str, str, ConnectionSchema]] = []
    for conn in schema.connections:
        if conn.name not in targets:
            problems.append(f"connection {conn.name} is not registered in env {env}")
            unregistered.append(conn.name)
            continue
        url, db_schema, engine = targets[conn.name]
        found = engine.compatibility(url, conn, schema=db_schema)
        problems += [f"{conn.name}: {p}" for p in found]
        if found:
            incompatible.append((engine, url, db_schema, conn))
        applied = applied_by_name.get(conn.name)
        if applied is not None:
            actual = engine.introspect(
                url, [t.name for t in applied.tables], applied, schema=db_schema
            )
            items = drift_items(applied, actual, applied)
            drifted = drifted or bool(items)
            problems += [f"{conn.name}: drift: {i.describe()}" for i in items]
    if not problems:
        return
    if unregistered:
        remedy = "register " + " and ".join(
            f"stk connections set --project {project} --env {env} --name {n} "
            f"--engine {hub.engine_option()} "
            "--db-url -"
            for n in unregistered
        )
        remedy += f", then run the {action} again"
    elif drifted:
        remedy = (
            f"resolve env {env}'s drift first (declare what the database has in schema/*.yaml "
            f"and apply it to {env}, or restore the database by hand), then run the {action} "
            "again"
        )
    elif action == "rollback":
        remedy = _rollback_remedy(hub, project, env, release)
    else:
        remedy = _promote_remedy(hub, project, env, release, incompatible, applied_by_name)
    raise ApiError(
        "RELEASE_INCOMPATIBLE",
        f"env {env} cannot serve release {release['release_id']}: "
        + "; ".join(problems)
        + f". {remedy}",
        details=problems,
    )


def _promote_remedy(
    hub: Hub,
    project: str,
    env: str,
    release: dict[str, Any],
    incompatible: list[tuple[Any, str, str, ConnectionSchema]],
    applied: dict[str, ConnectionSchema],
) -> str:
    """The step that makes the env able to serve the release, as the apply route will judge
    it: its plan must not be blocked, and applying the schema alone must not strand the env's
    current release; when it would, schema and release go together (the release is content-
    addressed, so the files of its ref give the same release and the env ends up at it)."""
    ref = release["ref"]
    hand: list[str] = []
    for engine, url, db_schema, conn in incompatible:
        plan = engine.plan(url, conn, applied.get(conn.name), hub.rules(), schema=db_schema)
        hand += [f"{c.code} {conn.name}: {c.change.describe()}: {c.remedy}" for c in plan.blocked]
    with hub.store.tx() as tx:
        pointer = tx.pointer(project, env)
        current = tx.release(project, pointer["release_id"]) if pointer else None
    stranded: list[str] = []
    if current is not None:
        target = _schema_of(release)
        for conn in _schema_of(current).connections:
            declared = target.connection(conn.name)
            if declared is not None:
                stranded += after_apply(conn, declared)
    first = (
        "do these by hand first (Santokit blocks them): " + " | ".join(hand) + "; then "
        if hand
        else ""
    )
    if stranded:
        return (
            f"{first}apply its schema and release together to env {env} from the files of ref "
            f"{ref} (applying the schema alone would leave env {env}'s current release "
            f"{current['release_id'] if current else ''} unable to run; the same files give "
            f"release {release['release_id']} again and point {env} at it): stk apply --project "
            f"{project} --env {env} --ref {ref}"
        )
    return (
        f"{first}apply its schema first, from the files of ref {ref}: stk apply --project "
        f"{project} --env {env} --only schema --ref {ref}; then run the promote again"
    )


def _rollback_remedy(hub: Hub, project: str, env: str, release: dict[str, Any]) -> str:
    """What is possible: the schema is never rolled back (hub.md §5), so name the earlier
    releases the database can still serve, and the two other ways."""
    with hub.store.tx() as tx:
        history = tx.env_releases(project, env, ROLLBACK_CANDIDATES)
        pointer = tx.pointer(project, env)
        rows = {r["name"]: r for r in tx.connections(project, env)}
    fits = []
    for row in history:
        if row["release_id"] in (release["release_id"], pointer and pointer["release_id"]):
            continue
        ok = True
        for conn in _schema_of(row).connections:
            c = rows.get(conn.name)
            if c is None or hub.engine(c["engine"]).compatibility(
                hub.connection_url(c), conn, schema=c["db_schema"]
            ):
                ok = False
                break
        if ok:
            fits.append(f"{row['release_id']} (ref {row['ref']})")
    earlier = (
        f"roll back to a release its database can serve: {', '.join(fits)}"
        if fits
        else f"none of env {env}'s earlier releases fits its database as it is"
    )
    return (
        "the schema is never rolled back, so the database must already fit the release. What "
        f"you can do: {earlier}; or fix forward: change schema/*.yaml and stk apply --project "
        f"{project} --env {env} --ref <new ref>; or change the database by hand until the "
        "differences above are gone, then run the rollback again"
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
        with hub.store.tx() as tx:
            pointer = tx.pointer(project, env)
        if pointer is not None and pointer["release_id"] == release_id:
            return {  # nothing to move, nothing to gate: say so instead of pretending
                "project": project,
                "env": env,
                "releaseId": release_id,
                "previous": release_id,
                "action": action,
                "alreadyCurrent": True,
            }
        if action == "rollback":
            with hub.store.tx() as tx:
                if not tx.was_current(project, env, release_id):
                    raise ApiError(
                        "NOT_FOUND",
                        f"release {release_id} was never current in env "
                        f"{env}; rollback goes back to a release it had",
                    )
        gate(hub, project, env, release, operator.email, request_id, action)
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
        "alreadyCurrent": False,
    }
