"""Each drifted object carries its own two ways out, naming the object and the state to reach."""

from __future__ import annotations

from santokit.core.drift import DriftItem


def test_hand_added_object_is_declared_or_dropped() -> None:
    item = DriftItem("main", "users", "column", "extra", {"type": "string"}, None, None)
    yaml, db = item.ways_out()
    assert yaml == "declare column users.extra in schema/*.yaml as type=string, then apply"
    assert db == "drop column users.extra from the database by hand, then apply"


def test_hand_dropped_object_is_removed_or_recreated() -> None:
    item = DriftItem("main", "users", "table", "users", None, "exists", "exists")
    yaml, db = item.ways_out()
    assert yaml == "remove table users from schema/*.yaml, then apply"
    assert "stk apply --only schema" in db
    assert "users" in db


def test_hand_altered_object_names_both_states() -> None:
    item = DriftItem(
        "main",
        "posts",
        "index",
        "posts_title_idx",
        {"unique": True},
        {"unique": False},
        {"unique": False},
    )
    report = item.to_json()
    assert report["waysOut"] == {
        "changeYaml": "change index posts.posts_title_idx in schema/*.yaml to unique=true, "
        "then apply",
        "restoreDatabase": "alter index posts.posts_title_idx in the database back to "
        "unique=false by hand, then apply",
    }
