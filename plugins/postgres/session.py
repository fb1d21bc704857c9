"""One request's work on one database: a session whose catalog is read once and reused.

A request (an apply, a dry run, a promote) asks several questions of one database: what would
the plan be, has anything drifted, can it serve this release. Each is answered from the same
catalog read (``Catalog``), lifted with that question's own hint, so an apply reads each
database at most twice (the plan, and the convergence check after its DDL) and a dry run once.

A write session holds the namespace's apply lock from before its first read to its close, so
the plan the Hub judged (drift, blocked changes, every connection before any DDL) is the plan
the DDL runs: no other apply can change the namespace in between.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from santokit.core.compat import incompatibilities
from santokit.core.contracts import AppliedRecord, ApplyResult, RuleContext
from santokit.core.drift import DriftItem, drift_items
from santokit.core.errors import ApplyFailed, ChangeBlocked, NotConverged
from santokit.core.ir import ConnectionSchema
from santokit.core.planning import ConnectionPlan, PlannedChange, make_plan

from . import record as applied_table
from .connect import broken, lost
from .introspect import Catalog, read_catalog
from .render import render

NOTHING_APPLIED = "nothing was applied (the transaction died with the session)"
UNKNOWN_COMMIT = (
    "the session died while committing, so the change may or may not be in the database: "
    "run the dry run (stk apply --dry-run) to see which"
)


def managed(declared: ConnectionSchema, previous: ConnectionSchema | None) -> list[str]:
    """The tables a plan looks at: those declared and those applied before."""
    names = {t.name for t in declared.tables}
    if previous:
        names |= {t.name for t in previous.tables}
    return sorted(names)


class PgSession:
    """The questions the Hub asks of one database, answered from one catalog read."""

    def __init__(
        self, conn: psycopg.Connection[Any], url: str, schema: str, *, write: bool = False
    ) -> None:
        self.conn, self.url, self.schema, self.write = conn, url, schema, write
        self._catalog: Catalog | None = None

    # -- reads ---------------------------------------------------------------------------------
    def catalog(self, tables: Iterable[str], connection: str = "") -> Catalog:
        """The catalog rows of ``tables``: the last read when it covers them, else a new read
        (of these tables and those read before, so the cache only grows)."""
        names = set(tables)
        if self._catalog is not None and self._catalog.covers(names):
            return self._catalog
        if self._catalog is not None:
            names |= self._catalog.tables
        try:
            self._catalog = read_catalog(self.conn, self.schema, names, connection)
        except psycopg.OperationalError as exc:
            if not self.write or not broken(self.conn, exc):
                raise  # the session maps it (a lock timeout is CONFLICT, not a lost session)
            raise lost(self.url, exc, NOTHING_APPLIED) from None
        return self._catalog

    def forget(self) -> None:
        """The namespace changed (DDL ran): the next question reads the catalog again."""
        self._catalog = None

    def introspect(
        self, tables: Iterable[str], hint: ConnectionSchema | None = None
    ) -> ConnectionSchema:
        names = sorted(set(tables))
        name = hint.name if hint else ""
        return self.catalog(names, name).assemble(names, hint, name)

    def plan(
        self,
        declared: ConnectionSchema,
        previous: ConnectionSchema | None = None,
        rules: Iterable[object] = (),
        *,
        moved_to: dict[str, str] | None = None,
    ) -> ConnectionPlan:
        actual = self.introspect(managed(declared, previous), declared)
        context = RuleContext(declared.name, declared, actual, previous)
        return make_plan(context, rules, lambda c: render(self.schema, c), moved_to)

    def drift(self, applied: ConnectionSchema, declared: ConnectionSchema) -> list[DriftItem]:
        actual = self.introspect([t.name for t in applied.tables], applied)
        return drift_items(applied, actual, declared)

    def compatibility(self, release: ConnectionSchema) -> list[str]:
        actual = self.introspect([t.name for t in release.tables], release)
        return incompatibilities(release, actual)

    def applied_record(self, project: str, env: str, connection: str) -> AppliedRecord | None:
        return applied_table.read(self.conn, self.schema, project, env, connection)

    # -- the write -----------------------------------------------------------------------------
    def apply(
        self,
        declared: ConnectionSchema,
        previous: ConnectionSchema | None = None,
        rules: Iterable[object] = (),
        *,
        plan: ConnectionPlan | None = None,
        moved_to: dict[str, str] | None = None,
        record: AppliedRecord | None = None,
        lock_timeout: str | None = None,
        statement_timeout: str | None = None,
    ) -> ApplyResult:
        """Run ``plan`` (default: the plan of this session's read, under the lock) in one
        transaction: refuse it when blocked, run each statement, check that planning again
        yields nothing (only when DDL ran: without it the namespace is as read), write
        ``record`` into ``stk_applied``, commit."""
        if not self.write:
            raise RuntimeError("apply needs a write session (engine.open(..., write=True))")
        rules = list(rules)
        start = time.perf_counter()
        conn = self.conn
        committing = False
        try:
            if plan is None:
                plan = self.plan(declared, previous, rules, moved_to=moved_to)
            if plan.is_blocked:
                raise ChangeBlocked(
                    f"the plan for connection {declared.name} holds "
                    f"{len(plan.blocked)} blocked change(s); nothing was applied",
                    details=[c.to_json() for c in plan.blocked],
                )
            with conn.transaction():
                if lock_timeout is not None:
                    conn.execute(f"set local lock_timeout = '{lock_timeout}'")
                if statement_timeout is not None:
                    conn.execute(f"set local statement_timeout = '{statement_timeout}'")
                for i, planned in enumerate(plan.changes, 1):
                    self.forget()
                    run_statement(conn, self.url, i, len(plan.changes), planned, declared.name)
                if plan.changes:
                    after = self.plan(declared, previous, rules, moved_to=moved_to)
                    if not after.is_empty:
                        raise NotConverged(
                            f"connection {declared.name} did not converge after apply (a "
                            "Santokit bug; nothing was applied): "
                            + "; ".join(c.change.describe() for c in after.changes)
                        )
                if record is not None:
                    done = replace(record, changes=len(plan.changes))
                    applied_table.write(conn, self.schema, done)
                committing = True
        except psycopg.OperationalError as exc:
            self.forget()
            raise lost(self.url, exc, UNKNOWN_COMMIT if committing else NOTHING_APPLIED) from None
        except BaseException:
            self.forget()  # rolled back: what was read after the DDL is not the database's
            raise
        return ApplyResult(plan, plan.changes, (time.perf_counter() - start) * 1000)


def run_statement(
    conn: psycopg.Connection[Any],
    url: str,
    i: int,
    n: int,
    planned: PlannedChange,
    connection: str,
) -> None:
    try:
        conn.execute(planned.sql.encode())
    except psycopg.Error as exc:
        if broken(conn, exc):
            raise lost(url, exc, NOTHING_APPLIED) from None
        raise _statement_failed(exc, i, n, planned, connection) from None


def _statement_failed(
    exc: psycopg.Error, i: int, n: int, planned: PlannedChange, connection: str
) -> ApplyFailed:
    """APPLY_FAILED naming the statement and the database's reason, on a session still alive."""
    where = f"statement {i} of {n} on connection {connection}"
    if isinstance(exc, pg_errors.LockNotAvailable):
        return ApplyFailed(
            f"{where} waited too long for a lock (another session holds "
            f"{planned.change.table}); nothing was applied: {planned.sql}"
        )
    if isinstance(exc, pg_errors.QueryCanceled):
        return ApplyFailed(
            f"{where} ran past the statement timeout (STK_HUB_DB_APPLY_STATEMENT_TIMEOUT_S); "
            f"nothing was applied: {planned.sql}"
        )
    reason = (exc.diag.message_primary or str(exc)).strip()
    detail = f" ({exc.diag.message_detail})" if exc.diag.message_detail else ""
    return ApplyFailed(f"{where} failed: {reason}{detail}; nothing was applied: {planned.sql}")
