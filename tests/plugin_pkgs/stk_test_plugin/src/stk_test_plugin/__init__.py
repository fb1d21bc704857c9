"""Team rules as a third-party plugin would write them.

- TEAM001 (a lint): every table needs a ``created_at`` column.
- TEAM002 (a change rule): no index on more than three columns.
"""

from __future__ import annotations

from collections.abc import Iterable

from santokit.core.changes import Change, CreateIndex
from santokit.core.contracts import LintIssue, RuleContext, Verdict
from santokit.core.ir import Schema
from santokit.core.plugins import hookimpl


class RequireCreatedAt:
    code = "TEAM001"

    def lint(self, schema: Schema) -> Iterable[LintIssue]:
        for _, table in schema.tables():
            if table.column("created_at") is None:
                yield LintIssue(
                    self.code, f"table {table.name!r} needs a created_at column", table.name
                )


class NarrowIndexes:
    code = "TEAM002"

    def check(self, change: Change, context: RuleContext) -> Verdict | None:
        if isinstance(change, CreateIndex) and len(change.index.columns) > 3:
            return Verdict(
                "destructive",
                self.code,
                f"index {change.index.name} has more than 3 columns",
                "split it, or ask the DBA team to create it by hand: {sql}",
            )
        return None


@hookimpl
def santokit_diff_rules() -> list[object]:
    return [RequireCreatedAt(), NarrowIndexes()]
