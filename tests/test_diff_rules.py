"""The diff and its rules without a database: ownership, ordering, plugins' rules."""

from __future__ import annotations

import os
import sys

from santokit.core.contracts import RuleContext
from santokit.core.ir import Column, ConnectionSchema, Index, Table
from santokit.core.planning import make_plan
from santokit.core.plugins import load_plugins
from santokit.plugins.diffrules import RULES


def conn(*tables: Table) -> ConnectionSchema:
    return ConnectionSchema("main", tables)


def plan(declared, actual, previous=None, rules=RULES):
    return make_plan(RuleContext("main", declared, actual, previous), rules, lambda c: "SQL")


def test_tables_never_declared_are_not_ours() -> None:
    legacy = Table("legacy", columns=(Column("x", "int"),))
    assert plan(conn(), conn(legacy)).is_empty


def test_a_table_declared_before_and_gone_now_is_a_blocked_drop() -> None:
    t = Table("t")
    p = plan(conn(), conn(t), previous=conn(t))
    assert [(c.change.kind, c.code) for c in p.changes] == [("drop_table", "DS101")]
    assert p.summary() == "0 to add, 1 blocked"


def test_tables_exist_before_foreign_keys_point_at_them() -> None:
    from santokit.core.ir import ForeignKey

    a = Table(
        "a",
        columns=(Column("b_id", "string"),),
        foreign_keys=(ForeignKey("a_b_id_fkey", "b_id", "b", "id"),),
    )
    b = Table("b", indexes=(Index("b_id_idx", ("id",)),))
    kinds = [c.change.kind for c in plan(conn(a, b), conn()).changes]
    assert kinds == ["create_table", "create_table", "create_index", "add_foreign_key"]


def test_hand_made_non_unique_index_is_left_alone_but_unique_is_not() -> None:
    declared = Table("t", columns=(Column("a", "int"),))
    actual = Table(
        "t",
        columns=(Column("a", "int"),),
        indexes=(Index("perf", ("a",)), Index("uq", ("a",), unique=True)),
    )
    p = plan(conn(declared), conn(actual), previous=conn(declared))
    assert [(c.change.kind, c.change.target, c.code) for c in p.changes] == [
        ("drop_index", "t.uq", "DS103")
    ]


def test_a_plugin_rule_takes_effect(test_plugin_path) -> None:
    sys.path.insert(0, str(test_plugin_path))
    try:
        rules = load_plugins().diff_rules()
    finally:
        sys.path.remove(str(test_plugin_path))
    assert "TEAM002" in {r.code for r in rules}
    wide = Index("t_a_b_c_d_idx", ("a", "b", "c", "d"))
    cols = tuple(Column(n, "int") for n in "abcd")
    declared = Table("t", columns=cols, indexes=(wide,))
    p = plan(
        conn(declared),
        conn(Table("t", columns=cols)),
        previous=conn(Table("t", columns=cols)),
        rules=rules,
    )
    assert [(c.change.kind, c.classification, c.code) for c in p.changes] == [
        ("create_index", "destructive", "TEAM002")
    ]
    assert os.environ.get("PYTHONPATH", "").find(str(test_plugin_path)) == -1
