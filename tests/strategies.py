"""Hypothesis strategies for valid declared schemas, and their rendering back to YAML files.

Schemas are generated as IR values that satisfy every rule of schema.md §2 by construction; the
renderer writes them as an operator would (any key order, tables spread over any files).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import yaml
from hypothesis import strategies as st

from santokit.core import naming
from santokit.core.identifiers import identifier_problem
from santokit.core.ir import (
    STRING_ID_GENERATORS,
    Column,
    ConnectionSchema,
    Default,
    FileSpec,
    ForeignKey,
    IdColumn,
    Index,
    ItemType,
    Schema,
    Table,
)
from santokit.core.logical import LOGICAL_TYPES, SCALAR_ITEM_TYPES
from santokit.core.yamlsource import core_schema_tag

names = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True).filter(
    lambda n: identifier_problem(n) is None
)
# Table and column names without '_' keep derived constraint names (<table>_<cols>_key) from
# colliding by accident; collisions have their own validation test.
plain_names = st.from_regex(r"[a-z][a-z0-9]{0,9}", fullmatch=True).filter(
    lambda n: identifier_problem(n) is None
)
text = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=12)
json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | text
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)

iso_moments = st.datetimes(timezones=st.just(UTC), min_value=datetime(1970, 1, 2)).map(
    lambda d: d.isoformat().replace("+00:00", "Z")
)


def item_types(depth: int = 0) -> st.SearchStrategy[ItemType]:
    scalar = st.sampled_from(SCALAR_ITEM_TYPES).map(ItemType)
    if depth >= 2:
        return scalar
    return scalar | item_types(depth + 1).map(lambda inner: ItemType("array", inner))


def item_values(item: ItemType) -> st.SearchStrategy[Any]:
    match item.type:
        case "array":
            assert item.items is not None
            return st.lists(item_values(item.items), max_size=3)
        case "int" | "bigint":
            return st.integers(-1000, 1000)
        case "float":
            return st.floats(allow_nan=False, allow_infinity=False, width=32)
        case "decimal":
            return st.decimals(places=2, allow_nan=False, allow_infinity=False).map(str)
        case "boolean":
            return st.booleans()
        case "json":
            return json_values
        case "timestamp":
            return iso_moments
        case "bytes":
            return st.binary(max_size=8).map(lambda b: base64.b64encode(b).decode())
        case _:
            return text


def defaults(type_name: str, items: ItemType | None) -> st.SearchStrategy[Default | None]:
    """Defaults in the canonical form the loader produces."""
    literal: st.SearchStrategy[Any]
    match type_name:
        case "timestamp":
            return (
                st.none()
                | st.just(Default.now())
                | iso_moments.map(lambda v: Default("literal", v))
            )
        case "string" | "file":
            literal = text
        case "int":
            literal = st.integers(-(2**31), 2**31 - 1)
        case "bigint":
            literal = st.integers(-(2**63), 2**63 - 1).map(str)  # bigint's JSON form
        case "float":
            literal = st.floats(allow_nan=False, allow_infinity=False).map(lambda f: f + 0.0)
        case "decimal":
            literal = st.decimals(allow_nan=False, allow_infinity=False, places=3).map(
                lambda d: str(d.copy_abs() if d.is_zero() else d)
            )
        case "boolean":
            literal = st.booleans()
        case "bytes":
            literal = st.binary(max_size=8).map(lambda b: base64.b64encode(b).decode())
        case "json":
            return st.none() | json_values.filter(lambda v: v is not None).map(Default.json_value)
        case "array":
            assert items is not None
            return st.none() | st.lists(item_values(items), max_size=3).map(Default.json_value)
    return st.none() | literal.map(lambda v: Default("literal", v))


@st.composite
def columns(draw: st.DrawFn, name: str) -> Column:
    type_name = draw(st.sampled_from(LOGICAL_TYPES))
    items = draw(item_types()) if type_name == "array" else None
    file = (
        FileSpec(draw(names), draw(st.sampled_from(["preserve", "cascade"])))
        if type_name == "file"
        else None
    )
    return Column(
        name=name,
        type=type_name,
        nullable=draw(st.booleans()),
        unique=draw(st.booleans()) and type_name not in ("json", "array"),
        default=draw(defaults(type_name, items)),
        items=items,
        file=file,
    )


@st.composite
def id_columns(draw: st.DrawFn) -> IdColumn:
    generate = draw(st.sampled_from([*STRING_ID_GENERATORS, "auto_increment", "client"]))
    if generate == "auto_increment":
        type_name = "bigint"
    elif generate == "client":
        type_name = draw(st.sampled_from(["string", "bigint"]))
    else:
        type_name = "string"
    return IdColumn(draw(st.sampled_from(["id", "uid", "keyid"])), generate, type_name)


@st.composite
def connection_schemas(draw: st.DrawFn, conn: str, table_names: list[str]) -> ConnectionSchema:
    tables: list[Table] = []
    for tname in table_names:
        ident = draw(id_columns())
        col_names = draw(
            st.lists(plain_names.filter(lambda n, i=ident: n != i.name), max_size=5, unique=True)
        )
        cols = [draw(columns(c)) for c in col_names]
        tables.append(Table(tname, ident, tuple(cols)))
    # Foreign keys between tables of this connection: to the id or a unique column of equal type.
    out: list[Table] = []
    for table in tables:
        fks: list[ForeignKey] = []
        aliases: set[str] = set()
        for col in table.columns:
            targets = [(t.name, t.id.name) for t in tables if t.id.type == col.type] + [
                (t.name, c.name)
                for t in tables
                for c in t.columns
                if c.unique and c.type == col.type
            ]
            if col.type in ("array", "json") or not targets or not draw(st.booleans()):
                continue
            ref_table, ref_col = draw(st.sampled_from(targets))
            actions = ["restrict", "no_action", "cascade"]
            if col.nullable:
                actions.append("set_null")
            if col.default is not None:
                actions.append("set_default")
            taken = frozenset(aliases)
            alias = draw(st.none() | names.filter(lambda n, taken=taken: n not in taken))
            if alias:
                aliases.add(alias)
            fks.append(
                ForeignKey(
                    naming.foreign_key_name(table.name, col.name),
                    col.name,
                    ref_table,
                    ref_col,
                    draw(st.sampled_from(actions)),
                    draw(st.sampled_from(actions)),
                    alias,
                )
            )
        all_cols = [table.id.name, *(c.name for c in table.columns)]
        index_lists = draw(
            st.lists(
                st.lists(st.sampled_from(all_cols), min_size=1, max_size=3, unique=True).map(tuple),
                max_size=3,
                unique=True,
            )
        )
        indexes = []
        for cols in index_lists:
            unique = draw(st.booleans())
            explicit = draw(st.booleans())
            name = (
                f"{table.name}_ix{len(indexes)}"
                if explicit
                else naming.index_name(table.name, cols, unique=unique)
            )
            indexes.append(Index(name, cols, unique))
        out.append(Table(table.name, table.id, table.columns, tuple(indexes), tuple(fks)))
    return ConnectionSchema(conn, tuple(out))


@st.composite
def schemas(draw: st.DrawFn) -> Schema:
    conns = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    all_tables = draw(st.lists(plain_names, min_size=len(conns), max_size=8, unique=True))
    groups: dict[str, list[str]] = {c: [] for c in conns}
    for i, t in enumerate(all_tables):
        groups[conns[i] if i < len(conns) else draw(st.sampled_from(conns))].append(t)
    return Schema(tuple(draw(connection_schemas(c, ts)) for c, ts in groups.items()))


# -- rendering back to files ------------------------------------------------------------------


def _item_yaml(item: ItemType) -> Any:
    return {"type": "array", "items": _item_yaml(item.items)} if item.items else item.type


def _default_yaml(default: Default) -> Any:
    if default.kind == "now":
        return "now"
    if default.kind == "json":
        return default.to_json()["json"]
    return default.value


def table_yaml(conn: str, table: Table) -> dict[str, Any]:
    """The file form of one table, written the long way (every key present)."""
    cols: dict[str, Any] = {}
    fks = {fk.column: fk for fk in table.foreign_keys}
    for col in table.ordered_columns:
        data: dict[str, Any] = {"type": col.type, "nullable": col.nullable, "unique": col.unique}
        if col.default is not None:
            data["default"] = _default_yaml(col.default)
        if col.items:
            data["items"] = _item_yaml(col.items)
        if col.file:
            data["bucket"] = col.file.bucket
            data["onDelete"] = col.file.on_delete
        if col.name in fks:
            fk = fks[col.name]
            ref: dict[str, Any] = {
                "table": fk.ref_table,
                "column": fk.ref_column,
                "onDelete": fk.on_delete,
                "onUpdate": fk.on_update,
            }
            if fk.alias:
                ref["as"] = fk.alias
            data["references"] = ref
        cols[col.name] = data
    indexes = []
    for idx in table.indexes:
        entry: dict[str, Any] = {"columns": list(idx.columns), "unique": idx.unique}
        if idx.name != naming.index_name(table.name, idx.columns, unique=idx.unique):
            entry["name"] = idx.name
        indexes.append(entry)
    return {
        "connection": conn,
        "id": {"name": table.id.name, "generate": table.id.generate, "type": table.id.type},
        "columns": cols,
        "indexes": indexes,
    }


def shuffled(draw: st.DrawFn, value: Any) -> Any:
    """The same value with every mapping's keys in a drawn order."""
    if isinstance(value, dict):
        keys = draw(st.permutations(list(value)))
        return {k: shuffled(draw, value[k]) for k in keys}
    if isinstance(value, list):
        return [shuffled(draw, v) for v in value]
    return value


class Yaml12Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, quoting every string Santokit's YAML 1.2 reader would take for
    another type: PyYAML follows YAML 1.1 and writes ``0E0`` or ``1e5`` plain, which YAML 1.2
    reads as floats. Strings YAML 1.1 would misread (``yes``) stay quoted as before."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            tag = core_schema_tag(value, True)
            if tag != "tag:yaml.org,2002:str":
                return tag
        return super().resolve(kind, value, implicit)


def dump_yaml(doc: Any, *, flow: bool | None = False) -> bytes:
    """``doc`` as YAML text that Santokit reads back to the same values."""
    text = yaml.dump(
        doc, Dumper=Yaml12Dumper, sort_keys=False, allow_unicode=True, default_flow_style=flow
    )
    return text.encode("utf-8")


def schema_file(schema: Schema) -> dict[str, bytes]:
    """``schema`` as one file, keys in the renderer's order: the deterministic form."""
    tables = {table.name: table_yaml(conn, table) for conn, table in schema.tables()}
    return {"schema/all.yaml": dump_yaml({"version": 1, "tables": tables})}


@st.composite
def files_for(draw: st.DrawFn, schema: Schema) -> dict[str, bytes]:
    """``schema`` spread over 1-4 files, keys in any order; index lists keep their meaning."""
    n_files = draw(st.integers(1, 4))
    files: dict[int, dict[str, Any]] = {}
    for conn, table in schema.tables():
        slot = draw(st.integers(0, n_files - 1))
        files.setdefault(slot, {})[table.name] = table_yaml(conn, table)
    out = {}
    for slot, tables in files.items():
        doc = shuffled(draw, {"version": 1, "tables": tables})
        style = draw(st.sampled_from([False, None]))
        out[f"schema/part{slot}.yaml"] = dump_yaml(doc, flow=style)
    return out
