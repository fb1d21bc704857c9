"""The default permission compiler: the compiled policy of permissions.md §4.

Per table and op, the ordered rules with sorted roles, ``columns`` expanded to the explicit sorted
column list of the table (a later schema change cannot silently widen a ``*``), and the condition
as data. The table's connection is recorded beside it. The Bridge enforces exactly this document.
"""

from __future__ import annotations

from typing import Any

from santokit.core.ir import Schema
from santokit.core.permissions import Policy, Rule, column_types
from santokit.core.plugins import hookimpl

POLICY_VERSION = 1


class PolicyCompiler:
    name = "policy"

    def compile(self, policy: Policy, schema: Schema) -> dict[str, Any]:
        tables: dict[str, Any] = {}
        for entry in policy.tables:
            table = next(t for _, t in schema.tables() if t.name == entry.table)
            every = sorted(column_types(table))
            tables[entry.table] = {
                "connection": entry.connection,
                "ops": {op: [_rule(r, every) for r in rules] for op, rules in entry.ops},
            }
        return {"version": POLICY_VERSION, "tables": tables}


def _rule(rule: Rule, every: list[str]) -> dict[str, Any]:
    return {
        "roles": sorted(rule.roles),
        "columns": sorted(rule.columns) if rule.columns is not None else every,
        "condition": rule.condition.to_json() if rule.condition else None,
    }


@hookimpl
def santokit_permission_compilers() -> list[object]:
    return [PolicyCompiler()]
