"""Santokit's record of what it applied, kept in the customer database itself (``stk_applied``).

Written in the apply's own transaction, so the DDL and the record of it commit together or not at
all: the Hub's store, written after the commit, may lose its copy (full disk, read-only store,
a crash) and then learns it back from here. One row per (project, env, connection) in the target
namespace; the ``stk_`` prefix is reserved, so no declared table can collide with it and the
introspection of declared tables never reads it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import sql

from santokit.core.contracts import APPLIED_TABLE, AppliedRecord
from santokit.core.errors import ApplyFailed
from santokit.core.ir import ConnectionSchema

CREATE = """
create table if not exists {table} (
    project text not null,
    env text not null,
    connection text not null,
    digest text not null,
    schema_json jsonb not null,
    ref text not null,
    actor text not null,
    request_id text not null,
    changes integer not null,
    applied_at text not null,
    primary key (project, env, connection)
)
"""

UPSERT = """
insert into {table} as r (project, env, connection, digest, schema_json, ref, actor, request_id,
                          changes, applied_at)
values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
on conflict (project, env, connection) do update
set digest = excluded.digest, schema_json = excluded.schema_json, ref = excluded.ref,
    actor = excluded.actor, request_id = excluded.request_id, changes = excluded.changes,
    applied_at = excluded.applied_at
"""

SELECT = """
select schema_json::text, ref, actor, request_id, changes, applied_at from {table}
where project = %s and env = %s and connection = %s
"""

COMMENT = (
    "Santokit's record of what it applied here (one row per project, env, connection); "
    "written with each apply's DDL; do not edit"
)


def _table(schema: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(APPLIED_TABLE))


def write(conn: psycopg.Connection[Any], schema: str, record: AppliedRecord) -> None:
    """Create the table if needed and upsert the record, inside the caller's transaction."""
    table = _table(schema)
    try:
        if not exists(conn, schema):
            conn.execute(sql.SQL(CREATE).format(table=table))
            conn.execute(sql.SQL("comment on table {} is {}").format(table, sql.Literal(COMMENT)))
        conn.execute(
            sql.SQL(UPSERT).format(table=table),
            (
                record.project,
                record.env,
                record.connection,
                record.digest,
                json.dumps(record.schema.to_json(), sort_keys=True),
                record.ref,
                record.actor,
                record.request_id,
                record.changes,
                record.applied_at,
            ),
        )
    except psycopg.Error as exc:
        reason = (exc.diag.message_primary or type(exc).__name__).strip()
        raise ApplyFailed(
            f"connection {record.connection}: could not record the apply in "
            f"{schema}.{APPLIED_TABLE} ({reason}); nothing was applied"
        ) from None


def exists(conn: psycopg.Connection[Any], schema: str) -> bool:
    row = conn.execute(
        "select to_regclass(format('%%I.%%I', %s::text, %s::text)) is not null",
        (schema, APPLIED_TABLE),
    ).fetchone()
    return bool(row and row[0])


@lru_cache(maxsize=32)
def parsed_schema(connection: str, text: str) -> ConnectionSchema:
    """The IR of a stored schema's JSON text, parsed once per text: every request of an env
    reads the same record, and IR values are immutable, so one parse serves them all."""
    return ConnectionSchema.from_json(connection, json.loads(text))


def read(
    conn: psycopg.Connection[Any], schema: str, project: str, env: str, connection: str
) -> AppliedRecord | None:
    """The row for (project, env, connection), or None (no table yet, or no row)."""
    if not exists(conn, schema):
        return None
    row = conn.execute(
        sql.SQL(SELECT).format(table=_table(schema)), (project, env, connection)
    ).fetchone()
    if row is None:
        return None
    text, ref, actor, request_id, changes, applied_at = row
    try:
        applied = parsed_schema(connection, text)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None  # edited by hand into something else: the Hub's own record stands
    return AppliedRecord(
        project, env, connection, applied, ref, actor, request_id, applied_at, changes
    )
