"""The ``postgres`` engine: plan, apply and drift against one database (schema.md §6-§7).

The library API the Hub calls; every method takes a database URL and IR values, none knows HTTP.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from santokit.core.changes import Change
from santokit.core.compat import incompatibilities
from santokit.core.contracts import AppliedRecord, RuleContext
from santokit.core.drift import DriftItem, drift_items
from santokit.core.errors import ApplyFailed, ChangeBlocked, Conflict, NotConverged
from santokit.core.ir import ConnectionSchema
from santokit.core.planning import ConnectionPlan, PlannedChange, make_plan

from . import record as applied_table
from .connect import connect, test_connection
from .introspect import introspect
from .render import render

DEFAULT_LOCK_WAIT_S = 10.0
DEFAULT_LOCK_TIMEOUT = "5s"
DEFAULT_STATEMENT_TIMEOUT = "5min"


def lock_key(*parts: str) -> int:
    """A stable signed 64-bit advisory-lock key for (project, env, connection)."""
    raw = hashlib.sha256("\x1f".join(("santokit", *parts)).encode()).digest()[:8]
    return int.from_bytes(raw, "big", signed=True)


def _managed(declared: ConnectionSchema, previous: ConnectionSchema | None) -> list[str]:
    names = {t.name for t in declared.tables}
    if previous:
        names |= {t.name for t in previous.tables}
    return sorted(names)


@dataclass(frozen=True)
class ApplyResult:
    """A committed apply: the plan that ran (empty when there was nothing to do)."""

    plan: ConnectionPlan
    applied: tuple[PlannedChange, ...] = field(default_factory=tuple)
    duration_ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            **self.plan.to_json(),
            "applied": [c.to_json() for c in self.applied],
            "durationMs": round(self.duration_ms, 1),
        }


class PostgresEngine:
    """Plans and applies declared schemas on PostgreSQL (12 or newer)."""

    name = "postgres"

    def test(self, url: str) -> dict[str, Any]:
        """``{ok, serverVersion, latencyMs}``, or ConnectionFailed with a one-line reason."""
        return test_connection(url)

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
        with connect(url, autocommit=True) as conn:
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
        with connect(url, autocommit=True) as conn:
            return self._plan(conn, declared, previous, rules, schema, moved_to)

    def apply(
        self,
        url: str,
        declared: ConnectionSchema,
        previous: ConnectionSchema | None = None,
        rules: Iterable[object] = (),
        *,
        schema: str = "public",
        lock: tuple[str, ...] = (),
        lock_wait_s: float = DEFAULT_LOCK_WAIT_S,
        lock_timeout: str = DEFAULT_LOCK_TIMEOUT,
        statement_timeout: str = DEFAULT_STATEMENT_TIMEOUT,
        moved_to: dict[str, str] | None = None,
        record: AppliedRecord | None = None,
    ) -> ApplyResult:
        """Apply the safe plan in one transaction, or change nothing.

        Takes the advisory lock for ``lock`` (CONFLICT after ``lock_wait_s``), re-plans from the
        live state inside the transaction, refuses a blocked plan (CHANGE_BLOCKED), runs every
        statement, verifies that planning again yields nothing, and writes ``record`` (with the
        number of changes) into ``stk_applied`` before committing: the database then holds its
        own proof of ownership whatever becomes of the Hub's copy.
        """
        rules = list(rules)
        key = lock_key(*(lock or (schema, declared.name)))
        start = time.perf_counter()
        with connect(url, autocommit=True) as conn:
            self._acquire(conn, key, lock_wait_s)
            try:
                with conn.transaction():
                    conn.execute(f"set local lock_timeout = '{lock_timeout}'")
                    conn.execute(f"set local statement_timeout = '{statement_timeout}'")
                    plan = self._plan(conn, declared, previous, rules, schema, moved_to)
                    if plan.is_blocked:
                        raise ChangeBlocked(
                            f"the plan for connection {declared.name} holds "
                            f"{len(plan.blocked)} blocked change(s); nothing was applied",
                            details=[c.to_json() for c in plan.blocked],
                        )
                    for i, planned in enumerate(plan.changes, 1):
                        self._run(conn, i, len(plan.changes), planned, declared.name)
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
            finally:
                with contextlib.suppress(psycopg.Error):  # a dead session has released it
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
        conn: psycopg.Connection[Any], i: int, n: int, planned: PlannedChange, connection: str
    ) -> None:
        try:
            conn.execute(planned.sql.encode())
        except pg_errors.LockNotAvailable:
            raise ApplyFailed(
                f"statement {i} of {n} on connection {connection} waited too long for a lock "
                f"(another session holds {planned.change.table}); nothing was applied: "
                f"{planned.sql}"
            ) from None
        except psycopg.Error as exc:
            reason = (exc.diag.message_primary or str(exc)).strip()
            detail = f" ({exc.diag.message_detail})" if exc.diag.message_detail else ""
            raise ApplyFailed(
                f"statement {i} of {n} on connection {connection} failed: {reason}{detail}; "
                f"nothing was applied: {planned.sql}"
            ) from None

    def applied_record(
        self, url: str, project: str, env: str, connection: str, *, schema: str = "public"
    ) -> AppliedRecord | None:
        """The database's own record of the last apply of (project, env, connection)."""
        with connect(url, autocommit=True) as conn:
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
