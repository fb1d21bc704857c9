"""A team rule as a third-party plugin would write it: every table needs ``created_at``."""

from __future__ import annotations

from collections.abc import Iterable

from santokit.core.contracts import LintIssue
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


@hookimpl
def santokit_diff_rules() -> list[object]:
    return [RequireCreatedAt()]
