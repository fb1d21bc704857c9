"""The ``postgres`` engine: plan, apply and drift against one database (schema.md §6-§7).

The library API the Hub calls; every method takes a database URL and IR values, none knows HTTP.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from santokit.core.changes import Change
from santokit.core.contracts import AppliedRecord, ApplyResult, ConnectionTest
from santokit.core.drift import DriftItem
from santokit.core.errors import Conflict
from santokit.core.ir import ConnectionSchema
from santokit.core.planning import ConnectionPlan

from .connect import DbBounds, session, test_connection
from .render import render
from .sandbox import PostgresSandbox
from .session import NOTHING_APPLIED, UNKNOWN_COMMIT, PgSession

__all__ = ["NOTHING_APPLIED", "UNKNOWN_COMMIT", "PostgresEngine", "lock_key"]


def lock_key(schema: str) -> int:
    """The apply lock of one namespace: a stable signed 64-bit advisory-lock key.

    It names the target, never the project or env: two envs (or two Hubs) pointing at one
    database must serialise. Advisory locks are scoped to the database they are taken in, so
    the host, port and database need not be in the key, and every alias of a host (an IP, a
    name, a pooler) still meets the same lock.
    """
    raw = hashlib.sha256(f"santokit\x1fapply\x1f{schema}".encode()).digest()[:8]
    return int.from_bytes(raw, "big", signed=True)


class PostgresEngine:
    """Plans and applies declared schemas on PostgreSQL (12 or newer).

    ``open`` gives one session whose catalog read serves every question of a request; the
    one-shot methods (``plan``, ``drift``, ``apply``...) each open their own."""

    name = "postgres"
    display_name = "PostgreSQL"
    url_schemes: tuple[str, ...] = ("postgresql", "postgres")
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

    @contextmanager
    def open(
        self,
        url: str,
        *,
        schema: str = "public",
        write: bool = False,
        lock_wait_s: float | None = None,
    ) -> Iterator[PgSession]:
        """A session on the database; ``write`` takes the namespace's apply lock first
        (CONFLICT after ``lock_wait_s``) and holds it until the session ends, so every read of
        the session is a read under the lock."""
        bounds = self.bounds
        if not write:
            with session(url, bounds=bounds) as conn:
                yield PgSession(conn, url, schema)
            return
        key = lock_key(schema)
        with session(url, bounds=bounds, statement_s=bounds.apply_statement_s) as conn:
            wait_s = bounds.apply_lock_wait_s if lock_wait_s is None else lock_wait_s
            self._acquire(conn, key, wait_s)
            try:
                yield PgSession(conn, url, schema, write=True)
            finally:
                if not conn.closed and not conn.broken:  # a dead session has released it
                    with contextlib.suppress(psycopg.Error):
                        conn.execute("select pg_advisory_unlock(%s)", (key,))

    def introspect(
        self,
        url: str,
        tables: Iterable[str],
        hint: ConnectionSchema | None = None,
        *,
        schema: str = "public",
    ) -> ConnectionSchema:
        """The named tables as the database has them (missing ones are absent)."""
        with self.open(url, schema=schema) as s:
            return s.introspect(tables, hint)

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
        with self.open(url, schema=schema) as s:
            return s.plan(declared, previous, rules, moved_to=moved_to)

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
        plans from the live state under it, refuses a blocked plan (CHANGE_BLOCKED), runs every
        statement (APPLY_FAILED when one fails), and verifies that planning again yields
        nothing before committing. A session that dies or stops answering is
        CONNECTION_FAILED; either way the transaction and the lock die with it. Before
        committing it writes ``record`` (with the number of changes) into ``stk_applied``: the
        database then holds its own proof of ownership whatever becomes of the Hub's copy.
        """
        with self.open(url, schema=schema, write=True, lock_wait_s=lock_wait_s) as s:
            return s.apply(
                declared,
                previous,
                rules,
                moved_to=moved_to,
                record=record,
                lock_timeout=lock_timeout,
                statement_timeout=statement_timeout,
            )

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

    def applied_record(
        self, url: str, project: str, env: str, connection: str, *, schema: str = "public"
    ) -> AppliedRecord | None:
        """The database's own record of the last apply of (project, env, connection)."""
        with self.open(url, schema=schema) as s:
            return s.applied_record(project, env, connection)

    def compatibility(
        self, url: str, release: ConnectionSchema, *, schema: str = "public"
    ) -> list[str]:
        """Why this database cannot serve ``release`` (empty when it can): the promote gate."""
        with self.open(url, schema=schema) as s:
            return s.compatibility(release)

    def drift(
        self,
        url: str,
        applied: ConnectionSchema,
        declared: ConnectionSchema,
        *,
        schema: str = "public",
    ) -> list[DriftItem]:
        """Objects whose live state differs from both what was applied and what is declared."""
        with self.open(url, schema=schema) as s:
            return s.drift(applied, declared)
