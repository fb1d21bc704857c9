"""From structurally valid schema files to the IR, with every cross-field rule of schema.md §2.

Rules that look at one node live in the JSON Schema (``core.structure``); the rules here span keys,
tables and files: merging, duplicate tables, the id column, defaults of the column's type,
references, index columns, name collisions and limits. A part that failed structural validation is
skipped here (its problem is already reported), so one mistake is never reported twice.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import naming
from .defaults import normalize_default
from .errors import Finding, YamlPath
from .ir import (
    Column,
    ConnectionSchema,
    FileSpec,
    ForeignKey,
    IdColumn,
    Index,
    ItemType,
    Schema,
    Table,
)
from .yamlsource import YamlDocument

MAX_TABLES_PER_CONNECTION = 500
MAX_COLUMNS_PER_TABLE = 200
MAX_CONNECTIONS = 10


@dataclass
class _TableSource:
    """One declared table, where it came from, and what of it survived structural checks."""

    name: str
    doc: YamlDocument
    path: YamlPath
    data: dict[str, Any]
    connection: str | None
    sound: bool
    broken: set[YamlPath] = field(default_factory=set)
    broken_columns: set[str] = field(default_factory=set)
    broken_indexes: set[int] = field(default_factory=set)
    bad_defaults: set[str] = field(default_factory=set)
    index_at: list[tuple[int, Index]] = field(default_factory=list)
    id_broken: bool = False
    id: IdColumn | None = None
    columns: dict[str, Column] = field(default_factory=dict)

    def at(self, *rel: str | int, message: str, key: bool = False) -> Finding:
        return self.doc.finding((*self.path, *rel), message, key=key)

    def column_type(self, name: str) -> str | None:
        if self.id and name == self.id.name:
            return self.id.type
        col = self.columns.get(name)
        return col.type if col else None

    def has_column(self, name: str) -> bool:
        return (
            bool(self.id and name == self.id.name)
            or name in self.columns
            or (name in self.broken_columns)
        )


@dataclass(frozen=True)
class SchemaSources:
    """Where each declared table lives, so later checks (lint rules) can point at it."""

    tables: dict[str, tuple[YamlDocument, YamlPath]]

    def finding(self, table: str, rel: YamlPath, message: str, **kw: Any) -> Finding:
        doc, path = self.tables[table]
        return doc.finding((*path, *rel), message, key=not rel, **kw)


def _suggest(name: str, options: Iterable[str]) -> str:
    hint = difflib.get_close_matches(name, list(options), n=1)
    return f"; did you mean {hint[0]!r}?" if hint else ""


def _under(path: YamlPath, broken: set[YamlPath]) -> bool:
    """True when ``path`` or anything below it has a structural finding."""
    return bool(broken) and any(b[: len(path)] == path for b in broken)


def _item_type(data: Any) -> ItemType:
    if isinstance(data, str):
        return ItemType(data)
    return ItemType("array", _item_type(data["items"]))


class _Builder:
    def __init__(self, docs: Sequence[tuple[YamlDocument, set[YamlPath]]]) -> None:
        self.docs = docs
        self.findings: list[Finding] = []
        self.tables: dict[str, _TableSource] = {}

    # -- collection -------------------------------------------------------------------------
    def collect(self) -> None:
        for doc, broken in self.docs:
            tables = doc.data.get("tables")
            if not isinstance(tables, dict):
                continue
            for name, data in tables.items():
                path: YamlPath = ("tables", name)
                if name in self.tables:
                    first = self.tables[name]
                    line = first.doc.mark(first.path, key=True).line
                    self.findings.append(
                        doc.finding(
                            path,
                            f"table {name!r} is already declared in {first.doc.file} "
                            f"(line {line}); table names are unique across all schema files",
                            key=True,
                        )
                    )
                    continue
                if not isinstance(data, dict):
                    data = {}
                conn = data.get("connection")
                conn_ok = isinstance(conn, str) and not _under((*path, "connection"), broken)
                # A table is checked as far as its structure allows; without a valid connection
                # it is left out of the IR and of cross-connection checks only.
                sound = (
                    path not in broken
                    and (*path, "columns") not in broken
                    and (*path, "id") not in broken
                )
                src = _TableSource(
                    name, doc, path, data, conn if conn_ok else None, sound=sound, broken=broken
                )
                cols = c if isinstance(c := data.get("columns"), dict) else {}
                src.broken_columns = {c for c in cols if _under((*path, "columns", c), broken)}
                idx = i if isinstance(i := data.get("indexes"), list) else []
                src.broken_indexes = {
                    i for i in range(len(idx)) if _under((*path, "indexes", i), broken)
                }
                self.tables[name] = src

    # -- per table ----------------------------------------------------------------------------
    def table_columns(self, src: _TableSource) -> None:
        # A broken part of `id` is already reported: fall back to its default so that the
        # columns can still be checked against the rest.
        idd = src.data.get("id") or {}
        ok = {k: v for k, v in idd.items() if not _under((*src.path, "id", k), src.broken)}
        generate = ok.get("generate", "ulid")
        default_type = "bigint" if generate == "auto_increment" else "string"
        id_type = ok.get("type", default_type) if "type" in ok else default_type
        src.id = IdColumn(ok.get("name", "id"), generate, id_type)
        src.id_broken = len(ok) != len(idd)
        for name, col in (src.data.get("columns") or {}).items():
            if name in src.broken_columns:
                continue
            if name == src.id.name:
                self.findings.append(
                    src.at(
                        "columns",
                        name,
                        key=True,
                        message=(
                            f"{name!r} is the table's id column; declare it under 'id', not under "
                            "'columns'"
                        ),
                    )
                )
                continue
            items = _item_type(col["items"]) if "items" in col else None
            written = src.doc.float_text.get((*src.path, "columns", name, "default"))
            try:
                default = normalize_default(col["type"], items, col.get("default"), written=written)
            except ValueError as exc:
                self.findings.append(src.at("columns", name, "default", message=str(exc)))
                src.bad_defaults.add(name)
                default = None
            file = (
                FileSpec(col["bucket"], col.get("onDelete", "preserve"))
                if col["type"] == "file"
                else None
            )
            src.columns[name] = Column(
                name=name,
                type=col["type"],
                nullable=col.get("nullable", True),
                unique=col.get("unique", False),
                default=default,
                items=items,
                file=file,
            )
        total = len(src.columns) + len(src.broken_columns) + 1
        if total > MAX_COLUMNS_PER_TABLE:
            self.findings.append(
                src.at(
                    "columns",
                    key=True,
                    message=(
                        f"table {src.name!r} has {total} columns (with its id); at most "
                        f"{MAX_COLUMNS_PER_TABLE} are allowed"
                    ),
                )
            )

    def foreign_keys(self, src: _TableSource) -> list[ForeignKey]:
        out: list[ForeignKey] = []
        aliases: dict[str, str] = {}
        for name, col in (src.data.get("columns") or {}).items():
            ref = col.get("references") if name in src.columns else None
            if not ref:
                continue
            at = ("columns", name, "references")
            target = self.tables.get(ref["table"])
            if target is None:
                self.findings.append(
                    src.at(
                        *at,
                        "table",
                        message=(
                            f"references unknown table {ref['table']!r}"
                            + _suggest(ref["table"], self.tables)
                        ),
                    )
                )
                continue
            if target.connection and src.connection and target.connection != src.connection:
                self.findings.append(
                    src.at(
                        *at,
                        "table",
                        message=(
                            f"table {target.name!r} is on connection {target.connection!r} but "
                            f"{src.name!r} is on {src.connection!r}; a reference must stay "
                            "within one connection (database)"
                        ),
                    )
                )
                continue
            if not target.sound or target.id is None:
                continue
            ref_col = ref.get("column", target.id.name)
            if ref_col == target.id.name and target.id_broken:
                continue  # the target's id is already reported
            if ref_col != target.id.name:
                tcol = target.columns.get(ref_col)
                if tcol is None:
                    if ref_col not in target.broken_columns:
                        self.findings.append(
                            src.at(
                                *at,
                                "column",
                                message=(
                                    f"table {target.name!r} has no column {ref_col!r}"
                                    + _suggest(ref_col, [target.id.name, *target.columns])
                                ),
                            )
                        )
                    continue
                if not tcol.unique:
                    self.findings.append(
                        src.at(
                            *at,
                            "column",
                            message=(
                                f"{target.name}.{ref_col} is neither the id nor a unique column; a "
                                "reference must point at one (add unique: true to it)"
                            ),
                        )
                    )
                    continue
            mine, theirs = src.columns[name].type, target.column_type(ref_col)
            if mine != theirs:
                self.findings.append(
                    src.at(
                        "columns",
                        name,
                        "type",
                        message=(
                            f"{src.name}.{name} is {mine} but references "
                            f"{target.name}.{ref_col}, which is {theirs}; the types must be equal"
                        ),
                    )
                )
                continue
            ok = True
            for action_key in ("onDelete", "onUpdate"):
                action = ref.get(action_key, "restrict")
                if action == "set_null" and not src.columns[name].nullable:
                    ok = False
                    self.findings.append(
                        src.at(
                            *at,
                            action_key,
                            message=(
                                f"{action_key} set_null needs a nullable column, but {name} has "
                                "nullable: false"
                            ),
                        )
                    )
                if (
                    action == "set_default"
                    and src.columns[name].default is None
                    and name not in src.bad_defaults
                ):
                    ok = False
                    self.findings.append(
                        src.at(
                            *at,
                            action_key,
                            message=(f"{action_key} set_default needs a default on {name}"),
                        )
                    )
            alias = ref.get("as")
            if alias is not None:
                if alias in aliases:
                    ok = False
                    self.findings.append(
                        src.at(
                            *at,
                            "as",
                            message=(
                                f"relation name {alias!r} is already used by column "
                                f"{aliases[alias]!r}"
                            ),
                        )
                    )
                aliases[alias] = name
            if ok:
                out.append(
                    ForeignKey(
                        naming.foreign_key_name(src.name, name),
                        name,
                        target.name,
                        ref_col,
                        ref.get("onDelete", "restrict"),
                        ref.get("onUpdate", "restrict"),
                        alias,
                    )
                )
        return out

    def indexes(self, src: _TableSource) -> list[Index]:
        out: list[Index] = []
        seen: dict[tuple[str, ...], int] = {}
        for i, idx in enumerate(src.data.get("indexes") or []):
            if i in src.broken_indexes:
                continue
            cols = tuple(idx["columns"])
            unknown = [c for c in cols if not src.has_column(c)]
            for c in unknown:
                pos = cols.index(c)
                self.findings.append(
                    src.at(
                        "indexes",
                        i,
                        "columns",
                        pos,
                        message=(
                            f"table {src.name!r} has no column {c!r}"
                            + _suggest(c, [src.id.name if src.id else "id", *src.columns])
                        ),
                    )
                )
            if cols in seen:
                self.findings.append(
                    src.at(
                        "indexes",
                        i,
                        "columns",
                        message=(f"indexes[{seen[cols]}] already indexes the same columns"),
                    )
                )
                continue
            seen[cols] = i
            if unknown:
                continue
            unique = idx.get("unique", False)
            name = idx.get("name") or naming.index_name(src.name, cols, unique=unique)
            out.append(Index(name, cols, unique))
            src.index_at.append((i, out[-1]))
        return out

    # -- across tables ------------------------------------------------------------------------
    def relation_names(self, conn: str, tables: list[tuple[_TableSource, Table]]) -> None:
        """PostgreSQL keeps tables and indexes (pkey and unique ones too) in one namespace."""
        owners: dict[str, tuple[str, object]] = {}

        def claim(name: str, what: str, owner: object, src: _TableSource, rel: YamlPath) -> None:
            if name in owners and owners[name][1] != owner:
                self.findings.append(
                    src.at(
                        *rel,
                        key=not rel,
                        message=(
                            f"the {what} would be named {name!r}, which is already the name of the "
                            f"{owners[name][0]} on connection {conn!r}; name one of them explicitly"
                        ),
                    )
                )
            owners.setdefault(name, (what, owner))

        for src, table in tables:
            claim(table.name, f"table {table.name!r}", ("table", table.name), src, ())
        for src, table in tables:
            claim(
                naming.primary_key_name(table.name),
                f"primary key of {table.name!r}",
                ("pkey", table.name),
                src,
                (),
            )
            for col in table.columns:
                if col.unique:
                    claim(
                        naming.unique_name(table.name, col.name),
                        f"unique constraint of {table.name}.{col.name}",
                        ("unique", table.name, col.name),
                        src,
                        ("columns", col.name, "unique"),
                    )
            for i, idx in src.index_at:
                claim(
                    idx.name,
                    f"index {idx.name!r} of {table.name!r}",
                    ("index", table.name, i),
                    src,
                    ("indexes", i),
                )

    def build(self) -> Schema:
        self.collect()
        built: dict[str, list[tuple[_TableSource, Table]]] = {}
        sound = [s for s in self.tables.values() if s.sound]
        for src in sound:
            self.table_columns(src)
        for src in sound:
            assert src.id is not None
            table = Table(
                src.name,
                src.id,
                tuple(src.columns.values()),
                tuple(self.indexes(src)),
                tuple(self.foreign_keys(src)),
            )
            if src.connection is not None:
                built.setdefault(src.connection, []).append((src, table))
        for conn, tables in sorted(built.items()):
            self.relation_names(conn, tables)
            if len(tables) > MAX_TABLES_PER_CONNECTION:
                src = tables[MAX_TABLES_PER_CONNECTION][0]
                self.findings.append(
                    src.at(
                        "connection",
                        message=(
                            f"connection {conn!r} has {len(tables)} tables; at most "
                            f"{MAX_TABLES_PER_CONNECTION} are allowed per connection"
                        ),
                    )
                )
        if len(built) > MAX_CONNECTIONS:
            conn = sorted(built)[MAX_CONNECTIONS]
            src = built[conn][0][0]
            self.findings.append(
                src.at(
                    "connection",
                    message=(
                        f"the schema uses {len(built)} connections; at most {MAX_CONNECTIONS} are "
                        "allowed per project"
                    ),
                )
            )
        return Schema(
            tuple(
                ConnectionSchema(conn, tuple(t for _, t in tables))
                for conn, tables in built.items()
            )
        )


def build_schema(
    docs: Sequence[tuple[YamlDocument, set[YamlPath]]],
) -> tuple[Schema, list[Finding], SchemaSources]:
    """Check the cross-field rules of the given documents and build the IR.

    ``docs`` pairs each structurally parsed file with the paths that already have a structural
    finding. The returned schema holds the tables that passed; it is only meaningful when the
    returned findings (together with the structural ones) hold no error.
    """
    builder = _Builder(docs)
    schema = builder.build()
    sources = SchemaSources({n: (s.doc, s.path) for n, s in builder.tables.items()})
    return schema, builder.findings, sources
