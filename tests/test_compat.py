"""The promote/rollback gate: a database is compatible with a release, or says why not."""

from __future__ import annotations

import pytest

from santokit.core.compat import incompatibilities
from santokit.plugins.diffrules import RULES
from santokit.plugins.postgres.engine import PostgresEngine

from .pg import execute
from .test_pg_engine import USERS, declare

ENGINE = PostgresEngine()


def test_the_database_a_release_was_applied_to_is_compatible(database) -> None:
    release = declare(USERS)
    ENGINE.apply(database, release, None, RULES)
    assert ENGINE.compatibility(database, release) == []


def test_an_empty_database_is_not(database) -> None:
    problems = ENGINE.compatibility(database, declare(USERS))
    assert problems == [
        "posts: table missing in the database",
        "users: table missing in the database",
    ]


ALLOWED = [
    "create table extra (x int)",
    "alter table users add column note text",
    "alter table users add column level int not null default 1",
    "create index perf on users (age)",
    "alter table users add column code text unique",
]
REFUSED = {
    "alter table users add column must int not null": "not nullable and has no default",
    "alter table users alter column nickname set not null": (
        "users.nickname: nullable: yes -> no (declared -> database)"
    ),
    "alter table users alter column age set default 9": (
        "users.age: default: 0 -> 9 (declared -> database)"
    ),
    "alter table users alter column age drop default": "users.age: default: 0 -> none",
    "alter table users add constraint nick_uq unique (nickname)": "unique in the database but not",
    "drop index users_nickname_idx": "index users_nickname_idx (nickname) missing in the database",
    "alter table posts drop constraint posts_user_id_fkey": (
        "posts.user_id: foreign key to users.id missing in the database"
    ),
    "alter table posts drop constraint posts_user_id_fkey, add constraint posts_user_id_fkey "
    "foreign key (user_id) references users (id)": (
        "posts.user_id: foreign key to users.id: onDelete: no_action (database) vs cascade "
        "(declared)"
    ),
    "create unique index u_age on users (age)": "unique index u_age",
    "alter table users drop column age": "users.age: missing",
}


def test_what_a_newer_schema_may_add_and_what_it_may_not(database) -> None:
    release = declare(USERS)
    ENGINE.apply(database, release, None, RULES)
    execute(database, *ALLOWED)
    assert ENGINE.compatibility(database, release) == []


@pytest.mark.parametrize("sql", sorted(REFUSED))
def test_incompatible(database, sql: str) -> None:
    release = declare(USERS)
    ENGINE.apply(database, release, None, RULES)
    execute(database, sql)
    problems = ENGINE.compatibility(database, release)
    assert len(problems) == 1
    assert REFUSED[sql] in problems[0]
    assert "literal" not in problems[0]


def test_pure_ir() -> None:
    release = declare(USERS)
    assert incompatibilities(release, release) == []
