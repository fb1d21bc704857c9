"""The engine-neutral schema IR (schema.md §3).

Declared files and introspected databases both become these values, so the diff compares like with
like. Every value is a frozen dataclass; collections are tuples sorted by name, so two schemas that
mean the same are equal and serialise to the same canonical JSON whatever the order of the files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any, Literal

STRING_ID_GENERATORS = ("ulid", "nanoid", "uuid_v4", "uuid_v7")
ID_GENERATORS = (*STRING_ID_GENERATORS, "auto_increment", "client")
REFERENTIAL_ACTIONS = ("restrict", "no_action", "cascade", "set_null", "set_default")

Json = Any


def canonical_json(value: Json) -> bytes:
    """Sorted keys, no insignificant whitespace, UTF-8: the one byte form of a JSON value."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def digest(value: Json) -> str:
    """``sha256:<hex>`` of the canonical JSON of ``value``."""
    return "sha256:" + hashlib.sha256(canonical_json(value)).hexdigest()


def _plain_numbers(value: Json) -> Json:
    """JSON numbers as a JSON database keeps them: ``1e+16`` is the integer it denotes.

    Python writes large floats in exponent form; Postgres's jsonb (like most JSON stores) keeps
    numbers as exact decimals, so ``1e+16`` comes back as ``10000000000000000``. Normalising here
    makes a declared default and the stored one compare equal.
    """
    if isinstance(value, float):
        value += 0.0  # no negative zero in a decimal store
        if "e" in repr(value):
            exact = Decimal(repr(value))
            return int(exact) if exact.as_tuple().exponent >= 0 else value  # type: ignore[operator]
        return value
    if isinstance(value, list):
        return [_plain_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain_numbers(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class ItemType:
    """The element type of an array column; ``items`` is set only for a nested array."""

    type: str
    items: ItemType | None = None

    def to_json(self) -> Json:
        return {"type": self.type, "items": self.items.to_json() if self.items else None}

    @classmethod
    def from_json(cls, data: Json) -> ItemType:
        return cls(data["type"], cls.from_json(data["items"]) if data.get("items") else None)


@dataclass(frozen=True)
class Default:
    """A column default: ``now``, a scalar literal, or a JSON value kept as canonical JSON text."""

    kind: Literal["now", "literal", "json"]
    value: str | int | float | bool | None = None

    @classmethod
    def now(cls) -> Default:
        return cls("now")

    @classmethod
    def json_value(cls, value: Json) -> Default:
        return cls("json", canonical_json(_plain_numbers(value)).decode("utf-8"))

    def to_json(self) -> Json:
        if self.kind == "now":
            return {"now": True}
        if self.kind == "json":
            assert isinstance(self.value, str)
            return {"json": json.loads(self.value)}
        return {"literal": self.value}

    @classmethod
    def from_json(cls, data: Json) -> Default:
        if "now" in data:
            return cls.now()
        if "json" in data:
            return cls.json_value(data["json"])
        return cls("literal", data["literal"])


@dataclass(frozen=True)
class FileSpec:
    """Storage metadata of a ``file`` column, used by the data plane, not by the database."""

    bucket: str
    on_delete: Literal["preserve", "cascade"] = "preserve"

    def to_json(self) -> Json:
        return {"bucket": self.bucket, "onDelete": self.on_delete}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = True
    unique: bool = False
    default: Default | None = None
    items: ItemType | None = None
    file: FileSpec | None = None

    def to_json(self) -> Json:
        return {
            "type": self.type,
            "nullable": self.nullable,
            "unique": self.unique,
            "default": self.default.to_json() if self.default else None,
            "items": self.items.to_json() if self.items else None,
            "file": self.file.to_json() if self.file else None,
        }

    @classmethod
    def from_json(cls, name: str, data: Json) -> Column:
        f = data.get("file")
        return cls(
            name=name,
            type=data["type"],
            nullable=data["nullable"],
            unique=data["unique"],
            default=Default.from_json(data["default"]) if data.get("default") else None,
            items=ItemType.from_json(data["items"]) if data.get("items") else None,
            file=FileSpec(f["bucket"], f["onDelete"]) if f else None,
        )


@dataclass(frozen=True)
class IdColumn:
    """The single primary key column."""

    name: str = "id"
    generate: str = "ulid"
    type: str = "string"

    def to_json(self) -> Json:
        return {"name": self.name, "generate": self.generate, "type": self.type}


@dataclass(frozen=True)
class Index:
    name: str
    columns: tuple[str, ...]
    unique: bool = False

    def to_json(self) -> Json:
        return {"name": self.name, "columns": list(self.columns), "unique": self.unique}


@dataclass(frozen=True)
class ForeignKey:
    """``column`` of the owning table references ``ref_table.ref_column`` (same connection)."""

    name: str
    column: str
    ref_table: str
    ref_column: str
    on_delete: str = "restrict"
    on_update: str = "restrict"
    alias: str | None = None

    def to_json(self) -> Json:
        return {
            "name": self.name,
            "column": self.column,
            "refTable": self.ref_table,
            "refColumn": self.ref_column,
            "onDelete": self.on_delete,
            "onUpdate": self.on_update,
            "as": self.alias,
        }


def _by_name(items: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(sorted(items, key=lambda x: x.name))


@dataclass(frozen=True)
class Table:
    name: str
    id: IdColumn = field(default_factory=IdColumn)
    columns: tuple[Column, ...] = ()
    indexes: tuple[Index, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    # The order the columns were given in (the YAML's, or the database's attnum order): the
    # order tables are created in, as Prisma, Atlas and Django do. Not part of equality or of
    # to_json, so the digest stays sorted and order-free; empty means "as ``columns`` was given".
    column_order: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.column_order:
            object.__setattr__(self, "column_order", tuple(c.name for c in self.columns))
        object.__setattr__(self, "columns", _by_name(self.columns))
        object.__setattr__(self, "indexes", _by_name(self.indexes))
        object.__setattr__(self, "foreign_keys", _by_name(self.foreign_keys))

    @cached_property
    def _columns_by_name(self) -> dict[str, Column]:
        return {c.name: c for c in self.columns}

    @cached_property
    def ordered_columns(self) -> tuple[Column, ...]:
        """The columns in declared order; any ``column_order`` does not name (a ``replace``
        that added columns) follow, by name."""
        rank = {name: i for i, name in enumerate(self.column_order)}
        return tuple(sorted(self.columns, key=lambda c: (rank.get(c.name, len(rank)), c.name)))

    def position(self, column: str) -> int:
        """The column's index in declared order (the id column is not counted)."""
        return next(i for i, c in enumerate(self.ordered_columns) if c.name == column)

    def column(self, name: str) -> Column | None:
        return self._columns_by_name.get(name)

    def to_json(self) -> Json:
        return {
            "id": self.id.to_json(),
            "columns": {c.name: c.to_json() for c in self.columns},
            "indexes": [i.to_json() for i in self.indexes],
            "foreignKeys": [fk.to_json() for fk in self.foreign_keys],
        }

    @classmethod
    def from_json(cls, name: str, data: Json) -> Table:
        return cls(
            name=name,
            id=IdColumn(**data["id"]),
            columns=tuple(Column.from_json(n, c) for n, c in data["columns"].items()),
            indexes=tuple(
                Index(i["name"], tuple(i["columns"]), i["unique"]) for i in data["indexes"]
            ),
            foreign_keys=tuple(
                ForeignKey(
                    fk["name"],
                    fk["column"],
                    fk["refTable"],
                    fk["refColumn"],
                    fk["onDelete"],
                    fk["onUpdate"],
                    fk["as"],
                )
                for fk in data["foreignKeys"]
            ),
        )


@dataclass(frozen=True)
class ConnectionSchema:
    """The tables Santokit manages in one database (one named connection)."""

    name: str
    tables: tuple[Table, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "tables", _by_name(self.tables))

    @cached_property
    def _tables_by_name(self) -> dict[str, Table]:
        return {t.name: t for t in self.tables}

    def table(self, name: str) -> Table | None:
        return self._tables_by_name.get(name)

    @cached_property
    def fingerprint(self) -> str:
        """The digest of this connection's tables (cached: IR values never change)."""
        return digest(self.to_json())

    def to_json(self) -> Json:
        return {"tables": {t.name: t.to_json() for t in self.tables}}

    @classmethod
    def from_json(cls, name: str, data: Json) -> ConnectionSchema:
        return cls(name, tuple(Table.from_json(n, t) for n, t in data["tables"].items()))


@dataclass(frozen=True)
class Schema:
    """A project's declared (or introspected) schema: connections -> tables."""

    connections: tuple[ConnectionSchema, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "connections", _by_name(self.connections))

    def connection(self, name: str) -> ConnectionSchema | None:
        return next((c for c in self.connections if c.name == name), None)

    def tables(self) -> Iterator[tuple[str, Table]]:
        """Every (connection name, table) pair."""
        for conn in self.connections:
            for table in conn.tables:
                yield conn.name, table

    def to_json(self) -> Json:
        return {"connections": {c.name: c.to_json() for c in self.connections}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Schema:
        return cls(tuple(ConnectionSchema.from_json(n, c) for n, c in data["connections"].items()))

    def canonical_json(self) -> bytes:
        return canonical_json(self.to_json())

    def digest(self) -> str:
        return digest(self.to_json())
