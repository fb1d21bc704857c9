"""Access rules checked against the schema they ship with (permissions.md §1-§3).

The structure of ``config/permissions.yaml`` is the JSON Schema's job; this module checks what
needs the schema (tables, columns, the id column included) and the conditions, and turns a valid
file into a ``Policy``: frozen values that permission compilers read. Every problem becomes a
finding with file, line and YAML path, all reported together.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .conditions import Condition, Unsupported, parse_condition
from .errors import Finding, YamlPath
from .ir import Schema, Table
from .yamlsource import YamlDocument

OPS = ("select", "insert", "update", "delete")
ALL_COLUMNS = "*"


@dataclass(frozen=True)
class Rule:
    """One rule: ``columns`` None means every column (``*`` or absent)."""

    roles: tuple[str, ...]
    columns: tuple[str, ...] | None = None
    condition: Condition | None = None
    source: str | None = None  # the condition as written, for summaries


@dataclass(frozen=True)
class TablePolicy:
    table: str
    connection: str
    ops: tuple[tuple[str, tuple[Rule, ...]], ...]  # in OPS order; unlisted ops allow nothing

    def rules(self, op: str) -> tuple[Rule, ...]:
        return dict(self.ops).get(op, ())


@dataclass(frozen=True)
class Policy:
    tables: tuple[TablePolicy, ...] = ()

    def table(self, name: str) -> TablePolicy | None:
        return next((t for t in self.tables if t.table == name), None)


def column_types(table: Table) -> dict[str, str]:
    """Every column a rule may name, with its logical type; the id column counts."""
    return {table.id.name: table.id.type} | {c.name: c.type for c in table.columns}


def _suggest(name: str, options: Iterable[str]) -> str:
    hint = difflib.get_close_matches(name, list(options), n=1)
    return f"; did you mean {hint[0]!r}?" if hint else ""


def _broken(path: YamlPath, bad: set[YamlPath]) -> bool:
    """Whether a structural finding sits at, under or above ``path`` (so skip it here)."""
    return any(b[: len(path)] == path or path[: len(b)] == b for b in bad)


def _rule_entries(value: Any, path: YamlPath) -> Iterator[tuple[int, YamlPath, dict[str, Any]]]:
    """(index, path, rule) for the list form and the single-rule shorthand alike."""
    if isinstance(value, dict):
        yield 0, path, value
    elif isinstance(value, list):
        for i, rule in enumerate(value):
            if isinstance(rule, dict):
                yield i, (*path, i), rule


def check_permissions(
    doc: YamlDocument, schema: Schema, structural: Iterable[Finding] = ()
) -> tuple[Policy, list[Finding]]:
    """The policy of a structurally checked permissions file, and every semantic finding.

    Parts with a structural finding are skipped (that finding already explains them).
    """
    bad = {f.path for f in structural}
    findings: list[Finding] = []
    data = doc.data if isinstance(doc.data, dict) else {}
    by_name = {t.name: (c, t) for c, t in schema.tables()}
    tables = t if isinstance(t := data.get("tables"), dict) else {}
    policies: list[TablePolicy] = []
    for name, ops in sorted(tables.items()):
        path: YamlPath = ("tables", name)
        if path in bad:
            continue
        if name not in by_name:
            findings.append(
                doc.finding(
                    path,
                    f"unknown table {name!r}: no schema/*.yaml declares it"
                    + _suggest(name, by_name),
                    key=True,
                )
            )
            continue
        connection, table = by_name[name]
        types = column_types(table)
        op_rules: list[tuple[str, tuple[Rule, ...]]] = []
        for op in OPS:
            if not isinstance(ops, dict) or op not in ops:
                continue
            rules: list[Rule] = []
            for i, rule_path, raw in _rule_entries(ops[op], (*path, op)):
                if _broken(rule_path, bad):
                    continue
                label = f"{name}.{op} rule #{i + 1}"
                rule, problems = _rule(doc, raw, rule_path, label, types)
                findings += problems
                if rule is not None:
                    rules.append(rule)
            op_rules.append((op, tuple(rules)))
        policies.append(TablePolicy(name, connection, tuple(op_rules)))
    if isinstance(data.get("tables"), dict) and ("tables",) not in bad:
        for connection, table in schema.tables():
            if table.name not in tables:
                findings.append(
                    doc.finding(
                        ("tables",),
                        f"table {table.name} (connection {connection}) has no rule: it is not "
                        "reachable through the Bridge",
                        key=True,
                        severity="warning",
                    )
                )
    return Policy(tuple(policies)), findings


def _rule(
    doc: YamlDocument, raw: dict[str, Any], path: YamlPath, label: str, types: dict[str, str]
) -> tuple[Rule | None, list[Finding]]:
    findings: list[Finding] = []
    columns: tuple[str, ...] | None = None
    listed = raw.get("columns")
    if isinstance(listed, list) and listed != [ALL_COLUMNS]:
        for j, col in enumerate(listed):
            if col not in types:
                findings.append(
                    doc.finding(
                        (*path, "columns", j),
                        f"{label}: unknown column {col!r} of table "
                        f"{label.split('.')[0]}" + _suggest(str(col), types),
                    )
                )
        columns = tuple(sorted(str(c) for c in listed))
    condition = None
    text = raw.get("condition")
    if isinstance(text, str):
        try:
            condition = parse_condition(text, types)
        except Unsupported as exc:
            shown = text if len(text) <= 80 else text[:77] + "..."
            findings.append(doc.finding((*path, "condition"), f"{label}: {shown!r}: {exc}"))
    if findings:
        return None, findings
    roles = tuple(sorted(str(r) for r in raw.get("roles", ())))
    return Rule(roles, columns, condition, text if isinstance(text, str) else None), []
