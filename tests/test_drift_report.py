"""Each drifted object carries its own two ways out, naming the object and the state to reach,
in the operator's words (``default: 'draft' -> none``), never the IR's JSON."""

from __future__ import annotations

from santokit.core.drift import DriftItem


def col(**over: object) -> dict[str, object]:
    return {"type": "string", "nullable": True, "unique": False, "default": None} | over


def test_hand_added_object_is_declared_or_dropped() -> None:
    item = DriftItem("main", "users", "column", "extra", col(), None, None)
    yaml, db = item.ways_out()
    assert yaml == "declare column users.extra in schema/*.yaml as { type: string }, then apply"
    assert db == "drop column users.extra from the database by hand, then apply"
    assert item.describe() == (
        "users.extra (column): added in the database by hand as { type: string }"
    )


def test_hand_dropped_object_is_removed_or_recreated() -> None:
    item = DriftItem(
        "main", "users", "table", "users", None, "exists", "exists", ("CREATE TABLE ...",), True
    )
    yaml, db = item.ways_out()
    assert yaml == "remove table users from schema/*.yaml, then apply"
    assert db == "recreate table users: stk apply --only schema (it adds it back), then apply"
    _, dry = item.ways_out(schema_step="stk apply --only schema --dry-run")
    assert "stk apply --only schema --dry-run" in dry


def test_a_repair_apply_refuses_is_given_as_sql_to_run_by_hand() -> None:
    fk = {"references": "users.id", "onDelete": "cascade", "onUpdate": "restrict"}
    sql = 'ALTER TABLE "public"."posts" ADD CONSTRAINT "posts_user_id_fkey" FOREIGN KEY ...'
    item = DriftItem("main", "posts", "foreign_key", "user_id", None, fk, fk, (sql,), False)
    _, db = item.ways_out()
    assert "adds it back" not in db
    assert db.endswith(sql)
    assert "by hand" in db
    assert item.describe() == "posts.user_id (foreign key): dropped in the database by hand"


def test_hand_altered_object_names_each_field_that_changed() -> None:
    applied = col(nullable=False, default={"literal": "draft"})
    actual = col(nullable=True, default=None)
    item = DriftItem("main", "posts", "column", "status", actual, applied, applied)
    assert item.describe() == (
        "posts.status (column) changed in the database by hand: "
        "nullable: no -> yes, default: 'draft' -> none"
    )
    report = item.to_json()
    assert "literal" not in report["description"] + str(report["waysOut"])
    yaml, db = item.ways_out()
    assert yaml == "change column posts.status in schema/*.yaml to { type: string }, then apply"
    assert db == (
        "alter column posts.status in the database back to "
        '{ type: string, nullable: false, default: "draft" } by hand, then apply'
    )


def test_hand_altered_index() -> None:
    item = DriftItem(
        "main",
        "posts",
        "index",
        "posts_title_idx",
        {"columns": ["title"], "unique": True},
        {"columns": ["title"], "unique": False},
        {"columns": ["title"], "unique": False},
    )
    assert item.describe() == (
        "posts.posts_title_idx (index) changed in the database by hand: unique: no -> yes"
    )
    assert item.to_json()["waysOut"] == {
        "changeYaml": "change index posts.posts_title_idx in schema/*.yaml to "
        "{ columns: [title], unique: true }, then apply",
        "restoreDatabase": "alter index posts.posts_title_idx in the database back to "
        "{ columns: [title] } by hand, then apply",
    }
