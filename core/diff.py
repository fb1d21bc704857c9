"""The diff: what must change so a database holds the declared schema (schema.md §5).

``diff_connection(declared, actual, previous)`` compares IR values only. Ownership comes from
``previous`` (what this env last applied): a table never declared is not Santokit's and is never
touched or reported; a hand-made non-unique index is not Santokit's either. Everything else on a
managed table is (a column added by hand is a change to undo, which the rules block).
"""

from __future__ import annotations

from collections.abc import Iterable

from . import changes as ch
from . import naming
from .ir import Column, ConnectionSchema, ForeignKey, Table


def _fk_semantics(fk: ForeignKey) -> tuple[str, str, str, str, str]:
    return (fk.column, fk.ref_table, fk.ref_column, fk.on_delete, fk.on_update)


def _storage_type(col: Column) -> tuple[str, object]:
    return (col.type, col.items)


def _create_table(table: Table) -> list[ch.Change]:
    out: list[ch.Change] = [ch.CreateTable(table=table.name, definition=table)]
    out += [ch.CreateIndex(table=table.name, index=idx) for idx in table.indexes]
    out += [ch.AddForeignKey(table=table.name, fk=fk) for fk in table.foreign_keys]
    return out


def _diff_columns(d: Table, a: Table, p: Table | None) -> list[ch.Change]:
    out: list[ch.Change] = []
    for col in d.columns:
        have = a.column(col.name)
        if have is None:
            out.append(
                ch.AddColumn(
                    table=d.name, column=col.name, definition=col, position=d.position(col.name)
                )
            )
            if col.unique:
                out.append(
                    ch.AddUnique(
                        table=d.name, column=col.name, name=naming.unique_name(d.name, col.name)
                    )
                )
            continue
        before = p.column(col.name) if p else None
        if _storage_type(have) != _storage_type(col):
            out.append(
                ch.AlterColumnType(
                    table=d.name, column=col.name, from_type=have.type, to_type=col.type
                )
            )
            continue
        if before is not None and _storage_type(before) != _storage_type(col):
            # Same storage (text, jsonb) but another logical type: invisible to the database,
            # not to the data plane.
            out.append(
                ch.AlterColumnType(
                    table=d.name, column=col.name, from_type=before.type, to_type=col.type
                )
            )
            continue
        if have.nullable and not col.nullable:
            out.append(ch.SetNotNull(table=d.name, column=col.name))
        elif not have.nullable and col.nullable:
            out.append(ch.DropNotNull(table=d.name, column=col.name))
        if have.default != col.default:
            if col.default is None:
                out.append(ch.DropDefault(table=d.name, column=col.name, before=have.default))
            else:
                out.append(
                    ch.SetDefault(
                        table=d.name,
                        column=col.name,
                        default=col.default,
                        column_type=col.type,
                        before=have.default,
                    )
                )
        if col.unique and not have.unique:
            out.append(
                ch.AddUnique(
                    table=d.name, column=col.name, name=naming.unique_name(d.name, col.name)
                )
            )
        elif have.unique and not col.unique:
            out.append(
                ch.DropUnique(
                    table=d.name, column=col.name, name=naming.unique_name(d.name, col.name)
                )
            )
    declared = {c.name for c in d.columns}
    out += [ch.DropColumn(table=d.name, column=c.name) for c in a.columns if c.name not in declared]
    return out


def _diff_indexes(d: Table, a: Table, p: Table | None) -> list[ch.Change]:
    out: list[ch.Change] = []
    have = {i.name: i for i in a.indexes}
    ours = {i.name for i in p.indexes} if p else set()
    for idx in d.indexes:
        if idx.name not in have:
            out.append(ch.CreateIndex(table=d.name, index=idx))
        elif have[idx.name] != idx:
            out += [
                ch.DropIndex(table=d.name, index=have[idx.name]),
                ch.CreateIndex(table=d.name, index=idx),
            ]
    declared = {i.name for i in d.indexes}
    for idx in a.indexes:
        if idx.name not in declared and (idx.name in ours or idx.unique):
            out.append(ch.DropIndex(table=d.name, index=idx))
    return out


def _diff_foreign_keys(d: Table, a: Table) -> list[ch.Change]:
    out: list[ch.Change] = []
    have: dict[str, list[ForeignKey]] = {}
    for fk in a.foreign_keys:
        have.setdefault(fk.column, []).append(fk)
    for fk in d.foreign_keys:
        existing = have.pop(fk.column, [])
        same = [x for x in existing if _fk_semantics(x) == _fk_semantics(fk)]
        out += [ch.DropForeignKey(table=d.name, fk=x) for x in existing if x not in same[:1]]
        if not same:
            out.append(ch.AddForeignKey(table=d.name, fk=fk))
    for extra in have.values():
        out += [ch.DropForeignKey(table=d.name, fk=x) for x in extra]
    return out


def _diff_table(d: Table, a: Table, p: Table | None) -> list[ch.Change]:
    if d == a and (p is None or p == d):
        return []  # the common case of a no-op plan, decided by one comparison
    out: list[ch.Change] = []
    before_id = p.id if p else a.id
    storage_differs = (a.id.name, a.id.type, a.id.generate == "auto_increment") != (
        d.id.name,
        d.id.type,
        d.id.generate == "auto_increment",
    )
    if storage_differs:
        out.append(ch.ChangeId(table=d.name, before=a.id, after=d.id))
    elif before_id != d.id:
        out.append(ch.ChangeId(table=d.name, before=before_id, after=d.id))
    out += _diff_columns(d, a, p)
    out += _diff_indexes(d, a, p)
    out += _diff_foreign_keys(d, a)
    return out


_ORDERED: tuple[type[ch.Change], ...] = (
    ch.MoveTable,
    ch.DropTable,
    ch.ChangeId,
    ch.DropForeignKey,
    ch.DropIndex,
    ch.DropUnique,
    ch.DropColumn,
    ch.AlterColumnType,
    ch.CreateTable,
    ch.AddColumn,
    ch.DropNotNull,
    ch.SetNotNull,
    ch.DropDefault,
    ch.SetDefault,
    ch.AddUnique,
    ch.CreateIndex,
    ch.AddForeignKey,
)
_ORDER = {cls.kind: rank for rank, cls in enumerate(_ORDERED)}


def order_changes(changes: Iterable[ch.Change]) -> list[ch.Change]:
    """Execution order: every table exists before any foreign key points at it."""
    return sorted(
        changes,
        key=lambda c: (_ORDER[c.kind], c.table, getattr(c, "position", 0), c.target),
    )


def diff_connection(
    declared: ConnectionSchema,
    actual: ConnectionSchema,
    previous: ConnectionSchema | None = None,
    moved_to: dict[str, str] | None = None,
) -> list[ch.Change]:
    """The ordered changes that turn ``actual`` into ``declared`` for one connection.

    ``actual`` holds what the database has of the tables named in ``declared`` or ``previous``.
    ``moved_to`` maps a previously applied table that is now declared on another connection to
    that connection: it becomes a ``MoveTable`` instead of a drop.
    """
    moved_to = moved_to or {}
    out: list[ch.Change] = []
    for table in declared.tables:
        have = actual.table(table.name)
        before = previous.table(table.name) if previous else None
        out += _create_table(table) if have is None else _diff_table(table, have, before)
    declared_names = {t.name for t in declared.tables}
    owned = {t.name for t in previous.tables} if previous else set()
    for table in actual.tables:
        if table.name in declared_names or table.name not in owned:
            continue
        if table.name in moved_to:
            out.append(
                ch.MoveTable(
                    table=table.name,
                    from_connection=actual.name,
                    to_connection=moved_to[table.name],
                )
            )
        else:
            out.append(ch.DropTable(table=table.name))
    return order_changes(out)
