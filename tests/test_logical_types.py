"""The logical types agree everywhere they are named: the registry (core/logical.py), the
published JSON Schema's four enums, the Postgres mapping, and a real database that stores
each type and gives it back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from santokit.core.defaults import normalize_default
from santokit.core.ir import Column, ConnectionSchema, FileSpec, IdColumn, ItemType, Table
from santokit.core.logical import LOGICAL, LOGICAL_TYPES, SCALAR_ITEM_TYPES
from santokit.plugins.postgres.engine import PostgresEngine
from santokit.plugins.postgres.types import LOGICAL_OF, PG_TYPES

from .pg import rows

SPEC = json.loads((Path(__file__).parent.parent / "specs" / "schema-file.schema.json").read_text())
ENGINE = PostgresEngine()
# One default per type, as an operator writes it; a new type must add one here.
SAMPLE_DEFAULTS: dict[str, Any] = {
    "string": "it's",
    "int": -7,
    "bigint": 2**40,
    "float": 1.5,
    "decimal": "12.50",
    "boolean": True,
    "json": {"a": [1, None]},
    "timestamp": "2024-05-01T12:00:00+02:00",
    "bytes": "AAH/",
    "file": "a/b.png",
    "array": ["x", "y"],
}


def _column_rules() -> list[dict[str, Any]]:
    return SPEC["$defs"]["column"]["allOf"]


def _if_enum(rule: dict[str, Any]) -> set[str]:
    return set(rule["if"]["properties"]["type"]["enum"])


def _if_const(rule: dict[str, Any]) -> str:
    return rule["if"]["properties"]["type"]["const"]


def test_the_schema_files_type_enum_is_the_registry() -> None:
    assert SPEC["$defs"]["logicalType"]["enum"] == list(LOGICAL_TYPES)


def test_the_item_type_enum_is_the_registrys_scalar_items() -> None:
    assert SPEC["$defs"]["itemType"]["anyOf"][0]["enum"] == list(SCALAR_ITEM_TYPES)
    assert tuple(t.name for t in LOGICAL.values() if t.item) == SCALAR_ITEM_TYPES


def test_items_and_bucket_are_allowed_on_the_registrys_types_only() -> None:
    rules = _column_rules()
    needs_items = {_if_const(r) for r in rules if r["then"].get("required") == ["items"]}
    needs_bucket = {_if_const(r) for r in rules if r["then"].get("required") == ["bucket"]}
    no_items = next(_if_enum(r) for r in rules if "'items' is only" in json.dumps(r))
    no_bucket = next(_if_enum(r) for r in rules if "'bucket' is only" in json.dumps(r))
    assert needs_items == {t.name for t in LOGICAL.values() if t.items}
    assert no_items == {t.name for t in LOGICAL.values() if not t.items}
    assert needs_bucket == {t.name for t in LOGICAL.values() if t.file}
    assert no_bucket == {t.name for t in LOGICAL.values() if not t.file}


def test_every_type_has_a_postgres_type_and_no_other_does() -> None:
    assert set(PG_TYPES) == set(LOGICAL)
    assert sorted(t for ts in LOGICAL_OF.values() for t in ts) == sorted(LOGICAL)
    for pg, logical in LOGICAL_OF.items():
        assert all(PG_TYPES[t] == pg for t in logical)
        assert list(logical) == [t for t in LOGICAL_TYPES if t in logical]  # registry order


def test_the_sample_defaults_cover_the_registry() -> None:
    assert set(SAMPLE_DEFAULTS) == set(LOGICAL)


def _column(type_name: str, *, default: bool) -> Column:
    logical = LOGICAL[type_name]
    items = ItemType("string") if logical.items else None
    value = SAMPLE_DEFAULTS[type_name] if default else None
    return Column(
        name=f"{'d' if default else 'c'}_{type_name}",
        type=type_name,
        default=normalize_default(type_name, items, value),
        items=items,
        file=FileSpec("media") if logical.file else None,
    )


@pytest.mark.parametrize("type_name", LOGICAL_TYPES)
def test_each_type_survives_render_create_and_introspect(database: str, type_name: str) -> None:
    table = Table(
        "t",
        IdColumn(),
        (_column(type_name, default=False), _column(type_name, default=True)),
    )
    # a second table: the type without its declaration as a hint reads back as its storage's
    # first logical type (text: string, jsonb: json)
    bare = Table("u", IdColumn(), (_column(type_name, default=True),))
    declared = ConnectionSchema("main", (table, bare))
    ENGINE.apply(database, declared, None)
    stored = dict(
        rows(
            database,
            "select attname, format_type(atttypid, atttypmod) from pg_attribute "
            "where attrelid = 't'::regclass and attnum > 0 and not attisdropped",
        )
    )
    assert stored[f"c_{type_name}"] == PG_TYPES[type_name]
    back = ENGINE.introspect(database, ["t", "u"], declared)
    assert back.table("t") == table
    assert ENGINE.plan(database, declared, declared).changes == ()
    unhinted = ENGINE.introspect(database, ["u"], None).table("u")
    assert unhinted is not None
    column = unhinted.column(f"d_{type_name}")
    assert column is not None
    assert column.type == LOGICAL_OF[PG_TYPES[type_name]][0]
