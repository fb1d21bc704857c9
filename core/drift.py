"""Drift: what someone changed in the database by hand (schema.md §7).

An object is drifted when the live database (*actual*) differs from what this env last applied
(*applied*) and also from what the files now declare (*declared*): if the operator already wrote
the change into the files, it is not drift. Only tables that were applied are looked at.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .ir import Column, ConnectionSchema, ForeignKey, IdColumn, Index, Table


@dataclass(frozen=True)
class DriftItem:
    connection: str
    table: str
    object: str  # table | id | column | index | foreign_key
    name: str
    actual: Any
    applied: Any
    declared: Any

    def describe(self) -> str:
        where = self.table if self.object == "table" else f"{self.table}.{self.name}"
        return (
            f"{where} ({self.object.replace('_', ' ')}): database has {_show(self.actual)}; "
            f"applied {_show(self.applied)}; declared {_show(self.declared)}"
        )

    def ways_out(self) -> tuple[str, str]:
        """The two ways out for this object: make the files say what the database has, or make
        the database say what the files declare."""
        what = self.object.replace("_", " ")
        where = self.table if self.object == "table" else f"{self.table}.{self.name}"
        if self.actual is None:
            yaml = f"remove {what} {where} from schema/*.yaml, then apply"
            db = f"recreate {what} {where} (stk apply --only schema adds it back), then apply"
        elif self.declared is None:
            yaml = f"declare {what} {where} in schema/*.yaml as {_show(self.actual)}, then apply"
            db = f"drop {what} {where} from the database by hand, then apply"
        else:
            yaml = f"change {what} {where} in schema/*.yaml to {_show(self.actual)}, then apply"
            db = (
                f"alter {what} {where} in the database back to {_show(self.declared)} by hand, "
                "then apply"
            )
        return yaml, db

    def to_json(self) -> dict[str, Any]:
        yaml, db = self.ways_out()
        return {
            "connection": self.connection,
            "table": self.table,
            "object": self.object,
            "name": self.name,
            "actual": self.actual,
            "applied": self.applied,
            "declared": self.declared,
            "description": self.describe(),
            "waysOut": {"changeYaml": yaml, "restoreDatabase": db},
        }


def _show(state: Any) -> str:
    if state is None:
        return "nothing"
    if isinstance(state, dict):
        # YAML spelling (true, null) since the operator copies it into schema/*.yaml
        return ", ".join(
            f"{k}={json.dumps(v) if v is None or isinstance(v, bool) else v}"
            for k, v in state.items()
        )
    return str(state)


def _id(i: IdColumn) -> dict[str, Any]:
    return {"name": i.name, "type": i.type, "identity": i.generate == "auto_increment"}


def _col(c: Column | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "type": c.type,
        "nullable": c.nullable,
        "unique": c.unique,
        "default": c.default.to_json() if c.default else None,
    }


def _idx(i: Index | None) -> dict[str, Any] | None:
    return None if i is None else {"columns": list(i.columns), "unique": i.unique}


def _fk(fk: ForeignKey | None) -> dict[str, Any] | None:
    if fk is None:
        return None
    return {
        "references": f"{fk.ref_table}.{fk.ref_column}",
        "onDelete": fk.on_delete,
        "onUpdate": fk.on_update,
    }


def _objects(table: Table | None) -> dict[tuple[str, str], Any]:
    if table is None:
        return {}
    out: dict[tuple[str, str], Any] = {("id", table.id.name or "id"): _id(table.id)}
    out |= {("column", c.name): _col(c) for c in table.columns}
    out |= {("index", i.name): _idx(i) for i in table.indexes}
    out |= {("foreign_key", fk.column): _fk(fk) for fk in table.foreign_keys}
    return out


def _table_drift(
    conn: str, name: str, actual: Table | None, applied: Table, declared: Table | None
) -> Iterator[DriftItem]:
    if actual is None:
        if declared is not None:
            yield DriftItem(conn, name, "table", name, None, "exists", "exists")
        return
    a, p, d = _objects(actual), _objects(applied), _objects(declared)
    for key in sorted(a.keys() | p.keys() | d.keys()):
        kind, obj = key
        av, pv, dv = a.get(key), p.get(key), d.get(key)
        if kind == "index" and pv is None and dv is None and av and not av["unique"]:
            continue  # a hand-made non-unique index is not Santokit's
        if kind == "id":
            # the id is matched by role, not name: compare the tables' ids directly
            av, pv = _id(actual.id), _id(applied.id)
            dv = _id(declared.id) if declared else None
            if key != ("id", applied.id.name or "id"):
                continue
        if av != pv and av != dv:
            yield DriftItem(conn, name, kind, obj, av, pv, dv)


def drift_items(
    applied: ConnectionSchema, actual: ConnectionSchema, declared: ConnectionSchema
) -> list[DriftItem]:
    """Every drifted object of the applied tables of one connection."""
    out: list[DriftItem] = []
    for table in applied.tables:
        out += _table_drift(
            applied.name, table.name, actual.table(table.name), table, declared.table(table.name)
        )
    return out
