"""Typed schema changes: what a plan is made of (schema.md §5).

Each change is a frozen value naming its kind and target; it knows nothing about SQL (engines
render it) nor about safety (diff rules classify it). ``kind`` strings are stable API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .ir import Column, Default, ForeignKey, IdColumn, Index, Table
from .wording import default_text


@dataclass(frozen=True, kw_only=True)
class Change:
    """Base of every change; ``table`` is the table it touches."""

    kind: ClassVar[str] = "change"
    table: str

    @property
    def target(self) -> str:
        """What the change touches, as an operator names it (``posts.title``)."""
        return self.table

    def describe(self) -> str:
        return f"{self.kind.replace('_', ' ')} {self.target}"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "table": self.table, "target": self.target}


@dataclass(frozen=True, kw_only=True)
class CreateTable(Change):
    """Create a table with its columns, primary key and unique constraints (FKs and indexes follow
    as their own changes, so tables that reference each other can be created in any order)."""

    kind: ClassVar[str] = "create_table"
    definition: Table


@dataclass(frozen=True, kw_only=True)
class DropTable(Change):
    kind: ClassVar[str] = "drop_table"


@dataclass(frozen=True, kw_only=True)
class MoveTable(Change):
    """A table declared on another connection than the one it was applied to."""

    kind: ClassVar[str] = "move_table"
    from_connection: str
    to_connection: str

    def describe(self) -> str:
        return f"move table {self.table} from {self.from_connection} to {self.to_connection}"


@dataclass(frozen=True, kw_only=True)
class ColumnChange(Change):
    column: str

    @property
    def target(self) -> str:
        return f"{self.table}.{self.column}"

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "column": self.column}


@dataclass(frozen=True, kw_only=True)
class AddColumn(ColumnChange):
    """``position`` is the column's index in the table's declared order: columns added to one
    table are added in that order, so the database's order follows the YAML's where it can."""

    kind: ClassVar[str] = "add_column"
    definition: Column
    position: int = 0


@dataclass(frozen=True, kw_only=True)
class RenameColumn(ColumnChange):
    """Never planned (renames are not guessed): rendered only as the remedy of a probable
    rename, a drop paired with an add of the same type."""

    kind: ClassVar[str] = "rename_column"
    new_name: str

    def describe(self) -> str:
        return f"rename column {self.target} to {self.new_name}"


@dataclass(frozen=True, kw_only=True)
class RenameTable(Change):
    """Like RenameColumn: only the remedy of a dropped table paired with an equal new one."""

    kind: ClassVar[str] = "rename_table"
    new_name: str

    def describe(self) -> str:
        return f"rename table {self.table} to {self.new_name}"


@dataclass(frozen=True, kw_only=True)
class DropColumn(ColumnChange):
    kind: ClassVar[str] = "drop_column"


@dataclass(frozen=True, kw_only=True)
class AlterColumnType(ColumnChange):
    kind: ClassVar[str] = "alter_column_type"
    from_type: str
    to_type: str

    def describe(self) -> str:
        return f"change type of {self.target} from {self.from_type} to {self.to_type}"


@dataclass(frozen=True, kw_only=True)
class SetNotNull(ColumnChange):
    kind: ClassVar[str] = "set_not_null"


@dataclass(frozen=True, kw_only=True)
class DropNotNull(ColumnChange):
    kind: ClassVar[str] = "drop_not_null"


@dataclass(frozen=True, kw_only=True)
class SetDefault(ColumnChange):
    """Set or change a column default (``default`` is the new one)."""

    kind: ClassVar[str] = "set_default"
    default: Default
    column_type: str
    before: Default | None = None  # what the database has now, so the plan shows old and new

    def describe(self) -> str:
        return (
            f"set default {self.target}: {default_text(self.before)} -> "
            f"{default_text(self.default)}"
        )


@dataclass(frozen=True, kw_only=True)
class DropDefault(ColumnChange):
    kind: ClassVar[str] = "drop_default"
    before: Default | None = None

    def describe(self) -> str:
        return f"drop default {self.target}: {default_text(self.before)} -> none"


@dataclass(frozen=True, kw_only=True)
class AddUnique(ColumnChange):
    kind: ClassVar[str] = "add_unique"
    name: str


@dataclass(frozen=True, kw_only=True)
class DropUnique(ColumnChange):
    kind: ClassVar[str] = "drop_unique"
    name: str


@dataclass(frozen=True, kw_only=True)
class ChangeId(Change):
    """The id column's name, type or generation differs from what exists."""

    kind: ClassVar[str] = "change_id"
    before: IdColumn
    after: IdColumn

    def describe(self) -> str:
        b, a = self.before, self.after
        return (
            f"change id of {self.table} from {b.name} ({b.type}, {b.generate}) to "
            f"{a.name} ({a.type}, {a.generate})"
        )


@dataclass(frozen=True, kw_only=True)
class IndexChange(Change):
    index: Index

    @property
    def target(self) -> str:
        return f"{self.table}.{self.index.name}"


@dataclass(frozen=True, kw_only=True)
class CreateIndex(IndexChange):
    kind: ClassVar[str] = "create_index"


@dataclass(frozen=True, kw_only=True)
class DropIndex(IndexChange):
    kind: ClassVar[str] = "drop_index"


@dataclass(frozen=True, kw_only=True)
class ForeignKeyChange(Change):
    fk: ForeignKey

    @property
    def target(self) -> str:
        return f"{self.table}.{self.fk.column}"


@dataclass(frozen=True, kw_only=True)
class AddForeignKey(ForeignKeyChange):
    kind: ClassVar[str] = "add_foreign_key"


@dataclass(frozen=True, kw_only=True)
class DropForeignKey(ForeignKeyChange):
    kind: ClassVar[str] = "drop_foreign_key"
