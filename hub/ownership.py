"""Which tables the Hub owns: its store's applied schemas, corrected from the databases' own.

Each apply writes its record into the customer database (``stk_applied``) in the DDL's own
transaction, and into the store after the commit. The second write can be lost (full disk,
read-only store, a crash); then the tables exist and only the database knows they are Santokit's.
Before an env's applied schemas are used (apply, dry run, promote, rollback), each connection's
database record is read and adopted when the store has none or an older one, with a
``schema.reconcile`` audit event saying what had been applied, when, by whom and by which request.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from santokit.core.contracts import APPLIED_TABLE, AppliedRecord, Engine, StoreTransaction
from santokit.core.ir import ConnectionSchema

# connection name -> (url, db schema, engine), as the apply route resolves them
Target = tuple[str, str, Engine]
Targets = dict[str, Target]


def stamp() -> str:
    """The store's timestamp format: the two records of one apply carry the same string."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _adopt(
    tx: StoreTransaction,
    record: AppliedRecord,
    row: dict[str, Any] | None,
    actor: str,
    request_id: str,
) -> None:
    tx.record_applied(
        record.project,
        record.env,
        record.connection,
        json.dumps(record.schema.to_json(), sort_keys=True),
        record.digest,
        at=record.applied_at,
    )
    tx.audit(
        "schema.reconcile",
        actor,
        request_id,
        project=record.project,
        env=record.env,
        detail={
            "connection": record.connection,
            "reason": (
                f"the Hub had no record of this apply; {APPLIED_TABLE} in the database has it"
                if row is None
                else f"the Hub's record ({row['applied_at']}) was older than {APPLIED_TABLE}'s"
            ),
            "ref": record.ref,
            "appliedAt": record.applied_at,
            "appliedBy": record.actor,
            "appliedRequestId": record.request_id,
            "changes": record.changes,
            "digest": record.digest,
            "previousDigest": row["digest"] if row else None,
            "tables": [t.name for t in record.schema.tables],
        },
    )


def applied_schemas(
    hub: Any, project: str, env: str, targets: Targets, actor: str, request_id: str
) -> dict[str, ConnectionSchema]:
    """The env's applied schema per connection, reconciled from each target database's record.

    Call it under the env's guard: another apply must not write between the read and the fix.
    """
    with hub.store.tx() as tx:
        rows = tx.applied(project, env)
    for name, (url, db_schema, engine) in sorted(targets.items()):
        record = engine.applied_record(url, project, env, name, schema=db_schema)
        row = rows.get(name)
        if record is None or (row is not None and row["applied_at"] >= record.applied_at):
            continue
        with hub.store.tx() as tx:
            _adopt(tx, record, row, actor, request_id)
        rows[name] = {
            "schema_json": json.dumps(record.schema.to_json()),
            "applied_at": record.applied_at,
            "digest": record.digest,
        }
    return {name: _parsed(name, r["schema_json"]) for name, r in rows.items()}


@lru_cache(maxsize=32)
def _parsed(name: str, text: str) -> ConnectionSchema:
    """The IR of a stored applied schema, parsed once per text: every request of an env reads
    the same rows, and IR values are immutable, so one parse serves them all."""
    return ConnectionSchema.from_json(name, json.loads(text))
