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

from . import changes as ch
from .ir import Column, ConnectionSchema, ForeignKey, IdColumn, Index, Table
from .wording import field_diffs


@dataclass(frozen=True)
class DriftItem:
    connection: str
    table: str
    object: str  # table | id | column | index | foreign_key
    name: str
    actual: Any
    applied: Any
    declared: Any
    # What `stk apply --only schema` would run to restore the declaration, and whether it
    # would (a safe repair) or refuses (a blocked change: the operator runs the SQL by hand).
    # Empty / None when the caller did not plan the repair.
    repair_sql: tuple[str, ...] = ()
    repair_safe: bool | None = None

    @property
    def where(self) -> str:
        return self.table if self.object == "table" else f"{self.table}.{self.name}"

    def describe(self) -> str:
        """What happened to the object, in the operator's words (``default: 'draft' -> none``)."""
        what = self.object.replace("_", " ")
        head = f"{self.where} ({what})"
        if self.actual is None:
            return f"{head}: dropped in the database by hand"
        if self.applied is None and self.declared is None:
            return f"{head}: added in the database by hand as {_yaml(self.actual)}"
        if self.applied is None or not isinstance(self.actual, dict):
            return f"{head}: the database has {_yaml(self.actual)}; declared {_yaml(self.declared)}"
        text = f"{head} changed in the database by hand: " + ", ".join(
            field_diffs(self.applied, self.actual)
        )
        if self.declared != self.applied:
            text += f" (the files declare {_yaml(self.declared)})"
        return text

    def ways_out(self, *, schema_step: str = "stk apply --only schema") -> tuple[str, str]:
        """The two ways out for this object: make the files say what the database has, or make
        the database say what the files declare. The second names ``schema_step`` (the caller
        passes it whole, with project, env, ref and ``--dry-run`` if asked, so it works when
        pasted) only for a repair that command really applies; otherwise the SQL to run by hand."""
        what = self.object.replace("_", " ")
        where = self.where
        by_hand = "; ".join(self.repair_sql)
        if self.actual is None:
            yaml = f"remove {what} {where} from schema/*.yaml, then apply"
        elif self.declared is None:
            yaml = f"declare {what} {where} in schema/*.yaml as {_yaml(self.actual)}, then apply"
        else:
            yaml = f"change {what} {where} in schema/*.yaml to {_yaml(self.actual)}, then apply"
        if self.repair_safe and self.actual is None:
            db = f"recreate {what} {where}: {schema_step} (it adds it back), then apply"
        elif self.repair_safe:
            db = f"restore {what} {where}: {schema_step} (it repairs it), then apply"
        elif self.repair_safe is False and by_hand and self.declared is None:
            db = (
                f"drop {what} {where} from the database by hand (its data goes with it), then "
                f"apply: {by_hand}"
            )
        elif self.repair_safe is False and by_hand:
            db = (
                f"restore {what} {where} by hand (stk apply --only schema will not: it is "
                f"blocked), then apply: {by_hand}"
            )
        elif self.actual is None:
            db = f"recreate {what} {where} by hand, then apply"
        elif self.declared is None:
            db = f"drop {what} {where} from the database by hand, then apply"
        else:
            db = (
                f"alter {what} {where} in the database back to {_yaml(self.declared)} by hand, "
                "then apply"
            )
        return yaml, db

    def to_json(self, *, schema_step: str = "stk apply --only schema") -> dict[str, Any]:
        yaml, db = self.ways_out(schema_step=schema_step)
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
            "repair": {"sql": list(self.repair_sql), "safe": self.repair_safe},
        }


def _yaml(state: Any) -> str:
    """A state as the operator writes it in schema/*.yaml (YAML 1.2: true/false, null)."""
    if state is None:
        return "nothing"
    if not isinstance(state, dict):
        return str(state)
    parts = []
    for k, v in state.items():
        if k == "default":
            if v is None:
                continue
            if isinstance(v, dict) and v.get("now"):
                v = "now"
            elif isinstance(v, dict) and "json" in v:
                v = json.dumps(v["json"], separators=(", ", ": "))
            elif isinstance(v, dict):
                v = json.dumps(v.get("literal"))
        elif (k, v) in (("nullable", True), ("unique", False), ("identity", False)):
            continue  # what YAML assumes when it is left out
        elif isinstance(v, bool):
            v = "true" if v else "false"
        elif isinstance(v, list):
            v = "[" + ", ".join(map(str, v)) + "]"
        parts.append(f"{k}: {v}")
    return "{ " + ", ".join(parts) + " }"


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


def change_object(change: ch.Change) -> tuple[str, str] | None:
    """The drift object (kind, name) a plan change touches, as ``DriftItem`` names it."""
    match change:
        case ch.CreateTable() | ch.DropTable():
            return ("table", change.table)
        case ch.ColumnChange():
            return ("column", change.column)
        case ch.IndexChange():
            return ("index", change.index.name)
        case ch.ForeignKeyChange():
            return ("foreign_key", change.fk.column)
        case ch.ChangeId():
            return ("id", change.before.name or "id")
    return None


def is_repair(
    change: ch.Change, declared: ConnectionSchema, previous: ConnectionSchema | None
) -> bool:
    """True when the change restores what this env applied: the files still declare it as
    applied, so the database is what moved (schema.md §7 marks these as drift repairs)."""
    applied = previous.table(change.table) if previous else None
    if applied is None:
        return False
    key = change_object(change)
    if key is None or key[0] == "id":
        return False
    if key[0] == "table":
        return isinstance(change, ch.CreateTable)
    return _objects(applied).get(key) == _objects(declared.table(change.table)).get(key)
