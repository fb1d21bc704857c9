"""The postgres engine against a real database: plan, apply, blocked changes, failures, locks."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from santokit.core.errors import ApplyFailed, ChangeBlocked, Conflict, ConnectionFailed
from santokit.core.ir import ConnectionSchema
from santokit.core.validation import Snapshot, validate_snapshot
from santokit.plugins.diffrules import RULES
from santokit.plugins.postgres.engine import PostgresEngine, lock_key

from .pg import execute, rows, schema_dump, wait_for_lock_waiter

ENGINE = PostgresEngine()


def declare(yaml_text: str, connection: str = "main") -> ConnectionSchema:
    result = validate_snapshot(Snapshot({"schema/a.yaml": yaml_text.encode()}))
    assert result.ok, [str(f) for f in result.findings]
    conn = result.schema.connection(connection)
    assert conn is not None
    return conn


USERS = """
version: 1
tables:
  users:
    connection: main
    columns:
      email: { type: string, nullable: false, unique: true }
      nickname: { type: string }
      age: { type: int, default: 0 }
      created_at: { type: timestamp, nullable: false, default: now }
    indexes:
      - columns: [nickname]
  posts:
    connection: main
    id: { generate: auto_increment }
    columns:
      user_id: { type: string, nullable: false, references: { table: users, onDelete: cascade } }
      tags: { type: array, items: string, nullable: false, default: [] }
      price: { type: decimal, default: '12.50' }
      body: { type: json }
"""


def test_apply_creates_everything_and_then_plans_nothing(database) -> None:
    declared = declare(USERS)
    plan = ENGINE.plan(database, declared, None, RULES)
    assert not plan.is_blocked
    assert plan.summary() == f"{len(plan.changes)} to add, 0 blocked"
    result = ENGINE.apply(database, declared, None, RULES)
    assert [c.change.kind for c in result.applied][:2] == ["create_table", "create_table"]
    again = ENGINE.plan(database, declared, declared, RULES)
    assert again.is_empty, [c.change.describe() for c in again.changes]
    assert ENGINE.introspect(database, ["users", "posts"], declared) == declared
    # the data plane can write through what was created
    execute(
        database,
        "insert into users (id, email) values ('u1', 'a@x')",
        "insert into posts (user_id) values ('u1')",
    )
    assert rows(database, "select tags, price::text from posts") == [([], "12.50")]


def test_dry_run_changes_nothing(database) -> None:
    before = schema_dump(database)
    plan = ENGINE.plan(database, declare(USERS), None, RULES)
    assert len(plan.changes) > 0
    assert schema_dump(database) == before


def test_undeclared_tables_are_never_touched_or_reported(database) -> None:
    execute(database, "create table legacy (x int)", "create table users_old (y text)")
    declared = declare(USERS)
    ENGINE.apply(database, declared, None, RULES)
    assert ENGINE.plan(database, declared, declared, RULES).is_empty
    assert rows(database, "select count(*) from legacy") == [(0,)]


EVOLVED = {
    "drop table": (USERS.replace("  posts:", "  zposts:").split("  zposts:")[0], "DS101"),
    "drop column": (
        USERS.replace("      nickname: { type: string }\n", "")
        .replace("      - columns: [nickname]\n", "")
        .replace("    indexes:\n  posts", "  posts"),
        "DS102",
    ),
    "drop index": (USERS.replace("    indexes:\n      - columns: [nickname]\n", ""), "DS103"),
    "drop unique": (USERS.replace("nullable: false, unique: true", "nullable: false"), "DS103"),
    "drop foreign key": (
        USERS.replace(", references: { table: users, onDelete: cascade }", ""),
        "DS103",
    ),
    "set not null": (
        USERS.replace("nickname: { type: string }", "nickname: { type: string, nullable: false }"),
        "MF101",
    ),
    "add not-null column without default": (
        USERS.replace("      age:", "      score: { type: int, nullable: false }\n      age:"),
        "MF102",
    ),
    "add unique to existing column": (
        USERS.replace("nickname: { type: string }", "nickname: { type: string, unique: true }"),
        "MF103",
    ),
    "add foreign key to existing column": (
        USERS.replace(
            "nickname: { type: string }", "nickname: { type: string, references: { table: users } }"
        ),
        "MF103",
    ),
    "add unique index on existing column": (
        USERS.replace(
            "      - columns: [nickname]\n",
            "      - columns: [nickname]\n      - { columns: [age], unique: true }\n",
        ),
        "MF103",
    ),
    "change type": (
        USERS.replace("age: { type: int, default: 0 }", "age: { type: bigint, default: 0 }"),
        "UN101",
    ),
    "change logical type on same storage": (
        USERS.replace("body: { type: json }", "body: { type: array, items: int }"),
        "UN101",
    ),
    "change id generate": (
        USERS.replace(
            "  users:\n    connection: main\n",
            "  users:\n    connection: main\n    id: { generate: uuid_v7 }\n",
        ),
        "UN102",
    ),
    "change id kind": (
        USERS.replace("id: { generate: auto_increment }", "id: { generate: client, type: bigint }"),
        "UN102",
    ),
    "change fk action": (USERS.replace("onDelete: cascade", "onDelete: restrict"), "DS103"),
}


@pytest.mark.parametrize("name", sorted(EVOLVED))
def test_blocked_changes_change_nothing(database, name: str) -> None:
    yaml_text, code = EVOLVED[name]
    applied = declare(USERS)
    ENGINE.apply(database, applied, None, RULES)
    execute(
        database,
        "insert into users (id, email, nickname) values ('u1', 'a@x', 'n')",
        "insert into posts (user_id) values ('u1')",
    )
    declared = declare(yaml_text)
    plan = ENGINE.plan(database, declared, applied, RULES)
    assert plan.is_blocked
    assert code in {c.code for c in plan.blocked}, [c.to_json() for c in plan.changes]
    assert all(c.remedy for c in plan.blocked)
    before = schema_dump(database)
    with pytest.raises(ChangeBlocked) as err:
        ENGINE.apply(database, declared, applied, RULES)
    assert code in {d["code"] for d in err.value.details}
    assert schema_dump(database) == before
    assert rows(database, "select count(*) from posts") == [(1,)]


def test_moving_a_table_between_connections_is_unsupported(database) -> None:
    notes = "  notes:\n    connection: {}\n    columns:\n      text: {{ type: string }}\n"
    applied = declare(USERS + notes.format("main"))
    ENGINE.apply(database, applied, None, RULES)
    declared = declare(USERS + notes.format("other"))
    plan = ENGINE.plan(database, declared, applied, RULES, moved_to={"notes": "other"})
    assert [c.code for c in plan.blocked] == ["UN103"]


SAFE = (
    USERS.replace(
        "      created_at:",
        "      bio: { type: string }\n      level: { type: int, nullable: false, default: 1 }\n      created_at:",
    )
    .replace("nickname: { type: string }", "nickname: { type: string, default: anon }")
    .replace("age: { type: int, default: 0 }", "age: { type: int }")
    .replace("user_id: { type: string, nullable: false,", "user_id: { type: string,")
    + """
  comments:
    connection: main
    columns:
      post_id: { type: bigint, references: { table: posts } }
      text: { type: string }
    indexes:
      - columns: [post_id]
"""
)


def test_safe_changes_keep_rows(database) -> None:
    applied = declare(USERS)
    ENGINE.apply(database, applied, None, RULES)
    execute(
        database,
        "insert into users (id, email, nickname, age) values ('u1', 'a@x', 'n', 7)",
        "insert into posts (user_id) values ('u1')",
    )
    declared = declare(SAFE)
    plan = ENGINE.plan(database, declared, applied, RULES)
    assert not plan.is_blocked
    kinds = {c.change.kind for c in plan.changes}
    assert kinds == {
        "add_column",
        "set_default",
        "drop_default",
        "drop_not_null",
        "create_table",
        "create_index",
        "add_foreign_key",
    }
    ENGINE.apply(database, declared, applied, RULES)
    assert ENGINE.plan(database, declared, declared, RULES).is_empty
    assert rows(database, "select id, email, nickname, age, level, bio from users") == [
        ("u1", "a@x", "n", 7, 1, None)
    ]


def test_a_failing_statement_rolls_everything_back(database) -> None:
    applied = declare(USERS)
    ENGINE.apply(database, applied, None, RULES)
    execute(database, "insert into users (id, email) values ('u1', 'a@x')")
    # safe by the rules (a new column), but its default points at no user: the FK check fails
    declared = declare(
        USERS.replace(
            "      age:",
            "      aaa_first: { type: string }\n      referrer: { type: string, default: nobody, references: { table: users } }\n      age:",
        )
    )
    before = schema_dump(database)
    with pytest.raises(ApplyFailed) as err:
        ENGINE.apply(database, declared, applied, RULES)
    message = err.value.message
    assert "violates foreign key constraint" in message
    assert "nothing was applied" in message
    assert "users_referrer_fkey" in message
    assert schema_dump(database) == before


def test_lock_timeout_names_the_statement_and_applies_nothing(database) -> None:
    applied = declare(USERS)
    ENGINE.apply(database, applied, None, RULES)
    declared = declare(USERS.replace("      age:", "      bio: { type: string }\n      age:"))
    before = schema_dump(database)
    with psycopg.connect(database) as holder:
        holder.execute("lock table users in access share mode")
        with pytest.raises(ApplyFailed) as err:
            ENGINE.apply(database, declared, applied, RULES, lock_timeout="200ms")
    assert "waited too long for a lock" in err.value.message
    assert 'ADD COLUMN "bio"' in err.value.message
    assert schema_dump(database) == before


def test_second_concurrent_apply_gets_conflict(database) -> None:
    applied = declare(USERS)
    ENGINE.apply(database, applied, None, RULES)
    declared = declare(USERS.replace("      age:", "      bio: { type: string }\n      age:"))
    outcomes: list[str] = []

    def run(wait: float) -> None:
        try:
            ENGINE.apply(database, declared, applied, RULES, lock_wait_s=wait)
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")

    with psycopg.connect(database) as holder:
        holder.execute("lock table users in access share mode")  # the first apply waits here
        first = threading.Thread(target=run, args=(30.0,))  # released long before that
        first.start()
        wait_for_lock_waiter(database)
        second = threading.Thread(target=run, args=(0.3,))
        second.start()
        second.join()
        holder.rollback()  # release: the first apply proceeds
    first.join()
    assert sorted(outcomes) == ["conflict", "ok"]
    assert ENGINE.plan(database, declared, applied, RULES).is_empty


def test_lock_held_elsewhere_is_conflict(database) -> None:
    declared = declare(USERS)
    with psycopg.connect(database, autocommit=True) as other:
        other.execute("select pg_advisory_lock(%s)", (lock_key("public"),))
        start = time.monotonic()
        with pytest.raises(Conflict, match="another apply is running"):
            ENGINE.apply(database, declared, None, RULES, lock_wait_s=0.5)
        assert time.monotonic() - start < 3
    assert rows(database, "select count(*) from pg_tables where tablename = 'users'") == [(0,)]


def test_long_and_colliding_names(database) -> None:
    long_table = "t" * 63
    text = f"""
version: 1
tables:
  {long_table}:
    connection: main
    columns:
      {"c" * 63}: {{ type: string, unique: true }}
      {"c" * 62}d: {{ type: string, unique: true }}
    indexes:
      - columns: [{"c" * 63}, {"c" * 62}d]
      - columns: [{"c" * 62}d, {"c" * 63}]
  a_b:
    connection: main
    columns:
      c: {{ type: string, references: {{ table: {long_table}, column: {"c" * 63} }} }}
"""
    declared = declare(text)
    ENGINE.apply(database, declared, None, RULES)
    assert ENGINE.plan(database, declared, declared, RULES).is_empty
    names = [
        r[0]
        for r in rows(
            database,
            "select c.relname from pg_class c join pg_namespace n "
            "on n.oid = c.relnamespace where relkind = 'i' and nspname = 'public'",
        )
    ]
    assert all(len(n) <= 63 for n in names)
    assert len(names) == len(set(names)) == 6


def test_connection_dropped_mid_apply_leaves_nothing(database) -> None:
    applied = declare(USERS)
    ENGINE.apply(database, applied, None, RULES)
    declared = declare(
        USERS.replace("      age:", "      bio: { type: string }\n      age:")
        + "  extra:\n    connection: main\n"
    )
    before = schema_dump(database)
    errors: list[Exception] = []

    def run() -> None:
        try:
            ENGINE.apply(database, declared, applied, RULES, lock_timeout="20s")
        except Exception as exc:
            errors.append(exc)

    with psycopg.connect(database) as holder:
        holder.execute("lock table users in access share mode")
        worker = threading.Thread(target=run)
        worker.start()
        for _ in range(100):  # wait until the apply is blocked on the lock, mid-transaction
            waiting = rows(
                database,
                "select pid from pg_stat_activity where application_name = "
                "'santokit' and wait_event_type = 'Lock'",
            )
            if waiting:
                break
            time.sleep(0.05)
        assert waiting
        execute(database, f"select pg_terminate_backend({waiting[0][0]})")
        worker.join(10)
    assert len(errors) == 1
    # a killed session is a lost connection, never a refused plan or a failed statement
    assert isinstance(errors[0], ConnectionFailed), repr(errors[0])
    assert errors[0].code == "CONNECTION_FAILED"
    assert "nothing was applied" in errors[0].message
    assert schema_dump(database) == before  # the table created first was rolled back too


class CountingCursor(psycopg.Cursor):
    """A real cursor that counts the statements sent through it."""

    statements = 0

    def execute(self, query, params=None, **kw):  # type: ignore[override]
        CountingCursor.statements += 1
        return super().execute(query, params, **kw)


@pytest.mark.parametrize("tables", [1, 60])
def test_introspection_is_a_fixed_number_of_queries(database, tables: int) -> None:
    from santokit.plugins.postgres.introspect import introspect

    text = "version: 1\ntables:\n" + "".join(
        f"  t{i}:\n    connection: main\n    columns:\n      a: {{ type: string, unique: true }}\n"
        f"      p: {{ type: string, references: {{ table: t0 }} }}\n"
        f"    indexes:\n      - columns: [p]\n"
        for i in range(tables)
    )
    declared = declare(text)
    ENGINE.apply(database, declared, None, RULES)
    with psycopg.connect(database, autocommit=True, cursor_factory=CountingCursor) as conn:
        CountingCursor.statements = 0
        actual = introspect(conn, "public", [t.name for t in declared.tables], declared, "main")
        assert CountingCursor.statements == 3
    assert actual == declared


def test_columns_are_created_and_added_in_declared_order(database) -> None:
    declared = declare(USERS)
    ENGINE.apply(database, declared, None, RULES)
    order = "select column_name from information_schema.columns where table_name = %s order by ordinal_position"

    def columns(table: str) -> list[str]:
        return [r[0] for r in rows(database, order.replace("%s", f"'{table}'"))]

    assert columns("users") == ["id", "email", "nickname", "age", "created_at"]
    assert columns("posts") == ["id", "user_id", "tags", "price", "body"]
    assert ENGINE.plan(database, declared, declared, RULES).is_empty
    # two columns added to a table are added in the order they are declared, not by name
    grown_yaml = USERS.replace(
        "      body: { type: json }\n",
        "      body: { type: json }\n      zeta: { type: string }\n      alpha: { type: int }\n",
    )
    grown = declare(grown_yaml)
    assert grown.fingerprint != declared.fingerprint
    plan = ENGINE.plan(database, grown, declared, RULES)
    assert [c.change.target for c in plan.changes] == ["posts.zeta", "posts.alpha"]
    ENGINE.apply(database, grown, declared, RULES)
    assert columns("posts") == ["id", "user_id", "tags", "price", "body", "zeta", "alpha"]
    again = ENGINE.plan(database, grown, grown, RULES)
    assert again.is_empty, [c.change.describe() for c in again.changes]
    seen = ENGINE.introspect(database, ["posts"], grown).table("posts")
    assert seen is not None
    assert [c.name for c in seen.ordered_columns] == [
        "user_id",
        "tags",
        "price",
        "body",
        "zeta",
        "alpha",
    ]
