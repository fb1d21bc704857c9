"""A second permission compiler, as a team would add one: PostgreSQL row-level-security policies
for the owner rules (``resource.<col> == request.auth.sub``), stored in the release as
``rls_sql``, per connection. The SQL is an artifact for the data plane; Santokit never runs it."""

from __future__ import annotations

from typing import Any

from santokit.core.conditions import AuthSub
from santokit.core.ir import Schema
from santokit.core.permissions import Policy
from santokit.core.plugins import hookimpl


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class RlsCompiler:
    name = "rls_sql"

    def compile(self, policy: Policy, schema: Schema) -> dict[str, Any]:
        by_connection: dict[str, list[str]] = {}
        for table in policy.tables:
            statements = by_connection.setdefault(table.connection, [])
            owned = [
                (op, i, rule)
                for op, rules in table.ops
                for i, rule in enumerate(rules)
                if rule.condition is not None and isinstance(rule.condition.value, AuthSub)
            ]
            if not owned:
                continue
            statements.append(f"ALTER TABLE {_quote(table.table)} ENABLE ROW LEVEL SECURITY;")
            for op, i, rule in owned:
                assert rule.condition is not None
                roles = ", ".join(_quote(r) for r in rule.roles)
                check = "WITH CHECK" if op == "insert" else "USING"
                statements.append(
                    f"CREATE POLICY {_quote(f'stk_{table.table}_{op}_{i + 1}')} ON "
                    f"{_quote(table.table)} FOR {op.upper()} TO {roles} {check} "
                    f"({_quote(rule.condition.column)} = "
                    "current_setting('request.auth.sub', true));"
                )
        return {conn: sql for conn, sql in sorted(by_connection.items()) if sql}


@hookimpl
def santokit_permission_compilers() -> list[object]:
    return [RlsCompiler()]
