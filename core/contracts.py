"""Typed shapes of what plugins return through the hooks in ``hookspecs``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from .changes import Change
from .ir import ConnectionSchema, Schema
from .permissions import Policy


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
