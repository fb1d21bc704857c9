"""Typed shapes of what plugins return through the hooks in ``hookspecs``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from .ir import Schema


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
