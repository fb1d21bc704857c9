"""Compatibility of a database with a release's schema: the gate of promote and rollback.

Pointing an env at a release moves no DDL, so the database must already hold what the release
declares (schema.md §7): every table, column (same type, nullability, default), index, unique and
foreign key as declared. It may hold more, as long as writes made under the release still succeed:
extra tables, extra columns that are nullable or have a default, extra non-unique indexes, and
uniques or foreign keys on those extra columns only.
"""

from __future__ import annotations

from .ir import Column, ConnectionSchema, ForeignKey, Table
from .wording import default_text


def _col(c: Column) -> dict[str, str]:
    return {
        "type": c.type,
        "nullable": "yes" if c.nullable else "no",
        "default": default_text(c.default),
    }


# The two sides compared: what the release declares, and the database (as it is, or as it would
# be once a schema is applied).
Sides = tuple[str, str]
NOW: Sides = ("declared", "database")
AFTER_APPLY: Sides = ("the release", "after this apply")


def _col_diff(release: Column, actual: Column, sides: Sides) -> str:
    """``default: 'draft' -> none, nullable: no -> yes (declared -> database)``."""
    r, a = _col(release), _col(actual)
    diffs = [f"{k}: {r[k]} -> {a[k]}" for k in r if r[k] != a[k]]
    return ", ".join(diffs) + f" ({sides[0]} -> {sides[1]})"


def _fk(fk: ForeignKey) -> dict[str, str]:
    return {
        "references": f"{fk.ref_table}.{fk.ref_column}",
        "onDelete": fk.on_delete,
        "onUpdate": fk.on_update,
    }


def _fk_diff(release: ForeignKey, actual: ForeignKey, sides: Sides) -> str:
    """``onDelete: no_action (database) vs restrict (declared)``: the field that differs."""
    r, a = _fk(release), _fk(actual)
    return ", ".join(f"{k}: {a[k]} ({sides[1]}) vs {r[k]} ({sides[0]})" for k in r if r[k] != a[k])


def _table(release: Table, actual: Table, sides: Sides = NOW) -> list[str]:
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
            out.append(f"{t}.{col.name}: {_col_diff(col, have, sides)}")
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
        got = have_idx.get(idx.name)
        if got is None:
            out.append(f"{t}: index {idx.name} ({', '.join(idx.columns)}) missing in the database")
        elif got != idx:
            diffs = []
            if got.columns != idx.columns:
                diffs.append(f"columns: [{', '.join(idx.columns)}] -> [{', '.join(got.columns)}]")
            if got.unique != idx.unique:
                diffs.append(
                    f"unique: {'yes' if idx.unique else 'no'} -> {'yes' if got.unique else 'no'}"
                )
            out.append(f"{t}: index {idx.name}: {', '.join(diffs)} ({sides[0]} -> {sides[1]})")
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
        got_fk = have_fk.get(fk.column)
        if got_fk is None:
            out.append(
                f"{t}.{fk.column}: foreign key to {fk.ref_table}.{fk.ref_column} missing in "
                "the database"
            )
        elif _fk(got_fk) != _fk(fk):
            out.append(
                f"{t}.{fk.column}: foreign key to {fk.ref_table}.{fk.ref_column}: "
                f"{_fk_diff(fk, got_fk, sides)}"
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
            out += _table(table, after, AFTER_APPLY)
    return out
