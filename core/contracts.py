"""Typed shapes of what plugins return through the hooks in ``hookspecs``.

These protocols are the whole contract between the Hub (and, next, the Bridge) and a plugin: the
Hub calls nothing on an engine or a store that is not declared here, and ``core.plugins`` checks
every object a hook returns against its protocol when the plugins are collected, so a plugin
that misses a method fails at start naming itself, not on the first request that needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from .changes import Change
from .dataops import DataOp, DataResult
from .ir import ConnectionSchema, Schema
from .permissions import Policy

if TYPE_CHECKING:  # planning imports this module's rule types
    from .drift import DriftItem
    from .planning import ConnectionPlan, PlannedChange


@dataclass(frozen=True)
class LintIssue:
    """A rule's objection to a declared table (or one of its columns)."""

    code: str
    message: str
    table: str
    column: str | None = None


@runtime_checkable
class LintRule(Protocol):
    """A diff rule that can also reject a declared schema before anything is planned."""

    code: str

    def lint(self, schema: Schema) -> Iterable[LintIssue]:
        """Every objection to ``schema``; empty when the rule is satisfied."""
        ...


@dataclass(frozen=True)
class RuleContext:
    """What a diff rule may look at besides the change: the three states of the connection."""

    connection: str
    declared: ConnectionSchema
    actual: ConnectionSchema
    previous: ConnectionSchema | None = None


@dataclass(frozen=True)
class Verdict:
    """A rule's judgement that a change must not be applied automatically.

    ``remedy`` tells the operator what to do by hand; ``{sql}`` in it is replaced by the SQL the
    engine renders for the change (printed for the operator, never executed by Santokit).
    """

    classification: Literal["destructive", "unsupported"]
    code: str
    reason: str
    remedy: str = ""


@runtime_checkable
class DiffRule(Protocol):
    """A rule that may block a planned change."""

    code: str

    def check(self, change: Change, context: RuleContext) -> Verdict | None:
        """A verdict when ``change`` must be blocked, else None (the change is safe for it)."""
        ...


@runtime_checkable
class PermissionCompiler(Protocol):
    """Turns a validated policy into one artifact of the release, stored under ``name``.

    The artifact must be JSON data and deterministic (it is part of the release digest). A rule
    the artifact cannot express is refused with ``santokit.core.errors.ValidationFailed`` (or
    another ``SantokitError``), which fails the apply before any release is made.
    """

    name: str

    def compile(self, policy: Policy, schema: Schema) -> Any:
        """The artifact for ``policy`` over ``schema`` (the tables being released)."""
        ...


# The table every engine keeps in the target namespace, beside the tables it manages: what
# Santokit applied there. Its ``stk_`` prefix is refused for declared tables (identifiers.py), so
# no declaration can name it and no plan, drift report or introspection ever includes it.
APPLIED_TABLE = "stk_applied"


@dataclass(frozen=True)
class AppliedRecord:
    """What an apply committed on one connection, written by the engine into the customer
    database in the same transaction as the DDL.

    The database's own record is authoritative: the Hub's store is written after the commit and
    that write can be lost (full disk, read-only store, a crash), so the Hub compares the two on
    its next request for the env and adopts the database's when the store's is missing or older.
    ``applied_at`` is the Hub's timestamp (the store's format), equal in both records when they
    agree, so ordering never depends on the customer database's clock.
    """

    project: str
    env: str
    connection: str
    schema: ConnectionSchema
    ref: str
    actor: str
    request_id: str
    applied_at: str
    changes: int = 0

    @property
    def digest(self) -> str:
        return self.schema.fingerprint


@dataclass(frozen=True)
class ConnectionTest:
    """A database that answered a connection test: its version and how long the round took.

    ``server`` is the engine's label for the server (``PostgreSQL 16.4``): what the CLI prints,
    so no client needs to know which engine it talks to.
    """

    server_version: str
    latency_ms: float
    server: str
    ok: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "serverVersion": self.server_version,
            "server": self.server,
            "latencyMs": round(self.latency_ms, 1),
        }


@dataclass(frozen=True)
class ApplyResult:
    """A committed apply of one connection: the plan that ran (empty when there was nothing to
    do), the changes applied, and how long it took."""

    plan: ConnectionPlan
    applied: tuple[PlannedChange, ...] = field(default_factory=tuple)
    duration_ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            **self.plan.to_json(),
            "applied": [c.to_json() for c in self.applied],
            "durationMs": round(self.duration_ms, 1),
        }


@runtime_checkable
class EngineSession(Protocol):
    """One database for the length of one request (``Engine.open``). Its catalog is read once
    and every question is answered from that read with its own hint, so a request reads each
    database once (an apply: once more after its DDL, to check convergence). A write session
    holds the namespace's apply lock from its first read to its end."""

    def plan(
        self,
        declared: ConnectionSchema,
        previous: ConnectionSchema | None = None,
        rules: Iterable[object] = (),
        *,
        moved_to: dict[str, str] | None = None,
    ) -> ConnectionPlan:
        """What apply would do now, read-only."""
        ...

    def drift(self, applied: ConnectionSchema, declared: ConnectionSchema) -> list[DriftItem]:
        """Objects whose live state differs from both what was applied and what is declared."""
        ...

    def compatibility(self, release: ConnectionSchema) -> list[str]:
        """Why this database cannot serve ``release`` (empty when it can)."""
        ...

    def apply(
        self,
        declared: ConnectionSchema,
        previous: ConnectionSchema | None = None,
        rules: Iterable[object] = (),
        *,
        plan: ConnectionPlan | None = None,
        moved_to: dict[str, str] | None = None,
        record: AppliedRecord | None = None,
    ) -> ApplyResult:
        """Run ``plan`` (default: this session's) in one transaction of a write session, check
        convergence when DDL ran, write ``record``, commit; or change nothing."""
        ...


@runtime_checkable
class Engine(Protocol):
    """A database engine (``santokit_engines``): everything the Hub calls on one, and nothing
    more. Every method takes a connection URL (never logged, never echoed) and IR values, and
    raises ``santokit.core.errors`` exceptions with one-line, secret-free messages.

    ``schema`` is always the namespace the connection was registered with (its default is the
    engine's ``default_namespace``); the Hub passes it on every call.
    """

    name: str  # the key under which the engine is registered, e.g. "postgres"
    display_name: str  # how operators call the engine, e.g. "PostgreSQL"
    url_schemes: tuple[str, ...]  # the URL schemes it connects to, e.g. ("postgresql", ...)
    default_namespace: str  # where tables live when a connection names none, e.g. "public"

    def url_problem(self, url: str) -> str | None:
        """Why ``url`` is not a URL of this engine (one line, never echoing it), or None."""
        ...

    def test(self, url: str) -> ConnectionTest:
        """Connect once and report the server, or raise ConnectionFailed."""
        ...

    def open(
        self, url: str, *, schema: str = "public", write: bool = False
    ) -> AbstractContextManager[EngineSession]:
        """A session for one request; ``write`` takes the apply lock first (CONFLICT when
        another apply holds it past the wait)."""
        ...

    def introspect(
        self,
        url: str,
        tables: Iterable[str],
        hint: ConnectionSchema | None = None,
        *,
        schema: str,
    ) -> ConnectionSchema:
        """The named tables as the database has them (missing ones are absent)."""
        ...

    def plan(
        self,
        url: str,
        declared: ConnectionSchema,
        previous: ConnectionSchema | None = None,
        rules: Iterable[object] = (),
        *,
        schema: str,
        moved_to: dict[str, str] | None = None,
    ) -> ConnectionPlan:
        """What apply would do now, read-only."""
        ...

    def apply(
        self,
        url: str,
        declared: ConnectionSchema,
        previous: ConnectionSchema | None = None,
        rules: Iterable[object] = (),
        *,
        schema: str,
        moved_to: dict[str, str] | None = None,
        record: AppliedRecord | None = None,
    ) -> ApplyResult:
        """Apply the safe plan in one transaction, or change nothing; ``record`` is written to
        the database's ``APPLIED_TABLE`` in that same transaction."""
        ...

    def applied_record(
        self, url: str, project: str, env: str, connection: str, *, schema: str
    ) -> AppliedRecord | None:
        """The database's own record of the last apply of (project, env, connection), or None
        when there is none (never applied by a Hub that records it)."""
        ...

    def compatibility(self, url: str, release: ConnectionSchema, *, schema: str) -> list[str]:
        """Why this database cannot serve ``release`` (empty when it can)."""
        ...

    def drift(
        self,
        url: str,
        applied: ConnectionSchema,
        declared: ConnectionSchema,
        *,
        schema: str,
    ) -> list[DriftItem]:
        """Objects whose live state differs from both what was applied and what is declared."""
        ...


Say = Callable[[str], None]


@runtime_checkable
class SandboxServer(Protocol):
    """A throwaway local database server of ``stk dev``, kept in one folder across runs."""

    def start(self, names: Sequence[str], say: Say) -> dict[str, str]:
        """Start the server (stopping one an earlier run left behind) and make sure a database
        exists for each name; returns each database's URL."""
        ...

    def where(self, name: str) -> str:
        """Where database ``name`` listens, for people (``127.0.0.1:5432/main``), no secret."""
        ...

    def stop(self) -> None: ...


@runtime_checkable
class SandboxEngine(Engine, Protocol):
    """An engine that can also run a local sandbox server (optional: ``stk dev`` needs one)."""

    def sandbox(self, folder: Path) -> SandboxServer:
        """The sandbox server kept in ``folder`` (not started yet)."""
        ...


@runtime_checkable
class DataPool(Protocol):
    """One connection's pool of database sessions for the Bridge (bridge.md §3): it renders a
    ``core.dataops`` value in the engine's own SQL (identifiers quoted, every value bound) and
    runs it as one statement where the op allows, under ``timeout_s``.

    Raises ``core.errors.Conflict`` for a unique or foreign-key violation (message naming the
    constraint and column, never a value), ``core.errors.DataUnavailable`` when the database
    cannot be reached or the statement times out; never a driver exception, never the URL.
    """

    async def run(self, op: DataOp, *, timeout_s: float) -> DataResult:
        """The op's rows (Python values, see ``core.dataops``), count and affected rows."""
        ...

    async def ping(self, *, timeout_s: float) -> None:
        """Raise ``DataUnavailable`` unless a session can be had and answers now."""
        ...

    async def close(self) -> None:
        """Close every session; the pool is not used again."""
        ...


@runtime_checkable
class DataEngine(Engine, Protocol):
    """An engine that can also serve the Bridge's data plane (optional: the Hub needs none of
    it; a Bridge refuses, naming the engine, a connection whose engine lacks it)."""

    def data_pool(
        self, url: str, *, schema: str, max_size: int, connect_timeout_s: float
    ) -> DataPool:
        """A pool for the tables of namespace ``schema`` at ``url`` (opened lazily: building
        one never waits on the database, so a Bridge can start while it is down)."""
        ...


Row = dict[str, Any]


@runtime_checkable
class StoreTransaction(Protocol):
    """One transaction of the Hub's store: every read and write the Hub makes. Rows are plain
    dicts keyed by column name; a store fault is ``StoreError`` (the request may be retried)."""

    def audit(
        self,
        action: str,
        actor: str,
        request_id: str,
        *,
        project: str | None = None,
        env: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None: ...
    def audit_events(
        self,
        project: str,
        *,
        env: str | None = None,
        action: str | None = None,
        since: str | None = None,
        limit: int = 100,
    ) -> list[Row]: ...
    # operators and sessions
    def insert_operator(self, email: str, password_hash: str, org_role: str) -> Row: ...
    def set_operator_password(self, operator_id: str, password_hash: str) -> None: ...
    def count_operators(self) -> int: ...
    def operator_by_email(self, email: str) -> Row | None: ...
    def insert_session(self, token_hash: str, operator_id: str, expires_at: str) -> None: ...
    def session(self, token_hash: str) -> Row | None: ...
    def delete_session(self, token_hash: str) -> bool: ...
    # projects, roles, envs
    def insert_project(self, name: str, actor: str) -> Row: ...
    def project(self, name: str) -> Row | None: ...
    def projects(self) -> list[Row]: ...
    def grant(self, operator_id: str, project: str, role: str) -> None: ...
    def memberships(self, operator_id: str) -> dict[str, str]: ...
    def insert_env(self, project: str, name: str) -> Row: ...
    def env(self, project: str, name: str) -> Row | None: ...
    def envs(self, project: str) -> list[Row]: ...
    # connections and applied schemas
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
    ) -> bool: ...
    def connection(self, project: str, env: str, name: str) -> Row | None: ...
    def connections(self, project: str, env: str) -> list[Row]: ...
    def mark_tested(self, project: str, env: str, name: str) -> None: ...
    def applied(self, project: str, env: str) -> dict[str, Row]: ...
    def record_applied(
        self,
        project: str,
        env: str,
        connection: str,
        schema_json: str,
        digest: str,
        at: str | None = None,
    ) -> None: ...
    # releases and pointers
    def release_by_digest(self, project: str, digest: str) -> Row | None: ...
    def release(self, project: str, release_id: str) -> Row | None: ...
    def release_by_id(self, release_id: str) -> Row | None: ...
    def insert_release(
        self, project: str, digest: str, ref: str, actor: str, snapshot: str
    ) -> Row: ...
    def pointer(self, project: str, env: str) -> Row | None: ...
    def move_pointer(
        self, project: str, env: str, release_id: str, action: str, actor: str
    ) -> str | None: ...
    def env_releases(self, project: str, env: str, limit: int) -> list[Row]: ...
    def was_current(self, project: str, env: str, release_id: str) -> bool: ...
    def envs_pointing_at(self, project: str, release_id: str) -> list[str]: ...
    # API keys
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
    ) -> Row: ...
    def api_keys(self, project: str, env: str) -> list[Row]: ...
    def api_key(self, key_id: str) -> Row | None: ...
    def count_active_api_keys(self, project: str, env: str) -> int: ...
    def revoke_api_key(self, project: str, env: str, key_id: str) -> bool: ...
    def touch_api_key(self, key_id: str) -> None: ...


@runtime_checkable
class ReleaseStore(Protocol):
    """The Hub's own store (``santokit_release_store``): operators, projects, connections,
    releases, pointers, API keys and the audit log."""

    # reads are cheap enough (local file access) to run on the Hub's event loop
    local_reads: bool

    def migrate(self) -> None:
        """Create or upgrade the store's tables; refuse a store newer than this Hub."""
        ...

    def tx(self) -> AbstractContextManager[StoreTransaction]:
        """One transaction, committed when the block ends without an exception."""
        ...

    def read(self) -> AbstractContextManager[StoreTransaction]:
        """A transaction for a single-statement read on the hot path (may skip BEGIN)."""
        ...

    def env_lock(self, project: str, env: str, wait_s: float) -> AbstractContextManager[None]:
        """Hold (project, env) across every Hub sharing the store (CONFLICT after wait_s)."""
        ...

    def ready(self) -> str | None:
        """None when the store takes a committed write, else why not (for ``/readyz``)."""
        ...


def protocol_members(proto: type) -> tuple[str, ...]:
    """The attributes and methods ``proto`` (and the protocols it extends) declare."""
    names: set[str] = set()
    for cls in proto.__mro__:
        if cls in (object, Protocol) or not getattr(cls, "_is_protocol", False):
            continue
        names |= {n for n in getattr(cls, "__annotations__", {}) if not n.startswith("_")}
        names |= {n for n, v in vars(cls).items() if callable(v) and not n.startswith("_")}
    return tuple(sorted(names))


def missing_members(obj: object, proto: type) -> tuple[str, ...]:
    """What ``obj`` lacks of ``proto``: absent attributes, and methods that are not callable."""
    missing = []
    for name in protocol_members(proto):
        value = getattr(obj, name, _ABSENT)
        declared_callable = callable(getattr(proto, name, None))
        if value is _ABSENT or (declared_callable and not callable(value)):
            missing.append(name)
    return tuple(missing)


_ABSENT = object()
