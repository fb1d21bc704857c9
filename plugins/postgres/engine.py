"""The ``postgres`` engine: plan, apply and drift against one database (schema.md §6-§7).

The library API the Hub calls; every method takes a database URL and IR values, none knows HTTP.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from santokit.core.changes import Change
from santokit.core.compat import incompatibilities
from santokit.core.contracts import AppliedRecord, ApplyResult, ConnectionTest, RuleContext
from santokit.core.drift import DriftItem, drift_items
from santokit.core.errors import ApplyFailed, ChangeBlocked, Conflict, NotConverged
from santokit.core.ir import ConnectionSchema
from santokit.core.planning import ConnectionPlan, PlannedChange, make_plan

from . import record as applied_table
from .connect import DbBounds, broken, lost, session, test_connection
from .introspect import introspect
from .render import render
from .sandbox import PostgresSandbox

NOTHING_APPLIED = "nothing was applied (the transaction died with the session)"
UNKNOWN_COMMIT = (
    "the session died while committing, so the change may or may not be in the database: "
    "run the dry run (stk apply --dry-run) to see which"
)


def lock_key(schema: str) -> int:
    """The apply lock of one namespace: a stable signed 64-bit advisory-lock key.

    It names the target, never the project or env: two envs (or two Hubs) pointing at one
    database must serialise. Advisory locks are scoped to the database they are taken in, so
    the host, port and database need not be in the key, and every alias of a host (an IP, a
    name, a pooler) still meets the same lock.
    """
    raw = hashlib.sha256(f"santokit\x1fapply\x1f{schema}".encode()).digest()[:8]
    return int.from_bytes(raw, "big", signed=True)


def _managed(declared: ConnectionSchema, previous: ConnectionSchema | None) -> list[str]:
    names = {t.name for t in declared.tables}
    if previous:
        names |= {t.name for t in previous.tables}
    return sorted(names)


class PostgresEngine:
    """Plans and applies declared schemas on PostgreSQL (12 or newer)."""

    name = "postgres"
    display_name = "PostgreSQL"
    url_schemes = ("postgresql", "postgres")
    default_namespace = "public"

    def __init__(self, bounds: DbBounds | None = None) -> None:
        self.bounds = bounds or DbBounds.from_env()

    def url_problem(self, url: str) -> str | None:
        """Why ``url`` is no libpq URL (never echoing it: it may hold a password), or None."""
        if not url.startswith(tuple(f"{s}://" for s in self.url_schemes)):
            return "dbUrl must be a postgresql:// URL"
        return None

    def test(self, url: str) -> ConnectionTest:
        """The server's version and the round trip, or ConnectionFailed with a one-line reason."""
        version, latency_ms = test_connection(url, self.bounds)
        return ConnectionTest(version, latency_ms, f"{self.display_name} {version}")

    def sandbox(self, folder: Path) -> PostgresSandbox:
        """``stk dev``'s throwaway server (pgserver's binaries), kept in ``folder``."""
        return PostgresSandbox(folder)

    def render(self, change: Change, schema: str = "public") -> str:
        return render(schema, change)

    def introspect(
        self,
        url: str,
        tables: Iterable[str],
        hint: ConnectionSchema | None = None,
        *,
        schema: str = "public",
    ) -> ConnectionSchema:
        """The named tables as the database has them (missing ones are absent)."""
        with session(url, bounds=self.bounds) as conn:
            return introspect(conn, schema, tables, hint, hint.name if hint else "")

    def _plan(
        self,
        conn: psycopg.Connection[Any],
        declared: ConnectionSchema,
        previous: ConnectionSchema | None,
        rules: Iterable[object],
        schema: str,
        moved_to: dict[str, str] | None,
    ) -> ConnectionPlan:
        actual = introspect(conn, schema, _managed(declared, previous), declared, declared.name)
        context = RuleContext(declared.name, declared, actual, previous)
        return make_plan(context, rules, lambda c: render(schema, c), moved_to)

    def plan(
        self,
        url: str,
        declared: ConnectionSchema,
        previous: ConnectionSchema | None = None,
        rules: Iterable[object] = (),
        *,
        schema: str = "public",
        moved_to: dict[str, str] | None = None,
    ) -> ConnectionPlan:
        """What apply would do now, read-only (the dry run)."""
        with session(url, bounds=self.bounds) as conn:
            return self._plan(conn, declared, previous, rules, schema, moved_to)

    def apply(
        self,
        url: str,
        declared: ConnectionSchema,
        previous: ConnectionSchema | None = None,
        rules: Iterable[object] = (),
        *,
        schema: str = "public",
        lock_wait_s: float | None = None,
        lock_timeout: str | None = None,
        statement_timeout: str | None = None,
        moved_to: dict[str, str] | None = None,
        record: AppliedRecord | None = None,
    ) -> ApplyResult:
        """Apply the safe plan in one transaction, or change nothing.

        Takes the advisory lock of the target namespace (CONFLICT after ``lock_wait_s``),
        re-plans from the live state inside the transaction, refuses a blocked plan
        (CHANGE_BLOCKED), runs every statement (APPLY_FAILED when one fails), and verifies that
        planning again yields nothing before committing. A session that dies or stops answering
        is CONNECTION_FAILED; either way the transaction and the lock die with it. Before
        committing it writes ``record`` (with the number of changes) into ``stk_applied``: the
        database then holds its own proof of ownership whatever becomes of the Hub's copy.
        """
        rules = list(rules)
        bounds = self.bounds
        key = lock_key(schema)
        start = time.perf_counter()
        with session(url, bounds=bounds, statement_s=bounds.apply_statement_s) as conn:
            self._acquire(
                conn, key, bounds.apply_lock_wait_s if lock_wait_s is None else lock_wait_s
            )
            committing = False
            try:
                with conn.transaction():
                    if lock_timeout is not None:
                        conn.execute(f"set local lock_timeout = '{lock_timeout}'")
                    if statement_timeout is not None:
                        conn.execute(f"set local statement_timeout = '{statement_timeout}'")
                    plan = self._plan(conn, declared, previous, rules, schema, moved_to)
                    if plan.is_blocked:
                        raise ChangeBlocked(
                            f"the plan for connection {declared.name} holds "
                            f"{len(plan.blocked)} blocked change(s); nothing was applied",
                            details=[c.to_json() for c in plan.blocked],
                        )
                    for i, planned in enumerate(plan.changes, 1):
                        self._run(conn, url, i, len(plan.changes), planned, declared.name)
                    after = self._plan(conn, declared, previous, rules, schema, moved_to)
                    if not after.is_empty:
                        raise NotConverged(
                            f"connection {declared.name} did not converge after apply (a "
                            "Santokit bug; nothing was applied): "
                            + "; ".join(c.change.describe() for c in after.changes)
                        )
                    if record is not None:
                        done = replace(record, changes=len(plan.changes))
                        applied_table.write(conn, schema, done)
                    committing = True
            except psycopg.OperationalError as exc:
                raise lost(url, exc, UNKNOWN_COMMIT if committing else NOTHING_APPLIED) from None
            finally:
                if not conn.closed and not conn.broken:  # a dead session has released it
                    with contextlib.suppress(psycopg.Error):
                        conn.execute("select pg_advisory_unlock(%s)", (key,))
        return ApplyResult(plan, plan.changes, (time.perf_counter() - start) * 1000)

    @staticmethod
    def _acquire(conn: psycopg.Connection[Any], key: int, wait_s: float) -> None:
        deadline = time.monotonic() + wait_s
        delay = 0.05
        while True:
            row = conn.execute("select pg_try_advisory_lock(%s)", (key,)).fetchone()
            if row and row[0]:
                return
            if time.monotonic() >= deadline:
                raise Conflict(
                    "another apply is running on this database; try again when it has finished"
                )
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 0.5)

    @staticmethod
    def _run(
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

    def applied_record(
        self, url: str, project: str, env: str, connection: str, *, schema: str = "public"
    ) -> AppliedRecord | None:
        """The database's own record of the last apply of (project, env, connection)."""
        with session(url, bounds=self.bounds) as conn:
            return applied_table.read(conn, schema, project, env, connection)

    def compatibility(
        self, url: str, release: ConnectionSchema, *, schema: str = "public"
    ) -> list[str]:
        """Why this database cannot serve ``release`` (empty when it can): the promote gate."""
        actual = self.introspect(url, [t.name for t in release.tables], release, schema=schema)
        return incompatibilities(release, actual)

    def drift(
        self,
        url: str,
        applied: ConnectionSchema,
        declared: ConnectionSchema,
        *,
        schema: str = "public",
    ) -> list[DriftItem]:
        """Objects whose live state differs from both what was applied and what is declared."""
        actual = self.introspect(url, [t.name for t in applied.tables], applied, schema=schema)
        return drift_items(applied, actual, declared)


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
