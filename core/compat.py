"""Compatibility of a database with a release's schema: the gate of promote and rollback.

Pointing an env at a release moves no DDL, so the database must already hold what the release
declares (schema.md §7): every table, column (same type, nullability, default), index, unique and
foreign key as declared. It may hold more, as long as writes made under the release still succeed:
extra tables, extra columns that are nullable or have a default, extra non-unique indexes, and
uniques or foreign keys on those extra columns only.
"""

from __future__ import annotations

from .ir import Column, ConnectionSchema, Table


def _col(c: Column) -> str:
    null = "null" if c.nullable else "not null"
    default = f", default {c.default.to_json()}" if c.default else ""
    return f"{c.type} {null}{default}"


def _fk(fk: object) -> tuple[object, ...]:
    return (fk.ref_table, fk.ref_column, fk.on_delete, fk.on_update)  # type: ignore[attr-defined]


def _table(release: Table, actual: Table) -> list[str]:
    out: list[str] = []
    t = release.name
    rid, aid = release.id, actual.id
    if (rid.name, rid.type, rid.generate == "auto_increment") != (
        aid.name,
        aid.type,
        aid.generate == "auto_increment",
    ):
        out.append(
            f"{t}: the id is {aid.name or 'missing'} ({aid.type}) in the database, the "
            f"release declares {rid.name} ({rid.type})"
        )
    declared = {c.name for c in release.columns}
    for col in release.columns:
        have = actual.column(col.name)
        if have is None:
            out.append(f"{t}.{col.name}: missing in the database")
            continue
        if (have.type, have.nullable, have.default) != (col.type, col.nullable, col.default):
            out.append(
                f"{t}.{col.name}: the database has {_col(have)}, the release declares {_col(col)}"
            )
        if col.unique and not have.unique:
            out.append(f"{t}.{col.name}: not unique in the database")
        elif have.unique and not col.unique:
            out.append(
                f"{t}.{col.name}: unique in the database but not in the release (writes "
                "under the release may fail)"
            )
    for col in actual.columns:
        if col.name not in declared and not col.nullable and col.default is None:
            out.append(
                f"{t}.{col.name}: an extra column that is not nullable and has no "
                "default (inserts under the release would fail)"
            )
    have_idx = {i.name: i for i in actual.indexes}
    for idx in release.indexes:
        if have_idx.get(idx.name) != idx:
            out.append(f"{t}: index {idx.name} ({', '.join(idx.columns)}) is missing or differs")
    release_idx = {i.name for i in release.indexes}
    for idx in actual.indexes:
        if (
            idx.name not in release_idx
            and idx.unique
            and set(idx.columns) & (declared | {release.id.name})
        ):
            out.append(f"{t}: unique index {idx.name} on declared columns is not in the release")
    have_fk = {fk.column: fk for fk in actual.foreign_keys}
    for fk in release.foreign_keys:
        if fk.column not in have_fk or _fk(have_fk[fk.column]) != _fk(fk):
            out.append(
                f"{t}.{fk.column}: foreign key to {fk.ref_table}.{fk.ref_column} is "
                "missing or differs"
            )
    release_fk = {fk.column for fk in release.foreign_keys}
    for fk in actual.foreign_keys:
        if fk.column not in release_fk and fk.column in declared | {release.id.name}:
            out.append(f"{t}.{fk.column}: a foreign key the release does not declare")
    return out


def incompatibilities(release: ConnectionSchema, actual: ConnectionSchema) -> list[str]:
    """Why the database (``actual``) cannot serve ``release``; empty when it can."""
    out: list[str] = []
    for table in release.tables:
        have = actual.table(table.name)
        if have is None:
            out.append(f"{table.name}: table missing in the database")
        else:
            out += _table(table, have)
    return out


def after_apply(release: ConnectionSchema, declared: ConnectionSchema) -> list[str]:
    """Why ``release`` could no longer run once ``declared`` is applied; empty when it still can.

    Applying converges every declared table to its declaration and leaves the others alone (no
    drop is ever applied), so only tables declared on the same connection are compared.
    """
    out: list[str] = []
    for table in release.tables:
        after = declared.table(table.name)
        if after is not None:
            out += _table(table, after)
    return out
