"""Typed shapes of what plugins return through the hooks in ``hookspecs``."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from .changes import Change
from .ir import ConnectionSchema, Schema
from .permissions import Policy

if TYPE_CHECKING:  # planning imports this module's rule types
    from .drift import DriftItem
    from .planning import ConnectionPlan


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
    ) -> Any:
        """Run ``plan`` (default: this session's) in one transaction of a write session, check
        convergence when DDL ran, write ``record``, commit; or change nothing."""
        ...


@runtime_checkable
class Engine(Protocol):
    """A database engine (``santokit_engines``): everything the Hub calls on one, and nothing
    more. Every method takes a connection URL (never logged, never echoed) and IR values, and
    raises ``santokit.core.errors`` exceptions with one-line, secret-free messages."""

    name: str

    def test(self, url: str) -> dict[str, Any]:
        """``{ok, serverVersion, latencyMs}``, or ConnectionFailed."""
        ...

    def render(self, change: Change, schema: str = "public") -> str:
        """The SQL of one change (shown to operators; blocked changes are never run)."""
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
        schema: str = "public",
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
        schema: str = "public",
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
        schema: str = "public",
        lock: tuple[str, ...] = (),
        moved_to: dict[str, str] | None = None,
        record: AppliedRecord | None = None,
    ) -> Any:
        """Apply the safe plan in one transaction, or change nothing; ``record`` is written to
        the database's ``APPLIED_TABLE`` in that same transaction."""
        ...

    def applied_record(
        self, url: str, project: str, env: str, connection: str, *, schema: str = "public"
    ) -> AppliedRecord | None:
        """The database's own record of the last apply of (project, env, connection), or None
        when there is none (never applied by a Hub that records it)."""
        ...

    def compatibility(
        self, url: str, release: ConnectionSchema, *, schema: str = "public"
    ) -> list[str]:
        """Why this database cannot serve ``release`` (empty when it can)."""
        ...

    def drift(
        self,
        url: str,
        applied: ConnectionSchema,
        declared: ConnectionSchema,
        *,
        schema: str = "public",
    ) -> list[DriftItem]:
        """Objects whose live state differs from both what was applied and what is declared."""
        ...
