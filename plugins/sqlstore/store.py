"""The Hub store: a unit of work (``tx``) over SQLAlchemy Core, for SQLite and PostgreSQL.

Every method of ``Tx`` runs inside the caller's transaction, so a change and its audit event
commit together or not at all (hub.md §2, §9).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import (
    DatabaseError,
    DataError,
    DBAPIError,
    IntegrityError,
    InternalError,
    OperationalError,
    ProgrammingError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from ulid import ULID

from santokit.core.errors import Conflict, StoreError

from . import schema as t

__all__ = ["SqlStore", "StoreError", "Tx"]

log = logging.getLogger("santokit.hub.store")

# What a store that cannot be read or written raises (full disk, read-only file or database,
# lost server, exhausted pool). Constraint, data and SQL errors are the request's or a bug's,
# not the store's health, and stay what they are.
_FAULTS = (OperationalError, InternalError, DatabaseError, PoolTimeout)
_NOT_FAULTS = (IntegrityError, DataError, ProgrammingError)


def fault_reason(exc: BaseException) -> str:
    """A fixed phrase for a store fault: the driver's text may name hosts, users or values."""
    text = str(getattr(exc, "orig", None) or exc).lower()
    if "read-only" in text or "readonly" in text:
        return "the store is read-only"
    if "disk is full" in text or "no space left" in text or "could not extend file" in text:
        return "the store's disk is full"
    if "database is locked" in text:
        return "the store is locked by another writer"
    if isinstance(exc, PoolTimeout):
        return "every store connection is busy"
    if isinstance(exc, OperationalError):
        return "the store cannot be reached"
    return f"the store failed ({type(getattr(exc, 'orig', None) or exc).__name__})"


def _unavailable(exc: BaseException) -> StoreError:
    reason = fault_reason(exc)
    log.warning("store fault", extra={"reason": reason, "error": type(exc).__name__})
    return StoreError(
        f"the Hub's store is unavailable: {reason}; try again when it is back", reason=reason
    )


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _engine(url: str) -> Engine:
    if url.startswith("sqlite:"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("pragma journal_mode=wal")
            cur.execute("pragma foreign_keys=on")
            cur.execute("pragma busy_timeout=30000")
            cur.close()

        return engine
    if url.startswith("postgresql:"):
        url = "postgresql+psycopg:" + url.removeprefix("postgresql:")
    return create_engine(url, pool_pre_ping=True)


def _row(row: Any) -> dict[str, Any] | None:
    return dict(row._mapping) if row is not None else None


_API_KEY_BY_ID = select(t.api_keys).where(t.api_keys.c.key_id == bindparam("key_id"))


class Tx:
    """The store's operations inside one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.c = conn

    # -- audit ----------------------------------------------------------------------------------
    def audit(
        self,
        action: str,
        actor: str,
        request_id: str,
        *,
        project: str | None = None,
        env: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.c.execute(
            insert(t.audit_events).values(
                at=now(),
                action=action,
                actor=actor,
                project=project,
                env=env,
                request_id=request_id,
                detail=json.dumps(detail or {}, sort_keys=True),
            )
        )

    def audit_events(
        self,
        project: str,
        *,
        env: str | None = None,
        action: str | None = None,
        since: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        q = select(t.audit_events).where(t.audit_events.c.project == project)
        if env:
            q = q.where(t.audit_events.c.env == env)
        if action:
            q = q.where(t.audit_events.c.action == action)
        if since:
            q = q.where(t.audit_events.c.at >= since)
        q = q.order_by(t.audit_events.c.id.desc()).limit(limit)
        return [dict(r._mapping) for r in self.c.execute(q)]

    # -- operators and sessions -----------------------------------------------------------------
    def insert_operator(self, email: str, password_hash: str, org_role: str) -> dict[str, Any]:
        row = {
            "id": str(ULID()),
            "email": email,
            "password_hash": password_hash,
            "org_role": org_role,
            "status": "active",
            "created_at": now(),
        }
        try:
            self.c.execute(insert(t.operators).values(**row))
        except IntegrityError:
            raise Conflict(f"an operator with email {email} already exists") from None
        return row

    def set_operator_password(self, operator_id: str, password_hash: str) -> None:
        self.c.execute(
            update(t.operators)
            .where(t.operators.c.id == operator_id)
            .values(password_hash=password_hash)
        )

    def count_operators(self) -> int:
        return int(self.c.execute(select(func.count()).select_from(t.operators)).scalar_one())

    def operator_by_email(self, email: str) -> dict[str, Any] | None:
        return _row(self.c.execute(select(t.operators).where(t.operators.c.email == email)).first())

    def insert_session(self, token_hash: str, operator_id: str, expires_at: str) -> None:
        self.c.execute(
            insert(t.sessions).values(
                token_hash=token_hash,
                operator_id=operator_id,
                expires_at=expires_at,
                created_at=now(),
            )
        )

    def session(self, token_hash: str) -> dict[str, Any] | None:
        q = (
            select(t.sessions.c.expires_at, t.operators)
            .join(t.operators, t.operators.c.id == t.sessions.c.operator_id)
            .where(t.sessions.c.token_hash == token_hash)
        )
        return _row(self.c.execute(q).first())

    def delete_session(self, token_hash: str) -> bool:
        done = self.c.execute(delete(t.sessions).where(t.sessions.c.token_hash == token_hash))
        return done.rowcount > 0

    # -- projects, memberships, envs ------------------------------------------------------------
    def insert_project(self, name: str, actor: str) -> dict[str, Any]:
        row = {"name": name, "created_at": now(), "created_by": actor}
        try:
            self.c.execute(insert(t.projects).values(**row))
        except IntegrityError:
            raise Conflict(f"project {name} already exists") from None
        return row

    def project(self, name: str) -> dict[str, Any] | None:
        return _row(self.c.execute(select(t.projects).where(t.projects.c.name == name)).first())

    def projects(self) -> list[dict[str, Any]]:
        return [
            dict(r._mapping) for r in self.c.execute(select(t.projects).order_by(t.projects.c.name))
        ]

    def grant(self, operator_id: str, project: str, role: str) -> None:
        self.c.execute(
            delete(t.memberships).where(
                (t.memberships.c.operator_id == operator_id) & (t.memberships.c.project == project)
            )
        )
        self.c.execute(
            insert(t.memberships).values(operator_id=operator_id, project=project, role=role)
        )

    def memberships(self, operator_id: str) -> dict[str, str]:
        q = select(t.memberships.c.project, t.memberships.c.role).where(
            t.memberships.c.operator_id == operator_id
        )
        return {r.project: r.role for r in self.c.execute(q)}

    def insert_env(self, project: str, name: str) -> dict[str, Any]:
        row = {"project": project, "name": name, "created_at": now()}
        try:
            self.c.execute(insert(t.envs).values(**row))
        except IntegrityError:
            raise Conflict(f"env {name} already exists in project {project}") from None
        return row

    def env(self, project: str, name: str) -> dict[str, Any] | None:
        q = select(t.envs).where((t.envs.c.project == project) & (t.envs.c.name == name))
        return _row(self.c.execute(q).first())

    def envs(self, project: str) -> list[dict[str, Any]]:
        q = select(t.envs).where(t.envs.c.project == project).order_by(t.envs.c.name)
        return [dict(r._mapping) for r in self.c.execute(q)]

    # -- connections ----------------------------------------------------------------------------
    def upsert_connection(
        self,
        project: str,
        env: str,
        name: str,
        *,
        engine: str,
        ciphertext: bytes,
        key_id: str,
        db_schema: str,
        redacted_url: str,
    ) -> bool:
        """Insert or replace in one statement (safe under concurrent calls); True if created."""
        at = now()
        values = {
            "engine": engine,
            "url_ciphertext": ciphertext,
            "key_id": key_id,
            "db_schema": db_schema,
            "redacted_url": redacted_url,
            "updated_at": at,
            "last_tested_at": None,
        }
        dialect_insert = pg_insert if self.c.dialect.name == "postgresql" else sqlite_insert
        existed = self.connection(project, env, name) is not None
        stmt = dialect_insert(t.connections).values(
            project=project, env=env, name=name, created_at=at, **values
        )
        self.c.execute(
            stmt.on_conflict_do_update(index_elements=["project", "env", "name"], set_=values)
        )
        return not existed

    def connection(self, project: str, env: str, name: str) -> dict[str, Any] | None:
        q = select(t.connections).where(
            (t.connections.c.project == project)
            & (t.connections.c.env == env)
            & (t.connections.c.name == name)
        )
        return _row(self.c.execute(q).first())

    def connections(self, project: str, env: str) -> list[dict[str, Any]]:
        q = (
            select(t.connections)
            .where((t.connections.c.project == project) & (t.connections.c.env == env))
            .order_by(t.connections.c.name)
        )
        return [dict(r._mapping) for r in self.c.execute(q)]

    def mark_tested(self, project: str, env: str, name: str) -> None:
        self.c.execute(
            update(t.connections)
            .where(
                (t.connections.c.project == project)
                & (t.connections.c.env == env)
                & (t.connections.c.name == name)
            )
            .values(last_tested_at=now())
        )

    # -- applied schemas ------------------------------------------------------------------------
    def applied(self, project: str, env: str) -> dict[str, dict[str, Any]]:
        q = select(t.applied_schemas).where(
            (t.applied_schemas.c.project == project) & (t.applied_schemas.c.env == env)
        )
        return {r.connection: dict(r._mapping) for r in self.c.execute(q)}

    def record_applied(
        self,
        project: str,
        env: str,
        connection: str,
        schema_json: str,
        digest: str,
        at: str | None = None,
    ) -> None:
        """Upsert the applied schema; ``at`` is the time the customer database recorded for it
        (the same string in both records, so they compare equal when they agree)."""
        where = (
            (t.applied_schemas.c.project == project)
            & (t.applied_schemas.c.env == env)
            & (t.applied_schemas.c.connection == connection)
        )
        values = {"schema_json": schema_json, "digest": digest, "applied_at": at or now()}
        if not self.c.execute(update(t.applied_schemas).where(where).values(**values)).rowcount:
            self.c.execute(
                insert(t.applied_schemas).values(
                    project=project, env=env, connection=connection, **values
                )
            )

    # -- releases and pointers ------------------------------------------------------------------
    def release_by_digest(self, project: str, digest: str) -> dict[str, Any] | None:
        q = select(t.releases).where(
            (t.releases.c.project == project) & (t.releases.c.digest == digest)
        )
        return _row(self.c.execute(q).first())

    def release(self, project: str, release_id: str) -> dict[str, Any] | None:
        q = select(t.releases).where(
            (t.releases.c.project == project) & (t.releases.c.release_id == release_id)
        )
        return _row(self.c.execute(q).first())

    def insert_release(
        self, project: str, digest: str, ref: str, actor: str, snapshot: str
    ) -> dict[str, Any]:
        row = {
            "release_id": f"rel_{ULID()}",
            "project": project,
            "digest": digest,
            "ref": ref,
            "created_at": now(),
            "created_by": actor,
            "snapshot": snapshot,
        }
        try:
            self.c.execute(insert(t.releases).values(**row))
        except IntegrityError:  # a concurrent apply created the same content first
            raise Conflict(f"release with digest {digest} was created concurrently") from None
        return row

    def pointer(self, project: str, env: str) -> dict[str, Any] | None:
        q = select(t.env_pointers).where(
            (t.env_pointers.c.project == project) & (t.env_pointers.c.env == env)
        )
        return _row(self.c.execute(q).first())

    def move_pointer(
        self, project: str, env: str, release_id: str, action: str, actor: str
    ) -> str | None:
        """Point ``env`` at ``release_id``; returns the release it pointed at before."""
        before = self.pointer(project, env)
        at = now()
        if before is None:
            self.c.execute(
                insert(t.env_pointers).values(
                    project=project, env=env, release_id=release_id, updated_at=at
                )
            )
        else:
            self.c.execute(
                update(t.env_pointers)
                .where((t.env_pointers.c.project == project) & (t.env_pointers.c.env == env))
                .values(release_id=release_id, updated_at=at)
            )
        previous = before["release_id"] if before else None
        self.c.execute(
            insert(t.pointer_history).values(
                project=project,
                env=env,
                from_release=previous,
                to_release=release_id,
                action=action,
                actor=actor,
                at=at,
            )
        )
        return previous

    def env_releases(self, project: str, env: str, limit: int) -> list[dict[str, Any]]:
        """Releases that were current in ``env``, the most recently pointed-at first."""
        h = t.pointer_history
        last = (
            select(h.c.to_release, func.max(h.c.id).label("last"))
            .where((h.c.project == project) & (h.c.env == env))
            .group_by(h.c.to_release)
            .subquery()
        )
        q = (
            select(t.releases, last.c.last)
            .join(last, last.c.to_release == t.releases.c.release_id)
            .where(t.releases.c.project == project)
            .order_by(last.c.last.desc())
            .limit(limit)
        )
        return [dict(r._mapping) for r in self.c.execute(q)]

    def was_current(self, project: str, env: str, release_id: str) -> bool:
        h = t.pointer_history
        q = (
            select(func.count())
            .select_from(h)
            .where((h.c.project == project) & (h.c.env == env) & (h.c.to_release == release_id))
        )
        return int(self.c.execute(q).scalar_one()) > 0

    def envs_pointing_at(self, project: str, release_id: str) -> list[str]:
        q = select(t.env_pointers.c.env).where(
            (t.env_pointers.c.project == project) & (t.env_pointers.c.release_id == release_id)
        )
        return sorted(r.env for r in self.c.execute(q))

    def release_by_id(self, release_id: str) -> dict[str, Any] | None:
        """A release by its id alone (ids are globally unique): the Bridge names no project."""
        q = select(t.releases).where(t.releases.c.release_id == release_id)
        return _row(self.c.execute(q).first())

    # -- api keys -------------------------------------------------------------------------------
    def insert_api_key(
        self,
        *,
        key_id: str,
        project: str,
        env: str,
        name: str,
        roles: list[str],
        key_hash: str,
        actor: str,
    ) -> dict[str, Any]:
        row = {
            "key_id": key_id,
            "project": project,
            "env": env,
            "name": name,
            "roles": json.dumps(roles),
            "key_hash": key_hash,
            "status": "active",
            "created_at": now(),
            "created_by": actor,
            "last_used_at": None,
            "revoked_at": None,
        }
        try:
            self.c.execute(insert(t.api_keys).values(**row))
        except IntegrityError:  # 60 random bits collided: the caller may simply retry
            raise Conflict("a key with this id exists already; try again") from None
        return row

    def api_keys(self, project: str, env: str) -> list[dict[str, Any]]:
        q = (
            select(t.api_keys)
            .where((t.api_keys.c.project == project) & (t.api_keys.c.env == env))
            .order_by(t.api_keys.c.created_at, t.api_keys.c.key_id)
        )
        return [dict(r._mapping) for r in self.c.execute(q)]

    def api_key(self, key_id: str) -> dict[str, Any] | None:
        """One key by id: the primary key, so a verification is one indexed lookup (a statement
        built once: verification is the Hub's hottest path)."""
        return _row(self.c.execute(_API_KEY_BY_ID, {"key_id": key_id}).first())

    def count_active_api_keys(self, project: str, env: str) -> int:
        """Active keys of an env. On PostgreSQL the env's row is locked first, so concurrent
        creations in one env (through any replica) count one after the other."""
        if self.c.dialect.name == "postgresql":
            self.c.execute(
                select(t.envs.c.name)
                .where((t.envs.c.project == project) & (t.envs.c.name == env))
                .with_for_update()
            )
        q = (
            select(func.count())
            .select_from(t.api_keys)
            .where(
                (t.api_keys.c.project == project)
                & (t.api_keys.c.env == env)
                & (t.api_keys.c.status == "active")
            )
        )
        return int(self.c.execute(q).scalar_one())

    def revoke_api_key(self, project: str, env: str, key_id: str) -> bool:
        """Revoke an active key of this env; False when there is none to revoke."""
        done = self.c.execute(
            update(t.api_keys)
            .where(
                (t.api_keys.c.key_id == key_id)
                & (t.api_keys.c.project == project)
                & (t.api_keys.c.env == env)
                & (t.api_keys.c.status == "active")
            )
            .values(status="revoked", revoked_at=now())
        )
        return done.rowcount > 0

    def touch_api_key(self, key_id: str) -> None:
        self.c.execute(
            update(t.api_keys).where(t.api_keys.c.key_id == key_id).values(last_used_at=now())
        )


MIGRATE_LOCK = int.from_bytes(hashlib.sha256(b"stk-migrate").digest()[:8], "big", signed=True)


class SqlStore:
    """The store behind the Hub; ``url`` is ``sqlite:///path`` or ``postgresql://...``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _engine(url)
        # SQLite reads are local file access of microseconds, and in WAL mode readers never
        # wait for writers: cheap enough for the Hub to run on its event loop.
        self.local_reads = self.engine.dialect.name == "sqlite"

    @contextmanager
    def tx(self) -> Iterator[Tx]:
        """One store transaction; a store fault is StoreError (503), never a driver error."""
        try:
            with self.engine.begin() as conn:
                yield Tx(conn)
        except _NOT_FAULTS:
            raise
        except _FAULTS as exc:
            raise _unavailable(exc) from None

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A Tx for a single-statement read on the hot path (API key verification). On
        PostgreSQL it runs outside a transaction, saving the BEGIN and COMMIT round trips; on
        SQLite, where they cost nothing and switching the isolation level would, it is a tx."""
        if self.local_reads:
            with self.tx() as tx:
                yield tx
            return
        try:
            with self.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT")
                yield Tx(conn)
        except _NOT_FAULTS:
            raise
        except _FAULTS as exc:
            raise _unavailable(exc) from None

    def migrate(self) -> None:
        """Create the tables on an empty store, add what later versions added to an older one
        (in the same transaction as the version bump), and refuse a store newer than this Hub."""
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                # replicas starting together (a rolling upgrade) migrate one after the other;
                # released with the transaction
                conn.execute(text("select pg_advisory_xact_lock(:k)"), {"k": MIGRATE_LOCK})
            t.schema_version.create(conn, checkfirst=True)
            version = conn.execute(select(t.schema_version.c.version)).scalar()
            if version is None:
                t.metadata.create_all(conn)
                for table, seed in t.SEED_ROWS.items():
                    conn.execute(insert(table), list(seed))
                conn.execute(insert(t.schema_version).values(version=t.SCHEMA_VERSION))
            elif version > t.SCHEMA_VERSION:
                raise StoreError(
                    f"the store was written by a newer Hub (schema version "
                    f"{version}); upgrade Santokit"
                )
            elif version < t.SCHEMA_VERSION:
                for step in range(version + 1, t.SCHEMA_VERSION + 1):
                    for table in t.ADDED_IN.get(step, ()):
                        table.create(conn, checkfirst=True)
                        if table in t.SEED_ROWS:
                            conn.execute(insert(table), list(t.SEED_ROWS[table]))
                conn.execute(update(t.schema_version).values(version=t.SCHEMA_VERSION))

    @contextmanager
    def env_lock(self, project: str, env: str, wait_s: float) -> Iterator[None]:
        """Hold (project, env) across every Hub replica sharing this store.

        On PostgreSQL: a session advisory lock on a connection of its own, tried until
        ``wait_s`` passes (CONFLICT then). SQLite is one machine's store: the Hub's
        in-process lock is the whole story there.
        """
        if self.engine.dialect.name != "postgresql":
            yield
            return
        key = int.from_bytes(
            hashlib.sha256(f"stk-env\x1f{project}\x1f{env}".encode()).digest()[:8],
            "big",
            signed=True,
        )
        try:
            with self._env_lock(key, project, env, wait_s):
                yield
        except _NOT_FAULTS:
            raise
        except _FAULTS as exc:
            raise _unavailable(exc) from None

    @contextmanager
    def _env_lock(self, key: int, project: str, env: str, wait_s: float) -> Iterator[None]:
        with self.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            deadline = time.monotonic() + wait_s
            while not conn.execute(text("select pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                if time.monotonic() >= deadline:
                    raise Conflict(
                        f"another apply is running on {project}/{env} (through another Hub replica)"
                    )
                time.sleep(0.1)
            try:
                yield
            finally:
                # a session the server lost has released its locks already: an unlock that
                # fails must not turn a finished apply into an error
                with contextlib.suppress(DBAPIError):
                    conn.execute(text("select pg_advisory_unlock(:k)"), {"k": key})

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(select(1))
        except Exception:
            return False
        return True

    def ready(self) -> str | None:
        """None when the store takes a committed write, else why not (for ``/readyz``): a
        store that can be read but not written would fail every mutating call."""
        try:
            with self.tx() as tx:
                done = tx.c.execute(update(t.health).where(t.health.c.id == 1).values(at=now()))
        except StoreError as exc:
            return exc.message
        except SQLAlchemyError as exc:  # e.g. a store this Hub has not migrated
            return f"the Hub's store is unavailable: {fault_reason(exc)}"
        if done.rowcount != 1:
            return "the Hub's store has no health row: start the Hub once to migrate it"
        return None

    def close(self) -> None:
        self.engine.dispose()
