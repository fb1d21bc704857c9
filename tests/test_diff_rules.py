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


def test_the_summary_says_add_change_and_blocked_apart() -> None:
    from santokit.core.ir import Default

    before = Table(
        "t",
        columns=(
            Column("a", "string", nullable=False),
            Column("b", "string", default=Default("literal", "draft")),
            Column("gone", "int"),
        ),
    )
    after = Table(
        "t",
        columns=(
            Column("a", "string"),
            Column("b", "string", default=Default("literal", "published")),
            Column("c", "int"),
            Column("d", "bigint"),
        ),
    )
    p = plan(conn(after), conn(before), previous=conn(before))
    assert p.summary() == "2 to add, 2 to change, 1 blocked"
    [set_default] = [c for c in p.changes if c.change.kind == "set_default"]
    assert set_default.describe() == "set default t.b: 'draft' -> 'published'"
    assert plan(conn(before), conn(before), previous=conn(before)).summary() == "no changes"


def test_a_drop_and_an_add_of_one_type_is_a_probable_rename() -> None:
    def render(change: object) -> str:
        from santokit.plugins.postgres.render import render

        return render("public", change)  # type: ignore[arg-type]

    old = Table("posts", columns=(Column("title", "string"), Column("n", "int")))
    new = Table("posts", columns=(Column("name", "string"), Column("n", "int")))
    p = make_plan(RuleContext("main", conn(new), conn(old), conn(old)), RULES, render)
    [drop] = [c for c in p.changes if c.change.kind == "drop_column"]
    [add] = [c for c in p.changes if c.change.kind == "add_column"]
    rename = 'ALTER TABLE "public"."posts" RENAME COLUMN "title" TO "name"'
    assert drop.code == "DS102"
    assert drop.remedy.startswith("if posts.title was renamed to posts.name")
    assert rename in drop.remedy
    assert "DROP" not in drop.remedy  # the remedy never deletes data
    assert drop.describe().startswith("probable rename posts.title -> posts.name")
    assert drop.to_json()["probableRename"] == {
        "from": "posts.title",
        "to": "posts.name",
        "sql": rename,
    }
    assert add.rename == drop.rename
    # another type is not a rename
    other = Table("posts", columns=(Column("name", "int"), Column("n", "int")))
    p2 = make_plan(RuleContext("main", conn(other), conn(old), conn(old)), RULES, render)
    assert all(c.rename is None for c in p2.changes)


def test_a_dropped_table_and_a_new_one_alike_is_a_probable_rename() -> None:
    cols = (Column("title", "string"),)
    p = make_plan(
        RuleContext(
            "main",
            conn(Table("articles", columns=cols)),
            conn(Table("posts", columns=cols)),
            conn(Table("posts", columns=cols)),
        ),
        RULES,
        lambda c: __import__("santokit.plugins.postgres.render", fromlist=["render"]).render(
            "public", c
        ),
    )
    [drop] = [c for c in p.changes if c.change.kind == "drop_table"]
    assert 'ALTER TABLE "public"."posts" RENAME TO "articles"' in drop.remedy
    assert "DROP" not in drop.remedy


def test_changes_that_restore_the_applied_schema_are_drift_repairs() -> None:
    applied = Table("t", columns=(Column("a", "int"),), indexes=(Index("t_a_idx", ("a",)),))
    actual = Table("t", columns=(Column("a", "int"),))  # the index was dropped by hand
    declared = Table("t", columns=(Column("a", "int"), Column("b", "int")), indexes=applied.indexes)
    p = plan(conn(declared), conn(actual), previous=conn(applied))
    assert {(c.change.kind, c.repair) for c in p.changes} == {
        ("create_index", True),
        ("add_column", False),
    }
    assert p.summary() == "2 to add, 0 blocked; 1 drift repair"
