"""Drift: every kind of change made by hand is detected; undeclared tables never are."""

from __future__ import annotations

import pytest

from santokit.plugins.diffrules import RULES
from santokit.plugins.postgres.engine import PostgresEngine

from .pg import execute
from .test_pg_engine import USERS, declare

ENGINE = PostgresEngine()

MANUAL = {
    "add column": ("alter table users add column extra text", [("column", "users", "extra")]),
    # dropping a column drops its index with it: both are reported
    "drop column": (
        "alter table users drop column nickname",
        [("column", "users", "nickname"), ("index", "users", "users_nickname_idx")],
    ),
    "change type": ("alter table users alter column age type bigint", [("column", "users", "age")]),
    "change default": (
        "alter table users alter column age set default 5",
        [("column", "users", "age")],
    ),
    "drop default": (
        "alter table users alter column age drop default",
        [("column", "users", "age")],
    ),
    "set not null": (
        "alter table users alter column nickname set not null",
        [("column", "users", "nickname")],
    ),
    "drop index": ("drop index users_nickname_idx", [("index", "users", "users_nickname_idx")]),
    "drop unique": (
        "alter table users drop constraint users_email_key",
        [("column", "users", "email")],
    ),
    "drop fk": (
        "alter table posts drop constraint posts_user_id_fkey",
        [("foreign_key", "posts", "user_id")],
    ),
    "add unique index": (
        "create unique index by_hand on users (nickname)",
        [("index", "users", "by_hand")],
    ),
    "drop table": ("drop table posts", [("table", "posts", "posts")]),
}


@pytest.mark.parametrize("name", sorted(MANUAL))
def test_manual_change_is_drift(database, name: str) -> None:
    sql, expected = MANUAL[name]
    applied = declare(USERS)
    ENGINE.apply(database, applied, None, RULES)
    assert ENGINE.drift(database, applied, applied) == []
    execute(database, sql)
    items = ENGINE.drift(database, applied, applied)
    assert sorted((i.object, i.table, i.name) for i in items) == sorted(expected)
    for item in items:
        assert item.actual != item.applied
        assert item.describe().startswith(f"{item.table}")
        assert "in the database by hand" in item.describe()
        assert "literal" not in item.describe()


def test_undeclared_objects_are_not_drift(database) -> None:
    applied = declare(USERS)
    ENGINE.apply(database, applied, None, RULES)
    execute(database, "create table by_hand (x int)", "create index perf on users (age)")
    assert ENGINE.drift(database, applied, applied) == []


def test_a_change_already_declared_is_not_drift(database) -> None:
    applied = declare(USERS)
    ENGINE.apply(database, applied, None, RULES)
    execute(database, "alter table users add column extra text")
    declared = declare(USERS.replace("      age:", "      extra: { type: string }\n      age:"))
    assert ENGINE.drift(database, applied, declared) == []
    assert ENGINE.plan(database, declared, applied, RULES).is_empty


def test_safe_repair_is_planned_and_a_destructive_one_is_blocked(database) -> None:
    applied = declare(USERS)
    ENGINE.apply(database, applied, None, RULES)
    execute(database, "drop index users_nickname_idx", "alter table users add column extra text")
    plan = ENGINE.plan(database, applied, applied, RULES)
    assert {(c.change.kind, c.classification) for c in plan.changes} == {
        ("create_index", "safe"),
        ("drop_column", "destructive"),
    }
